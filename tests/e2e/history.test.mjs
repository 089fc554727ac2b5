// The start history and the schedules end to end in workerd: what each start and
// cron job records in the ledger object, GET /starts with its filters and cursor,
// GET /starts/{id}, GET /schedules, named callers, retention through the object's
// test hook, and the routes without the binding or with a failing ledger.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, TOKEN, TOKEN2, PROJECT } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const NAMED_TOKENS = `ci-2026-12:${TOKEN},${TOKEN2}`;
const SIGNATURE = "sig-value-QpZ7";
const SCHEDULES = {
  "0 3 * * *": [
    { import_id: "hist_cron_ok", path: `https://user:pw-Hh3@files.example.com/{date}/c.csv?sig=${SIGNATURE}`, time_offset: "-1d" },
    { import_id: "hist_cron_bad", path: "/x/{dat}.csv" },
    { import_id: "notfound_histcron", test_connection: false },
  ],
  "*/5 * * * *": [{ import_id: "hist_five", path: "sftp://u:p@host/{date}/{hour}{minute}.csv" }],
};
const AT = Date.UTC(2026, 10, 28, 3, 0);
const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let standin, worker;
before(async () => {
  standin = await startStandin();
  worker = await startWorker({
    upstream: standin.url,
    bindings: { TRIGGER_TOKENS: NAMED_TOKENS, SCHEDULES: JSON.stringify(SCHEDULES), UPSTREAM_MAX_ATTEMPTS: "2", HISTORY_TEST_HOOKS: "enabled" },
  });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });
const start = (w, importId, { body, key, token, query = "" } = {}) =>
  w.fetch(`/imports/${importId}/start${query}`, { method: "POST", headers: { ...auth(token), ...(key ? { "idempotency-key": key } : {}) }, body });
const starts = (w, query = "", token = TOKEN) => w.fetch(`/starts${query}`, { headers: auth(token) });
const object = () => `ledger\n${standin.url.toLowerCase()}\n${PROJECT}\n`;

/** The entries of `importId`, waiting (at most a second, as the contract says) for `count`. */
async function entriesOf(w, importId, count = 1) {
  let last = [];
  const end = Date.now() + 1000;
  do {
    const res = await starts(w, `?import_id=${importId}&limit=200`);
    assert.equal(res.status, 200, res.text);
    last = res.body.starts;
    if (last.length >= count) return last;
    await new Promise((r) => setTimeout(r, 25));
  } while (Date.now() < end);
  return last;
}

it("starts ending together are written in batches (group commit): each one entry, none lost, past one batch's size", async () => {
  // More than one batch holds (100 entries a call), all at once: every entry lands once.
  const count = 150;
  const answers = await Promise.all(Array.from({ length: count }, () => start(worker, "hist_burst")));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  let entries = [];
  const end = Date.now() + 5000;
  do {
    entries = (await starts(worker, "?import_id=hist_burst&limit=200")).body.starts;
    if (entries.length >= count) break;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < end);
  assert.equal(entries.length, count);
  assert.equal(new Set(entries.map((e) => e.id)).size, count, "no entry twice");
  assert.ok(entries.every((e) => e.outcome === "ok" && e.cause === "http"));
  assert.equal(standin.for("hist_burst").length, count);
  assert.ok(!worker.jsonLogs().some((l) => l.event === "history_write_failed"), "no write failed");
  const cancelled = allOutput().filter((l) => /hung|canceled|cancelled/i.test(typeof l === "string" ? l : JSON.stringify(l)));
  assert.deepEqual(cancelled, [], "no start of a batch was cancelled while it waited");
});

it("an unkeyed HTTP start records every field once it ends, with the named caller and the path redacted", async () => {
  const path = `https://user:pw-Hh3@files.example.com/a.csv?sig=${SIGNATURE}`;
  const res = await start(worker, "hist_http_ok", { body: JSON.stringify({ path, test_connection: false }) });
  assert.equal(res.status, 200, res.text);
  const [entry] = await entriesOf(worker, "hist_http_ok");
  assert.ok(entry, "readable within a second of the answer");
  assert.match(entry.id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.match(entry.started_at, RFC3339_MS);
  assert.ok(Math.abs(Date.parse(entry.started_at) - Date.now()) < 10_000);
  assert.equal(typeof entry.duration_ms, "number");
  const { id, started_at, duration_ms, ...rest } = entry;
  assert.deepEqual(rest, {
    import_id: "hist_http_ok", api: "data-v1", cause: "http", caller: "ci-2026-12",
    path: "https://***@files.example.com/a.csv?***", test_connection: false,
    outcome: "ok", upstream_status: 200, attempts: 1,
  });
  assert.equal(standin.for("hist_http_ok")[0].body, JSON.stringify({ path, test_connection: false }), "Bloomreach got the path as given");
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "hist_http_ok" && l.cause === "http:ci-2026-12")));
  const one = await worker.fetch(`/starts/${id}`, { headers: auth() });
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, { ok: true, start: entry });
});

