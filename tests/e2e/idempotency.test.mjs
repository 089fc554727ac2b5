// Idempotency-Key end to end in workerd, with the START_LEDGER Durable Object as the
// shipped wrangler.toml declares it. The tests model what Cloudflare does and the local
// runtime does not enforce: concurrent requests racing for one key, a worker stopped
// mid-start (a stale pending record), and a caller that disconnects mid-start.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, TOKEN, PROJECT } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

let standin, worker;
before(async () => {
  standin = await startStandin();
  worker = await startWorker({ upstream: standin.url, bindings: { UPSTREAM_MAX_ATTEMPTS: "2" } });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const post = (w, importId, key, body, init = {}) =>
  w.fetch(`/imports/${importId}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, ...(key ? { "idempotency-key": key } : {}) }, body, ...init });

it("a repeat with the same key and request answers the first outcome without calling Bloomreach", async () => {
  const first = await post(worker, "ok_idem1", "key-1", '{"path":"/upload/a.csv"}');
  assert.equal(first.status, 200, first.text);
  const again = await post(worker, "ok_idem1", "key-1", '{ "path" : "/upload/a.csv" }');
  assert.equal(again.status, 200);
  assert.equal(again.text, first.text);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(standin.for("ok_idem1").length, 1);
});

it("an empty body, {} and the default api written out are the same request", async () => {
  assert.equal((await post(worker, "ok_idem1b", "key-1b")).status, 200);
  for (const body of ["{}", '{"api":"data-v1"}']) {
    const again = await post(worker, "ok_idem1b", "key-1b", body);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
  }
  assert.equal(standin.for("ok_idem1b").length, 1);
});

it("a failed start that may have started is replayed too", async () => {
  const first = await post(worker, "servererror_idem", "key-2");
  assert.equal(first.status, 502);
  const again = await post(worker, "servererror_idem", "key-2");
  assert.equal(again.status, 502);
  assert.equal(again.text, first.text);
  assert.equal(standin.for("servererror_idem").length, 1);
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "servererror_idem" && l.idempotent_replay)));
  const replayLog = worker.jsonLogs().find((l) => l.import_id === "servererror_idem" && l.idempotent_replay);
  assert.equal(replayLog.outcome, "upstream_error");
  assert.equal(replayLog.attempts, 0);
});

it("the same key with another request is refused with 422 idempotency_key_reused", async () => {
  assert.equal((await post(worker, "ok_idem3", "key-3", '{"path":"/upload/a.csv"}')).status, 200);
  const other = await post(worker, "ok_idem3", "key-3", '{"path":"/upload/b.csv"}');
  assert.equal(other.status, 422);
  assert.equal(other.body.error.code, "idempotency_key_reused");
  const otherId = await post(worker, "ok_idem3b", "key-3");
  assert.equal(otherId.status, 422);
  assert.equal(standin.requests.length, 1);
});

it("concurrent requests with one key: exactly one reaches Bloomreach, the others get 409 with Retry-After", async () => {
  const answers = await Promise.all(Array.from({ length: 4 }, () => post(worker, "slow_idem", "key-4")));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409, 409]);
  for (const busy of answers.filter((a) => a.status === 409)) {
    assert.equal(busy.body.error.code, "idempotency_key_in_progress");
    const retryAfter = Number(busy.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter}`);
  }
  assert.equal(standin.for("slow_idem").length, 1);
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "slow_idem" && l.outcome === "idempotency_key_in_progress")));
  const later = await post(worker, "slow_idem", "key-4");
  assert.equal(later.status, 200);
  assert.equal(later.headers.get("idempotent-replayed"), "true");
  assert.equal(standin.for("slow_idem").length, 1);
});

it("a key whose start ended in 429 to the end is released: a retry starts again", async () => {
  const first = await post(worker, "ratelimited_idem", "key-5");
  assert.equal(first.status, 503);
  const again = await post(worker, "ratelimited_idem", "key-5");
  assert.equal(again.status, 503);
  assert.equal(again.headers.get("idempotent-replayed"), null);
  assert.equal(standin.for("ratelimited_idem").length, 4);
});

it("a key whose start Bloomreach refused (404) is released too", async () => {
  assert.equal((await post(worker, "notfound_idem", "key-5b")).status, 404);
  const again = await post(worker, "notfound_idem", "key-5b");
  assert.equal(again.status, 404);
  assert.equal(again.headers.get("idempotent-replayed"), null);
  assert.equal(standin.for("notfound_idem").length, 2);
});

it("a stale pending record (a worker stopped mid-start) answers 502 upstream_outcome_unknown, never a second start", async () => {
  // What a worker stopped between its ledger record and Bloomreach's answer leaves: a
  // pending record, written here through the object exactly as the worker writes it.
  // The ledger object of the deployment's target (base, project token, workspace id)
  // and the key's record in it.
  const object = `ledger\n${standin.url.toLowerCase()}\n${PROJECT}\n`;
  const fingerprint = JSON.stringify({ api: "data-v1", import_id: "ok_stale", path: null, test_connection: null });
  const begun = await worker.ledgerCall(object, { op: "begin", record: "idempotency\nkey-stale", fingerprint, deadline_ms: 1, ttl_ms: 60000 });
  assert.deepEqual(begun, { decision: "proceed" });
  const during = await post(worker, "ok_stale", "key-stale");
  assert.equal(during.status, 409, during.text);
  await new Promise((r) => setTimeout(r, 3200)); // past its deadline and the write grace
  const after = await post(worker, "ok_stale", "key-stale");
  assert.equal(after.status, 502, after.text);
  assert.equal(after.body.error.code, "upstream_outcome_unknown");
  assert.equal(standin.for("ok_stale").length, 0);
});

