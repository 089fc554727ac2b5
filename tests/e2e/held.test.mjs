// Holding a start Bloomreach pushed back, end to end in workerd: an accepted
// (`Prefer: respond-async`) start still rate limited when its attempts run out stays
// in progress with `next_attempt_at`, and the ledger object's alarm tries it again
// (miniflare runs real alarms; HISTORY_TEST_HOOKS lets a test run the alarm's work
// too) until it ends; each try logs `cause: "held:..."`; never a second try of one
// due time, never a try after an ambiguous outcome. A cron job is held alike, without
// failing its event; a redelivery skips it.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, TOKEN, PROJECT } from "../support/worker-harness.mjs";

let standin, worker, brief;
before(async () => {
  standin = await startStandin();
  // A try waits for the stand-in's slow answer (800 ms) with room to spare on a loaded machine.
  const bindings = { UPSTREAM_MAX_ATTEMPTS: "1", HISTORY_TEST_HOOKS: "enabled", UPSTREAM_ATTEMPT_TIMEOUT_MS: "5000" };
  const SCHEDULES = { "0 3 * * *": [{ import_id: "ratelimited3_cronheld", path: "/exports/{date}.csv" }] };
  worker = await startWorker({ upstream: standin.url, bindings: { ...bindings, SCHEDULES: JSON.stringify(SCHEDULES) } });
  brief = await startWorker({ upstream: standin.url, bindings: { ...bindings, HOLD_MAX_SECONDS: 3 } });
});
after(async () => {
  await worker?.close();
  await brief?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const start = (w, importId, key) =>
  w.fetch(`/imports/${importId}/start`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, prefer: "respond-async", ...(key ? { "idempotency-key": key } : {}) },
  });