it("an unnamed token is the caller token#N, in the entry and the log line", async () => {
  assert.equal((await start(worker, "hist_unnamed", { token: TOKEN2 })).status, 200);
  const [entry] = await entriesOf(worker, "hist_unnamed");
  assert.equal(entry.caller, "token#2");
  assert.equal(entry.path, undefined);
  assert.equal(entry.test_connection, undefined);
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "hist_unnamed" && l.cause === "http:token#2")));
});

it("a failed start records its code, Bloomreach's status and message", async () => {
  assert.equal((await start(worker, "notfound_hist")).status, 404);
  const [entry] = await entriesOf(worker, "notfound_hist");
  assert.equal(entry.outcome, "import_not_found");
  assert.equal(entry.upstream_status, 404);
  assert.equal(entry.message, "Bloomreach answered 404: NotFoundError: Import not found");
  assert.equal(entry.attempts, 1);
});

it("a keyed start records its key once; its replay, a dry run and a refusal record nothing", async () => {
  assert.equal((await start(worker, "hist_keyed", { key: "hist-key-1" })).status, 200);
  const replay = await start(worker, "hist_keyed", { key: "hist-key-1" });
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal((await start(worker, "hist_keyed", { key: "hist-key-1", body: '{"path":"/other.csv"}' })).status, 422);
  assert.equal((await start(worker, "hist_keyed", { query: "?dry_run=1" })).status, 200);
  assert.equal((await start(worker, "hist_keyed", { body: '{"colour":1}' })).status, 400);
  await new Promise((r) => setTimeout(r, 300));
  const entries = await entriesOf(worker, "hist_keyed");
  assert.equal(entries.length, 1, JSON.stringify(entries));
  assert.equal(entries[0].idempotency_key, "hist-key-1");
  assert.equal(entries[0].outcome, "ok");
});

it("a keyed start whose worker stopped mid-start reads as upstream_outcome_unknown once its record does", async () => {
  const entry = { id: "stopped-1", started_at: new Date().toISOString(), import_id: "hist_stopped", api: "data-v1", cause: "http", caller: "ci-2026-12", idempotency_key: "hist-stopped", outcome: "in_progress", attempts: 0 };
  const fingerprint = JSON.stringify({ api: "data-v1", import_id: "hist_stopped", path: null, test_connection: null });
  const begun = await worker.ledgerCall(object(), { op: "begin", record: "idempotency\nhist-stopped", fingerprint, deadline_ms: 1, ttl_ms: 60000, history: { started_ms: Date.now(), entry } });
  assert.deepEqual(begun, { decision: "proceed" });
  const during = await worker.fetch("/starts/stopped-1", { headers: auth() });
  assert.equal(during.body.start.outcome, "in_progress");
  assert.equal(during.body.start.duration_ms, undefined);
  assert.equal((await starts(worker, "?outcome=in_progress&import_id=hist_stopped")).body.starts.length, 1);
  await new Promise((r) => setTimeout(r, 3200)); // past its deadline and the write grace
  const later = await worker.fetch("/starts/stopped-1", { headers: auth() });
  assert.equal(later.body.start.outcome, "upstream_outcome_unknown");
  assert.equal((await start(worker, "hist_stopped", { key: "hist-stopped" })).status, 502, "the ledger agrees");
  assert.deepEqual((await starts(worker, "?outcome=failed&import_id=hist_stopped")).body.starts.map((s) => s.id), ["stopped-1"]);
});

