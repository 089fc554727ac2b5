// The scheduled handler in the real runtime: every job of the firing cron is started
// with its rendered path, failures fail the event, configuration errors name the job.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, PROJECT } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const MARCH_1_2024_0300 = Date.UTC(2024, 2, 1, 3, 0);
const JAN_1_2025_0015 = Date.UTC(2025, 0, 1, 0, 15);

const SCHEDULES = {
  "0 3 * * *": [
    { import_id: "customers-daily", path: "https://files.example.com/exports/{date}/customers.csv", time_offset: "-1d" },
    { import_id: "events-v1", api: "imports-v1", path: "gs://bucket/{year}/{month}/{day}/{hour}{minute}-{timestamp}.csv", test_connection: false },
  ],
  "15 0 * * *": [
    { import_id: "yearly", path: "/sftp/{year}/{date}.csv", time_offset: "-30m" },
  ],
  "0 4 * * *": [
    { import_id: "ok-one" },
    { import_id: "notfound_cron" },
    { import_id: "ok-two" },
  ],
  "0 5 * * *": [
    { import_id: "ok-before" },
    { import_id: "bad-template", path: "/x/{dat}.csv" },
    { path: "/no-id.csv" },
    { import_id: "bad-offset", time_offset: "yesterday" },
    { import_id: "ok-after" },
  ],
  "*/10 * * * *": Array.from({ length: 9 }, (_, i) => ({ import_id: `slow_${i}` })),
  "0 6 * * *": [],
};

let standin, worker;
before(async () => {
  standin = await startStandin();
  worker = await startWorker({ upstream: standin.url, bindings: { SCHEDULES: JSON.stringify(SCHEDULES) } });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const jobLogs = (cron) => worker.jsonLogs().filter((l) => l.cause === `cron:${cron}`);

it("starts every job of the cron with paths rendered from the scheduled time", async () => {
  assert.equal(await worker.scheduled("0 3 * * *", MARCH_1_2024_0300), "ok");
  const [customers] = standin.for("customers-daily");
  assert.equal(customers.path, `/data/v1/projects/${PROJECT}/imports/customers-daily/start`);
  assert.equal(customers.body, '{"path":"https://files.example.com/exports/2024-02-29/customers.csv"}');
  assert.equal(customers.headers["content-type"], "application/json");
  const [events] = standin.for("events-v1");
  assert.equal(events.path, `/imports/v1/${PROJECT}/events-v1/run`);
  const ts = MARCH_1_2024_0300 / 1000;
  assert.equal(events.body, `{"path_to_overwrite":"gs://bucket/2024/03/01/0300-${ts}.csv","test_connection":false}`);
  assert.equal(standin.requests.length, 2);
});

it("a negative offset crosses the year boundary", async () => {
  assert.equal(await worker.scheduled("15 0 * * *", JAN_1_2025_0015), "ok");
  assert.equal(standin.for("yearly")[0].body, '{"path":"/sftp/2024/2024-12-31.csv"}');
});

it("one failing job fails the event, after every job was started", async () => {
  assert.equal(await worker.scheduled("0 4 * * *", MARCH_1_2024_0300), "exception");
  assert.deepEqual(standin.requests.map((r) => r.importId).sort(), ["notfound_cron", "ok-one", "ok-two"]);
  assert.ok(await until(() => jobLogs("0 4 * * *").length >= 3));
  const failed = jobLogs("0 4 * * *").find((l) => l.import_id === "notfound_cron");
  assert.equal(failed.outcome, "import_not_found");
  assert.equal(failed.job, 'SCHEDULES["0 4 * * *"][1]');
});

it("bad jobs are reported by cron and index; the good ones still start", async () => {
  assert.equal(await worker.scheduled("0 5 * * *", MARCH_1_2024_0300), "exception");
  assert.deepEqual(standin.requests.map((r) => r.importId).sort(), ["ok-after", "ok-before"]);
  assert.ok(await until(() => jobLogs("0 5 * * *").length >= 5));
  const messages = jobLogs("0 5 * * *").filter((l) => l.outcome === "misconfigured").map((l) => l.message).sort();
  assert.equal(messages.length, 3);
  assert.match(messages[0], /^SCHEDULES\["0 5 \* \* \*"\]\[1\]\.path: unknown placeholder \{dat\}/);
  assert.match(messages[1], /^SCHEDULES\["0 5 \* \* \*"\]\[2\]\.import_id: is required/);
  assert.match(messages[2], /^SCHEDULES\["0 5 \* \* \*"\]\[3\]\.time_offset:/);
});

it("runs at most six starts at once, and all of them", async () => {
  assert.equal(await worker.scheduled("*/10 * * * *", MARCH_1_2024_0300), "ok");
  assert.equal(standin.requests.length, 9);
  assert.ok(standin.stats.maxInFlight <= 6, `max in flight ${standin.stats.maxInFlight}`);
  assert.ok(standin.stats.maxInFlight >= 2, `max in flight ${standin.stats.maxInFlight}`);
});

it("a cron with an empty job list does nothing and succeeds", async () => {
  assert.equal(await worker.scheduled("0 6 * * *", MARCH_1_2024_0300), "ok");
  assert.equal(standin.requests.length, 0);
});

it("a cron missing from SCHEDULES fails the event, naming the cron", async () => {
  assert.equal(await worker.scheduled("0 7 * * *", MARCH_1_2024_0300), "exception");
  assert.ok(await until(() => jobLogs("0 7 * * *").length >= 1));
  assert.match(jobLogs("0 7 * * *")[0].message, /SCHEDULES: has no jobs for cron "0 7 \* \* \*"/);
});

it("a broken SCHEDULES fails the event with a message naming it", async () => {
  const w = await startWorker({ upstream: standin.url, bindings: { SCHEDULES: "{ not json" } });
  try {
    assert.equal(await w.scheduled("0 3 * * *", MARCH_1_2024_0300), "exception");
    assert.ok(await until(() => w.jsonLogs().some((l) => l.outcome === "misconfigured")));
    assert.match(w.jsonLogs().find((l) => l.outcome === "misconfigured").message, /^SCHEDULES: is not valid JSON/);
    assert.equal(standin.requests.length, 0);
  } finally {
    await w.close();
  }
});

it("SCHEDULES may also be a structured [vars] table", async () => {
  const w = await startWorker({ upstream: standin.url, bindings: { SCHEDULES: { "0 3 * * *": [{ import_id: "from-table" }] } } });
  try {
    assert.equal(await w.scheduled("0 3 * * *", MARCH_1_2024_0300), "ok");
    assert.equal(standin.for("from-table").length, 1);
  } finally {
    await w.close();
  }
});

it("no log line of any cron run holds a secret", () => {
  assert.ok(allOutput().length > 10);
  assertNoSecrets(allOutput());
});
