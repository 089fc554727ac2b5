// The operator page's script. It holds no data of its own: everything comes from the
// worker's JSON API, called with the caller token the person typed in, which is kept
// in this tab's sessionStorage only and sent only as `Authorization: Bearer`.
// Everything from the API is written with textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "bloomreach-import-trigger.token";
const PAGE_SIZE = 20;
const CHART_DAYS = 7;

const $ = (id) => document.getElementById(id);
// `formKey` is the Idempotency-Key of the request in `formRequestText`.
const state = { token: null, ledger: true, cursor: null, filters: {}, formKey: null, formRequestText: null, starting: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// A refusal of the token: shown, and nothing else.
class Refused extends Error {}

async function api(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { authorization: `Bearer ${state.token}`, ...headers }, cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const res = await fetch(path, init);
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  if (res.status === 401) throw new Refused();
  return { status: res.status, json, headers: res.headers };
}

function ledgerMissing(answer) {
  return answer.status === 500 && answer.json?.error?.code === "misconfigured" && /START_LEDGER/.test(answer.json.error.message);
}

function outcomeClass(outcome) {
  if (!outcome) return "none";
  if (outcome === "ok" || outcome === "in_progress" || outcome === "skipped") return outcome;
  return "failed";
}

function badge(outcome) {
  return el("span", { class: `badge ${outcomeClass(outcome)}`, text: outcome ? outcome.replace("_", " ") : "never run" });
}

function localTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// --- the token -------------------------------------------------------------------

function showRefused() {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("signed-in").hidden = true;
  $("ledger-note").hidden = true;
  for (const id of ["schedules", "starts", "start-result", "chart"]) $(id).replaceChildren();
  $("chart-figure").hidden = true;
  const status = $("token-status");
  status.className = "refused";
  status.textContent = "The caller token was refused.";
  $("token").focus();
}

async function signIn(token) {
  state.token = token;
  const status = $("token-status");
  status.className = "";
  status.textContent = "Checking the token…";
  try {
    await Promise.all([loadSchedules(), loadStarts({ reset: true }), loadChart().catch(hideChart)]);
  } catch (error) {
    if (error instanceof Refused) return showRefused();
    status.textContent = `The worker could not be reached: ${error.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  status.textContent = "Signed in.";
  $("signed-in").hidden = false;
  $("ledger-note").hidden = state.ledger;
}

// --- schedules -------------------------------------------------------------------

async function loadSchedules() {
  const answer = await api("GET", "/schedules");
  const box = $("schedules");
  if (ledgerMissing(answer)) {
    state.ledger = false;
    box.replaceChildren(el("p", { class: "meta", text: "Needs the START_LEDGER binding." }));
    return;
  }
  state.ledger = true;
  if (!answer.json?.ok) {
    box.replaceChildren(errorLine(answer));
    return;
  }
  const schedules = answer.json.schedules;
  if (schedules.length === 0) {
    box.replaceChildren(el("p", { class: "meta", text: "No cron jobs are configured (SCHEDULES is empty)." }));
    return;
  }
  box.replaceChildren(...schedules.map(renderSchedule));
}

function renderSchedule(schedule) {
  const item = el("div", { class: "schedule" }, el("h3", {}, el("code", { text: schedule.cron })));
  if (schedule.next_run) {
    item.append(el("p", { class: "times", text: `Next run ${schedule.next_run} (UTC), ${localTime(schedule.next_run)} here` }));
  } else {
    item.append(el("p", { class: "times", text: "Next run: cannot be computed" }));
  }
  if (schedule.error) {
    item.append(el("p", { class: "error-text", text: `${schedule.error.code}: ${schedule.error.message}` }));
    return item;
  }
  const jobs = el("ul", { class: "jobs" });
  for (const job of schedule.jobs) {
    const line = el("li", {}, el("strong", { text: job.import_id ?? "(no import id)" }), " ");
    if (job.error) {
      line.append(el("span", { class: "error-text", text: `${job.error.code}: ${job.error.message}` }));
    } else {
      line.append(badge(job.last?.outcome), el("span", { class: "meta", text: ` ${job.api}` }));
      if (job.last) line.append(el("span", { class: "meta", text: ` · last ${localTime(job.last.started_at)}` }));
      if (job.next_path) line.append(el("div", { class: "meta" }, "next path ", el("code", { text: job.next_path })));
    }
    jobs.append(line);
  }
  item.append(jobs);
  return item;
}

// --- recent starts -----------------------------------------------------------------

function startsQuery(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...state.filters, ...extra })) if (value) params.set(name, value);
  return `/starts?${params}`;
}

async function loadStarts({ reset }) {
  if (reset) state.cursor = null;
  const answer = await api("GET", startsQuery({ limit: String(PAGE_SIZE), cursor: reset ? "" : state.cursor }));
  const list = $("starts");
  if (ledgerMissing(answer)) {
    state.ledger = false;
    list.replaceChildren();
    $("starts-empty").hidden = true;
    $("more").hidden = true;
    return;
  }
  if (!answer.json?.ok) {
    list.replaceChildren(el("li", {}, errorLine(answer)));
    $("more").hidden = true;
    return;
  }
  const items = answer.json.starts.map(renderStart);
  if (reset) list.replaceChildren(...items); else list.append(...items);
  state.cursor = answer.json.next_cursor;
  $("more").hidden = !state.cursor;
  $("starts-empty").hidden = list.children.length > 0;
}

function renderStart(entry) {
  const who = entry.cause === "cron" ? `cron ${entry.cron} (job ${entry.job})` : `http by ${entry.caller}`;
  const item = el("li", { "data-start-id": entry.id },
    el("div", {}, badge(entry.outcome), " ", el("strong", { text: entry.import_id }), el("span", { class: "meta", text: ` ${entry.api}` })),
    el("div", { class: "meta", text: `${localTime(entry.started_at)} · ${who}` }));
  const details = [];
  if (entry.upstream_status != null) details.push(`Bloomreach ${entry.upstream_status}`);
  if (entry.attempts != null) details.push(`${entry.attempts} attempt${entry.attempts === 1 ? "" : "s"}`);
  if (entry.duration_ms != null) details.push(`${entry.duration_ms} ms`);
  if (entry.next_attempt_at) details.push(`next try ${localTime(entry.next_attempt_at)}`);
  if (entry.recorded_outcome) details.push(`first run: ${entry.recorded_outcome}`);
  if (details.length) item.append(el("div", { class: "meta", text: details.join(" · ") }));
  if (entry.path) item.append(el("div", { class: "meta" }, "path ", el("code", { text: entry.path })));
  if (entry.message && outcomeClass(entry.outcome) === "failed") {
    item.append(el("div", { class: "error-text", text: `${entry.outcome}: ${entry.message}` }));
  }
  return item;
}

function hideChart() {
  $("chart-figure").hidden = true;
}

// A small chart of the last days' starts per import (the newest 200 of them), drawn as
// SVG by the page itself. It is a picture: a failure only hides it.
async function loadChart() {
  const since = new Date(Date.now() - CHART_DAYS * 86400000).toISOString();
  const answer = await api("GET", `/starts?since=${encodeURIComponent(since)}&limit=200`);
  const figure = $("chart-figure");
  if (!answer.json?.ok || answer.json.starts.length === 0) {
    figure.hidden = true;
    return;
  }
  const counts = new Map();
  for (const entry of answer.json.starts) {
    // A cron job whose configuration failed may have no import id.
    const key = entry.import_id ?? "(no import id)";
    const row = counts.get(key) ?? { ok: 0, failed: 0, other: 0 };
    const kind = outcomeClass(entry.outcome);
    row[kind === "ok" || kind === "failed" ? kind : "other"] += 1;
    counts.set(key, row);
  }
  const rows = [...counts].sort((a, b) => a[0].localeCompare(b[0])).slice(0, 12);
  const most = Math.max(...rows.map(([, r]) => r.ok + r.failed + r.other));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const rowHeight = 22;
  svg.setAttribute("viewBox", `0 0 360 ${rows.length * rowHeight}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", rows.map(([id, r]) => `${id}: ${r.ok} ok, ${r.failed} failed, ${r.other} other`).join("; "));
  rows.forEach(([id, r], i) => {
    const y = i * rowHeight;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y + 15));
    label.setAttribute("class", "chart-label");
    label.textContent = id.length > 18 ? `${id.slice(0, 17)}…` : id;
    svg.append(label);
    let x = 130;
    for (const kind of ["ok", "failed", "other"]) {
      const width = (r[kind] / most) * 200;
      if (width <= 0) continue;
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", String(x));
      bar.setAttribute("y", String(y + 4));
      bar.setAttribute("width", String(width));
      bar.setAttribute("height", "14");
      bar.setAttribute("class", `bar-${kind}`);
      svg.append(bar);
      x += width;
    }
    const total = document.createElementNS(ns, "text");
    total.setAttribute("x", String(x + 4));
    total.setAttribute("y", String(y + 15));
    total.setAttribute("class", "chart-label");
    total.textContent = String(r.ok + r.failed + r.other);
    svg.append(total);
  });
  $("chart").replaceChildren(svg);
  figure.hidden = false;
}

