// The operator page in a real browser: Debian's headless Chromium over the DevTools
// protocol, against the worker in workerd and the Bloomreach stand-in. Every step is
// what a person does: type the token, press Enter, click the buttons.
// SCREENSHOTS=1 saves the page at 1280 and 360 px wide to docs/ for the README.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { writeFile, mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, TOKEN } from "../support/worker-harness.mjs";
import { launchChromium } from "../support/chromium.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCHEDULES = {
  "0 3 * * *": [{ import_id: "customers-daily", path: "https://files.example.com/exports/{date}/customers.csv?sig=secret", time_offset: "-1d" }],
  "15 * * * *": [{ import_id: "events-hourly", path: "/events/{date}/{hour}.csv", test_connection: false }],
  // A job without an import id: its entry has none, which the page must bear.
  "0 4 * * *": [{ path: "/no-id.csv" }],
};

let standin, worker, browser;
const shots = process.env.SCREENSHOTS === "1" ? path.join(root, "docs") : await mkdtemp(path.join(os.tmpdir(), "page-shots-"));

before(async () => {
  standin = await startStandin();
  worker = await startWorker({ upstream: standin.url, bindings: { SCHEDULES: JSON.stringify(SCHEDULES) } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

/** A fresh tab on the page, `width` px wide. */
async function open(w = worker, width = 1280) {
  const page = await browser.newPage();
  await page.setWidth(width);
  await page.goto(`${w.url}/`);
  return page;
}

async function signIn(page, token = TOKEN) {
  await page.click("#token");
  await page.type("#token", token);
  await page.press("Enter");
}

/** Nothing went wrong in the page: no uncaught exception, no CSP violation, no failed
 * load of the page's own assets. A refused API call (401, 404) is an answer, not a fault. */
async function assertClean(page) {
  assert.deepEqual(page.record.exceptions, [], "uncaught exceptions");
  assert.deepEqual(await page.evaluate("window.__cspViolations"), [], "CSP violations");
  assert.deepEqual(page.record.logErrors.filter((e) => e.source === "security" || /Content Security Policy/i.test(e.text)), []);
  assert.deepEqual(page.record.failedLoads, [], "failed loads");
  const assets = page.record.responses.filter((r) => /\/(page\.(js|css)|favicon\.svg)?$/.test(new URL(r.url).pathname));
  assert.ok(assets.length >= 3, JSON.stringify(page.record.responses));
  assert.ok(assets.every((r) => r.status === 200), JSON.stringify(assets));
}

const visible = (selector) => `(() => { const e = document.querySelector(${JSON.stringify(selector)}); return !!e && !e.closest("[hidden]") && e.getBoundingClientRect().height > 0; })()`;
const text = (selector) => `(document.querySelector(${JSON.stringify(selector)})?.textContent ?? "")`;

describe("the operator page", () => {
  it("loads with no console error, no CSP violation and the strict headers", async () => {
    const res = await fetch(`${worker.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /text\/html/);
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    const html = await res.text();
    assert.doesNotMatch(html, /customers-daily|caller-token|test-api-secret/, "the page holds no data");
    const page = await open();
    assert.equal(await page.evaluate("document.title"), "Bloomreach import trigger");
    assert.equal(await page.evaluate("document.querySelector('label[for=token]').textContent"), "Caller token");
    assert.equal(await page.evaluate("document.querySelector('#token').type"), "password");
    assert.equal(page.record.consoleErrors.length, 0, page.record.consoleErrors.join("\n"));
    await assertClean(page);
    await page.close();
  });

  it("a wrong token is refused and shows nothing else", async () => {
    const page = await open();
    await signIn(page, "wrong-token-0123456789");
    await page.waitFor(`${text("#token-status")}.includes("refused")`);
    assert.equal(await page.evaluate(visible("#signed-in")), false);
    assert.equal(await page.evaluate(visible("#starts")), false);
    assert.equal(await page.evaluate("sessionStorage.length"), 0);
    assert.deepEqual(page.record.exceptions, []);
    await page.close();
  });

  it("with the right token (typed, then Enter, by keyboard) the schedules and an earlier start appear", async () => {
    const before = await fetch(`${worker.url}/imports/ok_before_page/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(before.status, 200);
    assert.equal(await worker.scheduled("0 4 * * *", Date.now() - 60_000), "exception");
    const page = await open();
    // Keyboard only: the first Tab reaches the token field.
    await page.press("Tab");
    assert.equal(await page.evaluate("document.activeElement.id"), "token");
    await page.evaluate("document.activeElement.blur()");
    await signIn(page);
    await page.waitFor(visible("#signed-in"));
    await page.waitFor(`${text("#schedules")}.includes("0 3 * * *") && ${text("#schedules")}.includes("events-hourly")`);
    const schedules = await page.evaluate(text("#schedules"));
    assert.match(schedules, /Next run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z \(UTC\)/);
    assert.match(schedules, /\?\*\*\*/, "the signed URL's query is redacted");
    assert.doesNotMatch(schedules, /sig=secret/);
    await page.waitFor(`${text("#starts")}.includes("ok_before_page")`);
    assert.match(await page.evaluate(text("#schedules")), /misconfigured: /, "a job's configuration error is shown");
    await assertClean(page);
    await page.close();
  });

  it("a dry run shows the Bloomreach path and sends nothing", async () => {
    const page = await open();
    await signIn(page);
    await page.waitFor(visible("#start-form"));
    await page.type("#import_id", "ok_dry");
    await page.type("#path", "/uploads/dry.csv");
    await page.click("#dry-run");
    await page.waitFor(`${text("#start-result")}.includes("Dry run")`);
    const shown = await page.evaluate(text("#start-result pre"));
    assert.match(shown, /\/imports\/ok_dry\/start/);
    assert.match(shown, /\/uploads\/dry\.csv/);
    assert.doesNotMatch(shown, /test-api-secret|test-key-id/);
    assert.equal(standin.requests.length, 0);
    await page.close();
  });

  it("a double click on Start, and a second press after the answer, start exactly once", async () => {
    const page = await open();
    await signIn(page);
    await page.waitFor(visible("#start-form"));
    await page.type("#import_id", "slow_page");
    await page.click("#start", { count: 2 });
    await page.waitFor(`${text("#start-result")}.includes("Started")`);
    await page.click("#start");
    await page.waitFor(`${text("#start-result")}.includes("Already started")`);
    assert.equal(standin.for("slow_page").length, 1, "one start upstream");
    const keys = page.record.requests.filter((r) => r.url.includes("/imports/slow_page/start")).map((r) => r.headers["idempotency-key"] ?? r.headers["Idempotency-Key"]);
    assert.ok(keys.length >= 2, `presses sent: ${keys.length}`);
    assert.ok(keys[0] && keys.every((k) => k === keys[0]), `one key: ${keys}`);
    await page.waitFor(`${text("#starts")}.includes("slow_page")`);
    // Another filled-in form is another start, with another key.
    await page.type("#path", "/other.csv");
    await page.click("#start");
    await until(() => standin.for("slow_page").length === 2, 5000);
    const last = page.record.requests.filter((r) => r.url.includes("/imports/slow_page/start")).at(-1);
    assert.notEqual(last.headers["idempotency-key"], keys[0]);
    await page.close();
  });

  it("a refused start shows its code and message, and the failure is listed", async () => {
    const page = await open();
    await signIn(page);
    await page.waitFor(visible("#start-form"));
    await page.type("#import_id", "notfound_page");
    await page.click("#start");
    await page.waitFor(`${text("#start-result")}.includes("import_not_found")`);
    await page.waitFor(`${text("#starts")}.includes("notfound_page")`);
    assert.match(await page.evaluate(text("#starts")), /import_not_found: /);
    await page.close();
  });

  it("filters by outcome, and More follows the cursor", async () => {
    for (let i = 0; i < 23; i++) {
      const res = await fetch(`${worker.url}/imports/ok_many_${i}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 200);
    }
    const page = await open();
    await signIn(page);
    await page.waitFor(`document.querySelectorAll("#starts li").length === 20`);
    await page.click("#more");
    await page.waitFor(`document.querySelectorAll("#starts li").length > 20`);
    const ids = await page.evaluate(`[...document.querySelectorAll("#starts li")].map((li) => li.dataset.startId)`);
    assert.equal(new Set(ids).size, ids.length, "each entry once");
    await page.choose("#filter-outcome", "failed");
    await page.click("#filter-form button[type=submit]");
    await page.waitFor(`[...document.querySelectorAll("#starts li .badge")].every((b) => b.classList.contains("failed")) && !${text("#starts")}.includes("ok_many_")`);
    await page.close();
  });

  it("keeps the token out of URLs, cookies and localStorage, and fits 360 px with no horizontal scroll", async () => {
    const page = await open(worker, 360);
    await signIn(page);
    await page.waitFor(`${text("#starts")}.length > 0 && ${text("#schedules")}.length > 0`);
    assert.equal(await page.evaluate("sessionStorage.length"), 1);
    assert.equal(await page.evaluate("localStorage.length"), 0);
    assert.deepEqual(await page.cookies(), []);
    assert.ok(page.record.requests.every((r) => !r.url.includes(TOKEN)), "no token in a URL");
    assert.ok(!(await page.evaluate("location.href")).includes(TOKEN));
    assert.ok(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), `scrollWidth ${await page.evaluate("document.documentElement.scrollWidth")}`);
    await writeFile(path.join(shots, "operator-page-360.png"), await page.screenshot());
    await assertClean(page);
    await page.close();
    const wide = await open(worker, 1280);
    await signIn(wide);
    await wide.waitFor(`${text("#starts")}.length > 0 && document.querySelector("#chart svg")`);
    await writeFile(path.join(shots, "operator-page-1280.png"), await wide.screenshot());
    await wide.close();
  });

  it("without the ledger it says the history needs it, and Start sends no key", async () => {
    const bare = await startWorker({ upstream: standin.url, ledger: false });
    try {
      const page = await open(bare);
      await signIn(page);
      await page.waitFor(visible("#ledger-note"));
      await page.type("#import_id", "ok_no_ledger");
      await page.click("#start");
      await page.waitFor(`${text("#start-result")}.includes("Started")`);
      const sent = page.record.requests.find((r) => r.url.includes("/imports/ok_no_ledger/start"));
      assert.equal(sent.headers["idempotency-key"], undefined);
      assert.equal(standin.for("ok_no_ledger").length, 1);
      await page.close();
    } finally {
      await bare.close();
    }
  });

  it("OPERATOR_PAGE = off answers 404 for the page and its assets", async () => {
    const off = await startWorker({ upstream: standin.url, bindings: { OPERATOR_PAGE: "off" } });
    try {
      for (const p of ["/", "/page.js", "/page.css", "/favicon.svg"]) {
        const res = await fetch(`${off.url}${p}`);
        assert.equal(res.status, 404, p);
        assert.equal((await res.json()).error.code, "not_found");
      }
    } finally {
      await off.close();
    }
  });

  it("no answer or log line holds a secret or token", () => {
    assertNoSecrets(allOutput());
  });
});