it("a caller who disconnects mid-start: one upstream request, its record and log line written, a repeat replays", async () => {
  const controller = new AbortController();
  const cut = post(worker, "slow_disconnect", "key-disc", undefined, { signal: controller.signal });
  await until(() => standin.for("slow_disconnect").length === 1, 2000);
  controller.abort(); // Bloomreach (the stand-in) is still answering: 300 ms
  await assert.rejects(cut);
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "slow_disconnect" && l.outcome === "ok"), 5000), "the log line was written");
  const again = await post(worker, "slow_disconnect", "key-disc");
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(standin.for("slow_disconnect").length, 1);
});

it("an invalid key is refused with 400", async () => {
  const res = await post(worker, "ok_idem6", "x".repeat(256));
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /^Idempotency-Key:/);
  assert.equal(standin.requests.length, 0);
});

it("dry runs ignore the key", async () => {
  const res = await worker.fetch("/imports/ok_idem7/start?dry_run=1", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "idempotency-key": "key-7" } });
  assert.equal(res.status, 200);
  assert.equal(res.body.dry_run, true);
  assert.equal(standin.requests.length, 0);
});

it("without the START_LEDGER binding the key is refused with 400, never ignored", async () => {
  const bare = await startWorker({ upstream: standin.url, ledger: false });
  try {
    const res = await post(bare, "ok_idem8", "key-8");
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /START_LEDGER/);
    assert.equal(standin.requests.length, 0);
    assert.equal((await post(bare, "ok_idem8", undefined)).status, 200, "without a key it starts");
  } finally {
    await bare.close();
  }
});

it("a TTL not longer than the deadline is 500 misconfigured, naming the setting, and starts nothing", async () => {
  const w = await startWorker({ upstream: standin.url, bindings: { IDEMPOTENCY_TTL_SECONDS: "60", UPSTREAM_DEADLINE_MS: "60000", UPSTREAM_ATTEMPT_TIMEOUT_MS: "1000" } });
  try {
    // The HTTP deadline is capped at 25 s, so 60 s is enough for HTTP starts.
    assert.equal((await post(w, "ok_ttl", "key-ttl")).status, 200);
    const bad = await startWorker({ upstream: standin.url, bindings: { IDEMPOTENCY_TTL_SECONDS: "5" } });
    try {
      const res = await post(bad, "ok_ttl2", "key-ttl2");
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, "misconfigured");
      assert.match(res.body.error.message, /IDEMPOTENCY_TTL_SECONDS/);
      assert.equal(standin.for("ok_ttl2").length, 0);
    } finally {
      await bad.close();
    }
  } finally {
    await w.close();
  }
});

it("a failing ledger starts nothing: 503 ledger_unavailable over HTTP, a retryable failure in a cron event", async () => {
  const schedules = JSON.stringify({ "0 3 * * *": [{ import_id: "ok_ledgerdown_cron" }] });
  const broken = await startWorker({ upstream: standin.url, ledger: "broken", bindings: { SCHEDULES: schedules } });
  try {
    const res = await post(broken, "ok_ledgerdown", "key-down");
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.error.code, "ledger_unavailable");
    assert.deepEqual(await broken.fireScheduled("0 3 * * *", Date.UTC(2026, 10, 28, 3)), { outcome: "exception", noRetry: false });
    assert.equal(standin.requests.length, 0, "nothing reached Bloomreach");
    assert.equal((await post(broken, "ok_ledgerdown", undefined)).status, 200, "a start without a key needs no ledger");
  } finally {
    await broken.close();
  }
});

it("no answer or log line holds a secret", () => {
  assert.ok(allOutput().length > 20, "there is output to scan");
  assertNoSecrets(allOutput());
});

it("during a deploy, a ledger object still on a version from before its RPC method is called through fetch: keys, history and replays work", async () => {
  // workerd refuses RPC to such an object before it runs anything; the worker then
  // makes the same call through the object's fetch.
  const old = await startWorker({ upstream: standin.url, ledger: "before-rpc" });
  try {
    const first = await post(old, "ok_beforerpc", "key-before-rpc", '{"path":"/upload/b.csv"}');
    assert.equal(first.status, 200, first.text);
    const again = await post(old, "ok_beforerpc", "key-before-rpc", '{"path":"/upload/b.csv"}');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(standin.for("ok_beforerpc").length, 1);
    const unkeyed = await post(old, "ok_beforerpc_nokey");
    assert.equal(unkeyed.status, 200, unkeyed.text);
    let entries = [];
    for (const end = Date.now() + 2000; entries.length === 0 && Date.now() < end; await new Promise((r) => setTimeout(r, 25))) {
      entries = (await old.fetch("/starts?import_id=ok_beforerpc_nokey", { headers: { authorization: `Bearer ${TOKEN}` } })).body.starts;
    }
    assert.equal(entries.length, 1, "the unkeyed start's entry, written through fetch");
    assert.ok(!old.jsonLogs().some((l) => /history_write_failed|record_not_saved/.test(l.event ?? "")), old.logs.join("\n"));
  } finally {
    await old.close();
  }
});