const startEntry = async (w, id) => {
  const res = await w.fetch(`/starts/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, res.text);
  return res.body.start;
};
/** The entry `id` once `predicate` holds for it (at most `ms`). */
async function entryWhen(w, id, predicate, ms = 15000) {
  let last;
  const end = Date.now() + ms;
  do {
    last = await startEntry(w, id);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < end);
  return last;
}
const ended = (w, id, ms) => entryWhen(w, id, (e) => e.outcome !== "in_progress", ms);
const object = () => `ledger\n${standin.url.toLowerCase()}\n${PROJECT}\n`;

it("a pushed-back start is held with next_attempt_at, tried again from the alarm, and ends ok", async () => {
  const res = await start(worker, "ratelimited3_held1", "held-key-1");
  assert.equal(res.status, 202, res.text);
  const id = res.body.start_id;
  const held = await entryWhen(worker, id, (e) => e.next_attempt_at !== undefined);
  assert.equal(held.outcome, "in_progress");
  assert.match(held.next_attempt_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(held.upstream_status, 429);
  // While held, a repeat with the key gets the same 202.
  const again = await start(worker, "ratelimited3_held1", "held-key-1");
  assert.equal(again.status, 202, again.text);
  assert.equal(again.body.start_id, id);
  const done = await ended(worker, id);
  assert.equal(done.outcome, "ok", JSON.stringify(done));
  assert.equal(done.attempts, 4);
  assert.equal(done.next_attempt_at, undefined);
  assert.equal(standin.for("ratelimited3_held1").length, 4, "the 3 refused tries and one accepted");
  const tries = worker.jsonLogs().filter((l) => l.import_id === "ratelimited3_held1" && l.cause === "held:http:token#1");
  assert.equal(tries.length, 3);
  assert.deepEqual(tries.map((l) => l.outcome), ["upstream_rate_limited", "upstream_rate_limited", "ok"]);
  // Ended: the key replays what it ended with.
  const later = await start(worker, "ratelimited3_held1", "held-key-1");
  assert.equal(later.status, 200, later.text);
  assert.equal(later.headers.get("idempotent-replayed"), "true");
  assert.equal(standin.for("ratelimited3_held1").length, 4);
});

it("a held start gives up after HOLD_MAX_SECONDS as upstream_rate_limited, and its key is released", async () => {
  const res = await start(brief, "ratelimited_held2", "held-key-2");
  assert.equal(res.status, 202, res.text);
  const done = await ended(brief, res.body.start_id);
  assert.equal(done.outcome, "upstream_rate_limited", JSON.stringify(done));
  const sent = standin.for("ratelimited_held2").length;
  assert.ok(sent >= 2 && sent <= 5, `tried a few times within 3 s: ${sent}`);
  for (const r of standin.for("ratelimited_held2")) assert.ok(r.at - standin.for("ratelimited_held2")[0].at <= 3500);
  const again = await start(brief, "ratelimited_held2", "held-key-2");
  assert.equal(again.status, 202, "nothing started, so a repeat makes a new start");
  assert.notEqual(again.body.start_id, res.body.start_id);
  await ended(brief, again.body.start_id);
});

it("an ambiguous outcome of a held try (500) ends it and is never tried again", async () => {
  const res = await start(worker, "limitedthen500_held3");
  assert.equal(res.status, 202, res.text);
  const done = await ended(worker, res.body.start_id);
  assert.equal(done.outcome, "upstream_error", JSON.stringify(done));
  assert.equal(done.upstream_status, 500);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(standin.for("limitedthen500_held3").length, 2);
});

it("the alarm's work run twice, during a try, sends no second try", async () => {
  const res = await start(worker, "limitedthenslow_held4");
  assert.equal(res.status, 202, res.text);
  const id = res.body.start_id;
  await entryWhen(worker, id, (e) => e.next_attempt_at !== undefined);
  await new Promise((r) => setTimeout(r, 1100)); // its time has come
  // Three deliveries at once (and the real alarm): one try.
  await Promise.all([1, 2, 3].map(() => worker.ledgerCall(object(), { op: "alarm" })));
  const done = await ended(worker, id);
  assert.equal(done.outcome, "ok", JSON.stringify(done));
  await worker.ledgerCall(object(), { op: "alarm" });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(standin.for("limitedthenslow_held4").length, 2, "one pushed back, one accepted");
  assert.ok(await until(() => worker.jsonLogs().filter((l) => l.import_id === "limitedthenslow_held4" && l.cause?.startsWith("held:")).length === 1));
});

it("a cron job pushed back is held: its event does not fail, a redelivery skips it, and it ends ok", async () => {
  const at = Date.now();
  const first = await worker.fireScheduled("0 3 * * *", at);
  assert.equal(first.outcome, "ok");
  assert.equal(first.noRetry, false);
  const again = await worker.fireScheduled("0 3 * * *", at);
  assert.equal(again.outcome, "ok", "a redelivery skips the held job");
  assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === "ratelimited3_cronheld" && l.outcome === "skipped")));
  assert.ok(await until(() => standin.for("ratelimited3_cronheld").length === 4, 15000), `sent ${standin.for("ratelimited3_cronheld").length}`);
  const res = await worker.fetch("/starts?import_id=ratelimited3_cronheld&cause=cron", { headers: { authorization: `Bearer ${TOKEN}` } });
  const run = res.body.starts.find((e) => e.outcome !== "skipped");
  const done = await ended(worker, run.id);
  assert.equal(done.outcome, "ok", JSON.stringify(done));
  assert.equal(done.attempts, 4);
  assert.equal(done.cron, "0 3 * * *");
  const tries = worker.jsonLogs().filter((l) => l.import_id === "ratelimited3_cronheld" && l.cause === "held:cron:0 3 * * *");
  assert.equal(tries.length, 3);
  for (const r of standin.for("ratelimited3_cronheld")) assert.match(JSON.parse(r.body).path, /^\/exports\/\d{4}-\d\d-\d\d\.csv$/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(standin.for("ratelimited3_cronheld").length, 4);
});