// --- starting an import ------------------------------------------------------------

function formRequest() {
  const form = $("start-form");
  const importId = form.import_id.value.trim();
  const body = {};
  if (form.path.value.trim()) body.path = form.path.value.trim();
  if (form.test_connection.value) body.test_connection = form.test_connection.value === "true";
  if (form.api.value) body.api = form.api.value;
  return { importId, body };
}

function errorLine(answer) {
  const error = answer.json?.error;
  return el("p", { class: "result-failed", text: error ? `${error.code}: ${error.message}` : `The worker answered ${answer.status}.` });
}

function showAnswer(answer, { dryRun }) {
  const box = $("start-result");
  if (dryRun && answer.json?.ok) {
    box.replaceChildren(
      el("p", { class: "result-ok", text: "Dry run: nothing was sent. This is the request Bloomreach would get:" }),
      el("pre", { text: JSON.stringify(answer.json.request, null, 2) }));
    return;
  }
  if (answer.json?.ok) {
    const replayed = answer.headers.get("idempotent-replayed") === "true";
    box.replaceChildren(el("p", { class: "result-ok", text: replayed
      ? `Already started by this form (the same Idempotency-Key): Bloomreach answered ${answer.json.upstream_status}.`
      : `Started: Bloomreach answered ${answer.json.upstream_status} after ${answer.json.attempts} attempt${answer.json.attempts === 1 ? "" : "s"}.` }));
    return;
  }
  box.replaceChildren(errorLine(answer));
}