it("a cron event records every job, a redelivery records its skipped jobs with their recorded outcome", async () => {
  assert.equal(await worker.scheduled("0 3 * * *", AT), "exception");
  const okJob = (await entriesOf(worker, "hist_cron_ok"))[0];
  const { id, started_at, duration_ms, ...rest } = okJob;
  assert.match(started_at, RFC3339_MS);
  assert.equal(typeof duration_ms, "number");
  assert.deepEqual(rest, {
    import_id: "hist_cron_ok", api: "data-v1", cause: "cron", cron: "0 3 * * *",
    scheduled_time: "2026-11-28T03:00:00.000Z", job: 0,
    path: "https://***@files.example.com/2026-11-27/c.csv?***",
    outcome: "ok", upstream_status: 200, attempts: 1,
  });
  const [bad] = await entriesOf(worker, "hist_cron_bad");
  assert.equal(bad.outcome, "misconfigured");
  assert.equal(bad.job, 1);
  assert.match(bad.message, /^SCHEDULES\["0 3 \* \* \*"\]\[1\]\.path: unknown placeholder \{dat\}/);
  assert.equal(bad.path, undefined);
  const [refused] = await entriesOf(worker, "notfound_histcron");
  assert.equal(refused.outcome, "import_not_found");
  assert.equal(refused.test_connection, false);
  // The redelivery: the ok job is skipped, the refused one (proves nothing started) runs again.
  assert.equal(await worker.scheduled("0 3 * * *", AT), "exception");
  const okAgain = await entriesOf(worker, "hist_cron_ok", 2);
  assert.equal(okAgain.length, 2);
  assert.equal(okAgain[0].outcome, "skipped");
  assert.equal(okAgain[0].recorded_outcome, "ok");
  assert.equal(okAgain[0].duration_ms, 0);
  assert.equal(okAgain[0].scheduled_time, "2026-11-28T03:00:00.000Z");
  assert.equal((await entriesOf(worker, "notfound_histcron", 2)).length, 2);
  assert.equal((await entriesOf(worker, "hist_cron_bad", 2)).length, 2);
  const skipped = await starts(worker, "?outcome=skipped&cause=cron");
  assert.deepEqual(skipped.body.starts.map((s) => s.import_id), ["hist_cron_ok"]);
});

it("every filter selects its entries", async () => {
  const t0 = new Date(Date.now() - 1).toISOString();
  await start(worker, "hist_f1");
  await start(worker, "notfound_hf2", { token: TOKEN2 });
  await entriesOf(worker, "hist_f1");
  await entriesOf(worker, "notfound_hf2");
  const t1 = new Date(Date.now() + 1).toISOString();
  const ids = async (q) => {
    const res = await starts(worker, q);
    assert.equal(res.status, 200, `${q}: ${res.text}`);
    return res.body.starts.map((s) => s.import_id).filter((i) => i === "hist_f1" || i === "notfound_hf2");
  };
  const window = `since=${encodeURIComponent(t0)}&until=${encodeURIComponent(t1)}`;
  assert.deepEqual(await ids(`?${window}`), ["notfound_hf2", "hist_f1"]);
  assert.deepEqual(await ids(`?${window}&import_id=hist_f1`), ["hist_f1"]);
  assert.deepEqual(await ids(`?${window}&outcome=ok`), ["hist_f1"]);
  assert.deepEqual(await ids(`?${window}&outcome=failed`), ["notfound_hf2"]);
  assert.deepEqual(await ids(`?${window}&outcome=import_not_found`), ["notfound_hf2"]);
  assert.deepEqual(await ids(`?${window}&outcome=skipped`), []);
  assert.deepEqual(await ids(`?${window}&outcome=in_progress`), []);
  assert.deepEqual(await ids(`?${window}&cause=http`), ["notfound_hf2", "hist_f1"]);
  assert.deepEqual(await ids(`?${window}&cause=cron`), []);
  assert.deepEqual(await ids(`?${window}&caller=ci-2026-12`), ["hist_f1"]);
  assert.deepEqual(await ids(`?${window}&caller=token%232`), ["notfound_hf2"]);
  assert.deepEqual(await ids(`?since=${encodeURIComponent(t1)}`), []);
  assert.deepEqual(await ids(`?until=${encodeURIComponent(t0)}`), []);
  assert.deepEqual(await ids(`?${window}&limit=1`), ["notfound_hf2"]);
});

