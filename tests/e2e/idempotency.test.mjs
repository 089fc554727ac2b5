// Idempotency-Key end to end, with the KV namespace the local runtime simulates.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, TOKEN } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

let standin, worker;
before(async () => {
  standin = await startStandin();
  worker = await startWorker({ upstream: standin.url, kv: true, bindings: { UPSTREAM_MAX_ATTEMPTS: "2" } });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const post = (w, importId, key, body) =>
  w.fetch(`/imports/${importId}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, ...(key ? { "idempotency-key": key } : {}) }, body });

it("a repeat with the same key and request answers the first outcome without calling Bloomreach", async () => {
  const first = await post(worker, "ok_idem1", "key-1", '{"path":"/upload/a.csv"}');
  assert.equal(first.status, 200, first.text);
  const again = await post(worker, "ok_idem1", "key-1", '{ "path" : "/upload/a.csv" }');
  assert.equal(again.status, 200);
  assert.equal(again.text, first.text);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(standin.for("ok_idem1").length, 1);
});

it("a failed start is replayed too (the run may have started)", async () => {
  const first = await post(worker, "notfound_idem", "key-2");
  assert.equal(first.status, 404);
  const again = await post(worker, "notfound_idem", "key-2");
  assert.equal(again.status, 404);
  assert.equal(again.text, first.text);
  assert.equal(standin.for("notfound_idem").length, 1);
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "notfound_idem" && l.idempotent_replay)));
  const replayLog = worker.jsonLogs().find((l) => l.import_id === "notfound_idem" && l.idempotent_replay);
  assert.equal(replayLog.outcome, "import_not_found");
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

it("two concurrent requests with one key: only one reaches Bloomreach", async () => {
  const [a, b] = await Promise.all([post(worker, "slow_idem", "key-4"), post(worker, "slow_idem", "key-4")]);
  assert.deepEqual([a.status, b.status].sort(), [200, 409]);
  const busy = a.status === 409 ? a : b;
  assert.equal(busy.body.error.code, "idempotency_key_in_progress");
  assert.equal(standin.for("slow_idem").length, 1);
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "slow_idem" && l.outcome === "idempotency_key_in_progress")));
  const later = await post(worker, "slow_idem", "key-4");
  assert.equal(later.status, 200);
  assert.equal(later.headers.get("idempotent-replayed"), "true");
  assert.equal(standin.for("slow_idem").length, 1);
});

it("a start Bloomreach refused with 429 frees the key for a retry", async () => {
  const first = await post(worker, "ratelimited_idem", "key-5");
  assert.equal(first.status, 503);
  const again = await post(worker, "ratelimited_idem", "key-5");
  assert.equal(again.status, 503);
  assert.equal(again.headers.get("idempotent-replayed"), null);
  assert.equal(standin.for("ratelimited_idem").length, 4);
});

it("an invalid key is refused with 400", async () => {
  const res = await post(worker, "ok_idem6", "x".repeat(256));
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /^Idempotency-Key:/);
  assert.equal(standin.requests.length, 0);
});

it("without a KV binding the header is refused, not ignored", async () => {
  const w = await startWorker({ upstream: standin.url });
  try {
    const res = await post(w, "ok_idem7", "key-7");
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /IDEMPOTENCY_KV/);
    assert.equal(standin.requests.length, 0);
    assert.equal((await post(w, "ok_idem7", null)).status, 200);
  } finally {
    await w.close();
  }
});

it("no answer or log line holds a secret", () => {
  assertNoSecrets(allOutput());
});
