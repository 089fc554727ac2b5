// `Prefer: respond-async` end to end in workerd: a start answered 202 as soon as it is
// recorded, then made in the background under waitUntil and followed with
// GET /starts/{id}; repeats with a key, the preference ignored without the ledger and
// by dry runs, and refusals answered as usual.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, TOKEN, PROJECT } from "../support/worker-harness.mjs";

let standin, worker, unbound;
before(async () => {
  standin = await startStandin();
  worker = await startWorker({ upstream: standin.url, bindings: { UPSTREAM_MAX_ATTEMPTS: "2" } });
  unbound = await startWorker({ upstream: standin.url, ledger: false });
});
after(async () => {
  await worker?.close();
  await unbound?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const start = (w, importId, { key, body, token = TOKEN, prefer = "respond-async", query = "" } = {}) =>
  w.fetch(`/imports/${importId}/start${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, ...(prefer ? { prefer } : {}), ...(key ? { "idempotency-key": key } : {}) },
    body,
  });
const startEntry = async (w, id) => {
  const res = await w.fetch(`/starts/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, res.text);
  return res.body.start;
};
/** The entry `id` once it has ended (at most 5 s). */
async function ended(w, id) {
  let last;
  const end = Date.now() + 5000;
  do {
    last = await startEntry(w, id);
    if (last.outcome !== "in_progress") return last;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < end);
  return last;
}

it("a 202 start is recorded in progress, then runs once in the background and ends ok", async () => {
  const res = await start(worker, "slow_async1", { prefer: "wait=10, Respond-Async;x=1" });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.body.ok, true);
  assert.equal(res.body.status, "accepted");
  assert.match(res.body.start_id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.deepEqual(Object.keys(res.body), ["ok", "status", "start_id"]);
  assert.equal(res.headers.get("location"), `/starts/${res.body.start_id}`);
  assert.equal(res.headers.get("preference-applied"), "respond-async");
  const running = await startEntry(worker, res.body.start_id);
  assert.equal(running.outcome, "in_progress", "the answer comes before Bloomreach's (300 ms)");
  assert.equal(running.import_id, "slow_async1");
  const done = await ended(worker, res.body.start_id);
  assert.equal(done.outcome, "ok");
  assert.equal(done.upstream_status, 200);
  assert.equal(done.attempts, 1);
  assert.equal(standin.for("slow_async1").length, 1, "exactly one accepted upstream request");
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "slow_async1" && l.outcome === "ok")));
});

it("a repeat with the key gets the same 202 while it runs, then the kept answer; one upstream start", async () => {
  const first = await start(worker, "slow_async2", { key: "async-key-2" });
  assert.equal(first.status, 202, first.text);
  assert.equal(first.headers.get("idempotent-replayed"), null);
  for (const prefer of ["respond-async", null]) {
    const again = await start(worker, "slow_async2", { key: "async-key-2", prefer, body: "{}" });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.body.start_id, first.body.start_id);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.headers.get("location"), first.headers.get("location"));
  }
  const done = await ended(worker, first.body.start_id);
  assert.equal(done.outcome, "ok");
  assert.equal(done.idempotency_key, "async-key-2");
  const later = await start(worker, "slow_async2", { key: "async-key-2" });
  assert.equal(later.status, 200, later.text);
  assert.equal(later.headers.get("idempotent-replayed"), "true");
  assert.equal(later.body.ok, true);
  assert.equal(standin.for("slow_async2").length, 1);
});

it("an async start whose outcome fails ends with that code in its entry, and its key is released", async () => {
  const res = await start(worker, "notfound_async3", { key: "async-key-3" });
  assert.equal(res.status, 202, res.text);
  const done = await ended(worker, res.body.start_id);
  assert.equal(done.outcome, "import_not_found");
  assert.equal(done.upstream_status, 404);
  const again = await start(worker, "notfound_async3", { key: "async-key-3" });
  assert.equal(again.status, 202, "nothing started, so a repeat makes a new start");
  assert.notEqual(again.body.start_id, res.body.start_id);
  await ended(worker, again.body.start_id);
  assert.equal(standin.for("notfound_async3").length, 2);
});

it("without the ledger binding the preference is ignored", async () => {
  const res = await start(unbound, "ok_async4");
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get("preference-applied"), null);
  assert.equal(res.body.upstream_status, 200);
  assert.equal(standin.for("ok_async4").length, 1);
});

it("a dry run ignores it, and refused requests get their usual error, not 202", async () => {
  const dry = await start(worker, "ok_async5", { query: "?dry_run=1" });
  assert.equal(dry.status, 200, dry.text);
  assert.equal(dry.body.dry_run, true);
  assert.equal(dry.headers.get("preference-applied"), null);
  const badToken = await start(worker, "ok_async5", { token: "wrong-token-0000000000" });
  assert.equal(badToken.status, 401);
  assert.equal(badToken.body.error.code, "unauthorized");
  const badBody = await start(worker, "ok_async5", { body: '{"nope":1}' });
  assert.equal(badBody.status, 400);
  assert.equal(badBody.body.error.code, "invalid_request");
  for (const res of [dry, badToken, badBody]) assert.equal(res.headers.get("location"), null);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(standin.for("ok_async5").length, 0);
});

it("an accepted start without a key whose worker stopped mid-start reads as upstream_outcome_unknown once its time passed", async () => {
  // What the worker's begin for an unkeyed 202 sends, with a 1 ms deadline, and no finish after it.
  const entry = { id: "stopped-async-1", started_at: new Date().toISOString(), import_id: "async_stopped", api: "data-v1", cause: "http", caller: "token#1", outcome: "in_progress", attempts: 0 };
  const fingerprint = JSON.stringify({ api: "data-v1", import_id: "async_stopped", path: null, test_connection: null });
  const object = `ledger\n${standin.url.toLowerCase()}\n${PROJECT}\n`;
  const begun = await worker.ledgerCall(object, {
    op: "begin", record: "async\nstopped-async-1", fingerprint, deadline_ms: 1, ttl_ms: 60000, accepted: "stopped-async-1",
    history: { started_ms: Date.now(), entry },
  });
  assert.deepEqual(begun, { decision: "proceed" });
  assert.equal((await startEntry(worker, "stopped-async-1")).outcome, "in_progress");
  await new Promise((r) => setTimeout(r, 3200)); // past its deadline and the write grace
  const later = await startEntry(worker, "stopped-async-1");
  assert.equal(later.outcome, "upstream_outcome_unknown");
});