it("following next_cursor returns every entry exactly once while new starts arrive", async () => {
  for (let i = 0; i < 7; i++) assert.equal((await start(worker, "hist_page")).status, 200);
  const recorded = (await entriesOf(worker, "hist_page", 7)).map((s) => s.id);
  assert.equal(recorded.length, 7);
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const res = await starts(worker, `?import_id=hist_page&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(res.status, 200, res.text);
    seen.push(...res.body.starts.map((s) => s.id));
    cursor = res.body.next_cursor;
    pages++;
    assert.equal((await start(worker, "hist_page")).status, 200, "a new start between pages");
  } while (cursor);
  assert.equal(new Set(seen).size, seen.length, "never twice");
  for (const id of recorded) assert.equal(seen.filter((s) => s === id).length, 1, id);
  assert.ok(pages >= 3);
  const newestFirst = [...seen].map((id) => seen.indexOf(id));
  assert.deepEqual(newestFirst, [...newestFirst].sort((a, b) => a - b));
});

it("GET /starts/{id} of an unknown id is 404 start_not_found", async () => {
  for (const id of ["0-0000000000000000", "no.such.id", "x".repeat(65)]) {
    const res = await worker.fetch(`/starts/${id}`, { headers: auth() });
    assert.equal(res.status, 404, id);
    assert.equal(res.body.error.code, "start_not_found");
  }
});

it("every bad query is 400 naming the parameter; other methods 405; no token 401", async () => {
  const first = await starts(worker, "?limit=1");
  const cursor = first.body.next_cursor;
  assert.ok(cursor);
  for (const [query, name] of [
    ["?colour=red", "query"],
    ["?limit=1&limit=2", "limit"],
    ["?limit=0", "limit"],
    ["?limit=201", "limit"],
    ["?limit=ten", "limit"],
    ["?import_id=a.b", "import_id"],
    ["?import_id=", "import_id"],
    ["?outcome=maybe", "outcome"],
    ["?cause=email", "cause"],
    ["?caller=a%20b", "caller"],
    ["?since=yesterday", "since"],
    ["?until=2026-12-01", "until"],
    ["?cursor=garbage", "cursor"],
    [`?outcome=ok&cursor=${cursor}`, "cursor"],
  ]) {
    const res = await starts(worker, query);
    assert.equal(res.status, 400, `${query}: ${res.text}`);
    assert.equal(res.body.error.code, "invalid_request");
    assert.ok(res.body.error.message.startsWith(`${name}: `), `${query}: ${res.body.error.message}`);
  }
  assert.equal((await starts(worker, `?limit=5&cursor=${cursor}`)).status, 200, "another limit is fine");
  const sched = await worker.fetch("/schedules?x=1", { headers: auth() });
  assert.equal(sched.status, 400);
  for (const [method, path] of [["POST", "/starts"], ["DELETE", "/starts/abc"], ["PUT", "/schedules"], ["HEAD", "/starts"]]) {
    const res = await worker.fetch(path, { method, headers: auth() });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), "GET");
  }
  for (const path of ["/starts", "/starts/abc", "/schedules"]) {
    const res = await worker.fetch(path);
    assert.equal(res.status, 401, path);
    assert.equal(res.headers.get("www-authenticate"), "Bearer");
    assert.equal((await worker.fetch(path, { headers: auth("wrong-token-0000000000") })).status, 401);
  }
});

it("GET /schedules gives each cron's next run by Cloudflare's rules, its jobs' next paths redacted and their last entries", async () => {
  const before = Date.now();
  const res = await worker.fetch("/schedules", { headers: auth() });
  const afterMs = Date.now();
  assert.equal(res.status, 200, res.text);
  const [daily, five] = res.body.schedules;
  assert.equal(daily.cron, "0 3 * * *");
  const nextThree = (t) => { const d = new Date(t); d.setUTCHours(3, 0, 0, 0); if (d.getTime() <= t) d.setUTCDate(d.getUTCDate() + 1); return d.toISOString(); };
  assert.ok([nextThree(before), nextThree(afterMs)].includes(daily.next_run), daily.next_run);
  const nextFive = (t) => new Date((Math.floor(t / 300_000) + 1) * 300_000).toISOString();
  assert.ok([nextFive(before), nextFive(afterMs)].includes(five.next_run), five.next_run);
  const yesterdayOfNext = new Date(Date.parse(daily.next_run) - 86_400_000).toISOString().slice(0, 10);
  assert.deepEqual(
    { ...daily.jobs[0], last: undefined },
    { import_id: "hist_cron_ok", api: "data-v1", path: "https://***@files.example.com/{date}/c.csv?***", next_path: `https://***@files.example.com/${yesterdayOfNext}/c.csv?***`, time_offset: "-1d", last: undefined },
  );
  assert.equal(daily.jobs[0].last.outcome, "ok", "the newest entry that is not skipped");
  assert.equal(daily.jobs[0].last.cron, "0 3 * * *");
  assert.equal(daily.jobs[1].error.code, "misconfigured");
  assert.equal(daily.jobs[1].import_id, "hist_cron_bad");
  assert.equal(daily.jobs[1].last.outcome, "misconfigured");
  assert.equal(daily.jobs[2].test_connection, false);
  assert.equal(daily.jobs[2].last.outcome, "import_not_found");
  assert.equal(five.jobs[0].path, "sftp://***@host/{date}/{hour}{minute}.csv");
  assert.match(five.jobs[0].next_path, /^sftp:\/\/\*\*\*@host\/\d{4}-\d\d-\d\d\/\d{4}\.csv$/);
  assert.equal(five.jobs[0].last, null);
});

