// Cron events delivered again, as Cloudflare may deliver a failed scheduled event
// (docs/behaviour.md, "Cron events"): the same event (cron and scheduled time) fired
// twice starts each job that succeeded or may have started once, starts again a job
// whose outcome proved nothing started, and reports noRetry as docs/behaviour.md says.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const AT = Date.UTC(2026, 10, 28, 8, 0);
const NEXT_DAY = AT + 86_400_000;

const SCHEDULES = {
  "0 8 * * *": [
    { import_id: "ok_first" },
    { import_id: "servererror_second" },
    { import_id: "notfound_third" },
    { import_id: "unavailable_fourth" },
  ],
  "0 9 * * *": [{ import_id: "ok_fifth" }, { import_id: "servererror_sixth" }],
  "0 10 * * *": [{ import_id: "ok_seventh" }],
  "0 11 * * *": [{ import_id: "unavailable_eighth" }],
};

let standin, worker;
before(async () => {
  standin = await startStandin();
  // HOLD_MAX_SECONDS 1: no job pushed back is held (its next try would come later), so a
  // 503 fails its event as without holding; held jobs are tests/e2e/held.test.mjs's.
  worker = await startWorker({ upstream: standin.url, bindings: { SCHEDULES: JSON.stringify(SCHEDULES), UPSTREAM_MAX_ATTEMPTS: "2", HOLD_MAX_SECONDS: "1" } });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const count = (id) => standin.for(id).length;
const logsOf = (w, id) => w.jsonLogs().filter((l) => l.import_id === id);

it("a redelivered event starts again only the jobs whose outcome proved nothing started", async () => {
  const first = await worker.fireScheduled("0 8 * * *", AT);
  assert.deepEqual(first, { outcome: "exception", noRetry: false }, "a retryable job (503) makes a redelivery worth having");
  assert.deepEqual(["ok_first", "servererror_second", "notfound_third", "unavailable_fourth"].map(count), [1, 1, 1, 2]);

  const again = await worker.fireScheduled("0 8 * * *", AT);
  assert.deepEqual(again, { outcome: "exception", noRetry: false });
  // Started (200) and may-have-started (500) jobs: not again. Refused (404) and
  // rate-limited (503) jobs proved nothing started: started again.
  assert.deepEqual(["ok_first", "servererror_second", "notfound_third", "unavailable_fourth"].map(count), [1, 1, 2, 4]);
  assert.ok(await until(() => logsOf(worker, "servererror_second").some((l) => l.outcome === "skipped")));
  const skippedOk = logsOf(worker, "ok_first").find((l) => l.outcome === "skipped");
  assert.equal(skippedOk.recorded_outcome, "ok");
  assert.match(skippedOk.first_ran_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(skippedOk.first_ran_at) - Date.now()) < 60_000, "first_ran_at is when it first ran");
  assert.equal(logsOf(worker, "servererror_second").find((l) => l.outcome === "skipped").recorded_outcome, "upstream_error");

  // Another scheduled time is another event: every job starts.
  await worker.fireScheduled("0 8 * * *", NEXT_DAY);
  assert.deepEqual(["ok_first", "servererror_second", "notfound_third", "unavailable_fourth"].map(count), [2, 2, 3, 6]);
});

it("a failed event with no retryable outcome calls noRetry; a successful one never does", async () => {
  assert.deepEqual(await worker.fireScheduled("0 9 * * *", AT), { outcome: "exception", noRetry: true });
  assert.deepEqual(await worker.fireScheduled("0 10 * * *", AT), { outcome: "ok", noRetry: false });
  // Fired again: the success is recorded, nothing starts, and the event still succeeds.
  assert.deepEqual(await worker.fireScheduled("0 10 * * *", AT), { outcome: "ok", noRetry: false });
  assert.equal(count("ok_seventh"), 1);
  // The failure is recorded as the job's latest outcome: still a failure, still no retry.
  assert.deepEqual(await worker.fireScheduled("0 9 * * *", AT), { outcome: "exception", noRetry: true });
  assert.deepEqual([count("ok_fifth"), count("servererror_sixth")], [1, 1]);
});

it("without the ledger: noRetry whenever a job may have started, since a redelivery would start it again", async () => {
  const bare = await startWorker({ upstream: standin.url, ledger: false, bindings: { SCHEDULES: JSON.stringify(SCHEDULES), UPSTREAM_MAX_ATTEMPTS: "2" } });
  try {
    assert.deepEqual(await bare.fireScheduled("0 8 * * *", AT), { outcome: "exception", noRetry: true });
    assert.deepEqual(await bare.fireScheduled("0 11 * * *", AT), { outcome: "exception", noRetry: false }, "only a 503: nothing started");
    assert.deepEqual(await bare.fireScheduled("0 10 * * *", AT), { outcome: "ok", noRetry: false });
    // Fired again without a ledger, it does start again: why the ledger is shipped.
    await bare.fireScheduled("0 10 * * *", AT);
    assert.equal(count("ok_seventh"), 2);
  } finally {
    await bare.close();
  }
});

it("a misconfigured event fails; with the ledger it calls noRetry", async () => {
  assert.deepEqual(await worker.fireScheduled("0 12 * * *", AT), { outcome: "exception", noRetry: true });
  assert.equal(standin.requests.length, 0);
});

it("no answer or log line holds a secret", () => {
  assert.ok(allOutput().length > 10);
  assertNoSecrets(allOutput());
});
