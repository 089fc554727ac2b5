// What the move to workers-rs's own APIs must keep, in workerd against the stand-in:
// the ledger's Durable Object survives a panic elsewhere in the instance (wasm-bindgen
// re-initialises the instance, and an object built on the old one would throw on every
// call), and settings written as numbers in [vars] are read as numbers.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, TOKEN } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const MARCH_1_2024_0300 = Date.UTC(2024, 2, 1, 3, 0);
const SCHEDULES = { "0 3 * * *": [{ import_id: "ok_cron_after_panic" }] };

let standin;
const workers = [];
before(async () => { standin = await startStandin(); });
after(async () => {
  for (const w of workers) await w.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

async function worker(bindings) {
  const w = await startWorker({ upstream: standin.url, bindings });
  workers.push(w);
  return w;
}

const post = (w, importId, headers = {}) =>
  w.fetch(`/imports/${importId}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, ...headers } });

it("after a panic, a keyed start and a cron job still go through the ledger", async () => {
  const w = await worker({ PANIC_TEST_ROUTE: "enabled", SCHEDULES: JSON.stringify(SCHEDULES) });
  // The ledger object is built before the panic...
  const before = await post(w, "ok_before_panic", { "idempotency-key": "before-panic" });
  assert.equal(before.status, 200, before.text);
  const panic = await w.fetch("/__panic", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(panic.status, 500);
  assert.ok(await until(() => w.logs.some((l) => l.includes('"event":"panic"'))), w.logs.join("\n"));
  // ...and still serves calls afterwards, on the new instance.
  const keyed = await post(w, "ok_after_panic", { "idempotency-key": "after-panic" });
  assert.equal(keyed.status, 200, keyed.text);
  assert.equal(standin.for("ok_after_panic").length, 1);
  const replay = await post(w, "ok_after_panic", { "idempotency-key": "after-panic" });
  assert.equal(replay.headers.get("idempotent-replayed"), "true", replay.text);
  assert.equal(standin.for("ok_after_panic").length, 1);
  assert.equal(await w.scheduled("0 3 * * *", MARCH_1_2024_0300), "ok");
  assert.equal(standin.for("ok_cron_after_panic").length, 1);
  // A redelivery of the same event is still told apart by the ledger.
  assert.equal(await w.scheduled("0 3 * * *", MARCH_1_2024_0300), "ok");
  assert.equal(standin.for("ok_cron_after_panic").length, 1);
  assert.ok(!w.logs.some((l) => l.includes("stale object")), w.logs.join("\n"));
});

it("a numeric setting written as a number in [vars] is read as that number", async () => {
  // Bloomreach's 503 is retried (it proves nothing started); one attempt allowed means
  // exactly one request, and the start ends 502 upstream_error.
  for (const attempts of [1, "1"]) {
    const w = await worker({ UPSTREAM_MAX_ATTEMPTS: attempts, UPSTREAM_DEADLINE_MS: 5000 });
    const res = await post(w, "unavailable_numeric");
    assert.equal(res.status, 502, res.text);
    assert.equal(res.body.attempts, 1, `UPSTREAM_MAX_ATTEMPTS = ${JSON.stringify(attempts)}: ${res.text}`);
    assert.equal(standin.for("unavailable_numeric").length, 1);
    standin.reset();
  }
});

it("a setting of another type is malformed and named, never taken as unset", async () => {
  for (const [name, value] of [["UPSTREAM_MAX_ATTEMPTS", true], ["UPSTREAM_DEADLINE_MS", { ms: 5 }], ["UPSTREAM_DEADLINE_MS", 2.5], ["BLOOMREACH_API_BASE", 7]]) {
    const w = await worker({ [name]: value });
    const res = await post(w, "ok_never_sent");
    assert.equal(res.status, 500, res.text);
    assert.equal(res.body.error.code, "misconfigured");
    assert.match(res.body.error.message, new RegExp(name), res.text);
    assert.equal(standin.for("ok_never_sent").length, 0);
    await w.close();
    workers.splice(workers.indexOf(w), 1);
  }
});

it("no answer or log line holds a secret or token", () => {
  assertNoSecrets(allOutput());
});

it("of Bloomreach's answer only what is used is read: a body that never ends still gives an answer", async () => {
  // The attempt timeout is far above what reading 64 KiB takes; reading the body whole
  // would run into it and answer a timeout instead.
  const w = await worker({ UPSTREAM_ATTEMPT_TIMEOUT_MS: "20000", UPSTREAM_DEADLINE_MS: "20000", UPSTREAM_MAX_ATTEMPTS: "1" });
  const res = await post(w, "endless_e1");
  assert.equal(res.status, 502, res.text);
  assert.equal(res.body.error.code, "upstream_error");
  assert.match(res.body.error.message, /Bloomreach answered 500/);
  assert.ok(await until(() => standin.for("endless_e1")[0]?.endlessClosed), "the worker stopped reading and closed the answer");
});