async function send({ dryRun }) {
  const { importId, body } = formRequest();
  if (!importId) {
    $("start-result").replaceChildren(el("p", { class: "result-failed", text: "Enter the import id." }));
    $("import_id").focus();
    return;
  }
  const headers = {};
  // One key per filled-in form: a double click or a second press of the same form is
  // the same start, which the worker's ledger answers once. Without the ledger a key
  // would be refused, so none is sent.
  if (!dryRun && state.ledger) {
    const requestText = JSON.stringify({ importId, body });
    if (state.formRequestText !== requestText) {
      state.formKey = crypto.randomUUID();
      state.formRequestText = requestText;
    }
    headers["idempotency-key"] = state.formKey;
  }
  const path = `/imports/${encodeURIComponent(importId)}/start${dryRun ? "?dry_run=1" : ""}`;
  const payload = Object.keys(body).length ? body : undefined;
  const answer = await api("POST", path, { body: payload, headers });
  showAnswer(answer, { dryRun });
  return !dryRun;
}

/** After a start: the lists again, with its entry (unless the token was refused). */
function refresh() {
  if (!state.token) return Promise.resolve();
  return guarded(() => Promise.all([loadStarts({ reset: true }), loadSchedules(), loadChart().catch(hideChart)]));
}

async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Refused) showRefused();
    else $("start-result").replaceChildren(el("p", { class: "result-failed", text: `The worker could not be reached: ${error.message}` }));
  }
}

function wire() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (token) signIn(token);
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.formKey = null;
    state.formRequestText = null;
    for (const id of ["schedules", "starts", "start-result", "chart"]) $(id).replaceChildren();
    hideChart();
    $("ledger-note").hidden = true;
    $("signed-in").hidden = true;
    $("token-status").className = "";
    $("token-status").textContent = "The token was forgotten.";
  });
  const startForm = $("start-form");
  startForm.addEventListener("submit", (event) => {
    event.preventDefault();
    // A press while the start is under way waits for it rather than sending again.
    if (state.starting) return;
    const button = $("start");
    button.disabled = true;
    state.starting = guarded(() => send({ dryRun: false })).finally(() => {
      state.starting = null;
      button.disabled = false;
      refresh();
    });
  });
  $("dry-run").addEventListener("click", () => guarded(() => send({ dryRun: true })));
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    state.filters = { import_id: form.import_id.value.trim(), outcome: form.outcome.value };
    guarded(() => loadStarts({ reset: true }));
  });
  $("more").addEventListener("click", () => guarded(() => loadStarts({ reset: false })));
}

wire();
const kept = sessionStorage.getItem(TOKEN_KEY);
if (kept) signIn(kept);