it("retention deletes entries that ended more than HISTORY_RETENTION_DAYS ago, never one in progress (through the object's test hook)", async () => {
  const w = await startWorker({ upstream: standin.url, bindings: { HISTORY_RETENTION_DAYS: 2, HISTORY_TEST_HOOKS: "enabled" } });
  try {
    assert.equal((await start(w, "hist_ret_a")).status, 200);
    await entriesOf(w, "hist_ret_a");
    const running = { id: "running-1", started_at: new Date().toISOString(), import_id: "hist_ret_run", api: "data-v1", cause: "http", outcome: "in_progress", attempts: 0 };
    const fingerprint = JSON.stringify({ api: "data-v1", import_id: "hist_ret_run", path: null, test_connection: null });
    await w.ledgerCall(object(), { op: "begin", record: "idempotency\nhist-ret", fingerprint, deadline_ms: 10 * 86_400_000, ttl_ms: 60000, history: { started_ms: Date.now(), entry: running } });
    const day = 86_400_000;
    assert.deepEqual(await w.ledgerCall(object(), { op: "cleanup", now_ms: Date.now() + 2 * day - 60_000 }), { count: 2 }, "two days not yet passed");
    assert.deepEqual(await w.ledgerCall(object(), { op: "cleanup", now_ms: Date.now() + 2 * day + 60_000 }), { count: 1 });
    const left = await starts(w);
    assert.deepEqual(left.body.starts.map((s) => s.id), ["running-1"]);
    const bad = await startWorker({ upstream: standin.url, bindings: { HISTORY_RETENTION_DAYS: "366" } });
    try {
      // Without HISTORY_TEST_HOOKS, the hook is off.
      const off = await bad.ledgerCall(object(), { op: "cleanup", now_ms: 0 });
      assert.match(off.error, /HISTORY_TEST_HOOKS/);
      const res = await starts(bad);
      assert.equal(res.status, 500);
      assert.equal(res.body.error.message, "HISTORY_RETENTION_DAYS: must be a whole number from 1 to 365");
      assert.equal((await start(bad, "hist_ret_badsetting")).status, 200, "starts still work");
    } finally {
      await bad.close();
    }
  } finally {
    await w.close();
  }
});

it("without the START_LEDGER binding the routes are 500 misconfigured naming it, and starts still work", async () => {
  const bare = await startWorker({ upstream: standin.url, ledger: false });
  try {
    for (const path of ["/starts", "/starts/abc", "/schedules"]) {
      const res = await bare.fetch(path, { headers: auth() });
      assert.equal(res.status, 500, path);
      assert.equal(res.body.error.code, "misconfigured");
      assert.match(res.body.error.message, /^START_LEDGER/);
    }
    assert.equal((await start(bare, "hist_bare")).status, 200);
  } finally {
    await bare.close();
  }
});

it("with a failing ledger the routes are 503 ledger_unavailable; an unkeyed start still answers 200 and logs the failed write", async () => {
  const broken = await startWorker({ upstream: standin.url, ledger: "broken", bindings: { SCHEDULES: JSON.stringify(SCHEDULES) } });
  try {
    for (const path of ["/starts", "/starts/abc", "/schedules"]) {
      const res = await broken.fetch(path, { headers: auth() });
      assert.equal(res.status, 503, path);
      assert.equal(res.body.error.code, "ledger_unavailable");
    }
    const res = await start(broken, "hist_broken");
    assert.equal(res.status, 200, res.text);
    assert.ok(await until(() => broken.jsonLogs().some((l) => l.event === "history_write_failed")), broken.logs.join("\n"));
    // Starts ending together share one failed call: each entry is still logged, once.
    const count = 12;
    const answers = await Promise.all(Array.from({ length: count }, () => start(broken, "hist_broken_burst")));
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
    const failedIds = () => broken.jsonLogs().filter((l) => l.event === "history_write_failed").map((l) => l.id);
    assert.ok(await until(() => failedIds().length >= count + 1), broken.logs.join("\n"));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(failedIds().length, count + 1, "one line for each entry");
    assert.equal(new Set(failedIds()).size, count + 1, "each entry's own id");
  } finally {
    await broken.close();
  }
});

it("no answer or log line holds a secret, a token, or a signed URL's query", () => {
  const output = allOutput();
  assertNoSecrets(output, 50);
  for (const text of output) {
    assert.ok(!text.includes(SIGNATURE) && !text.includes("pw-Hh3"), text.slice(0, 300));
  }
});
