// Faults and bad input, end to end in workerd: for each way Bloomreach can fail, the
// documented answer, how many requests Bloomreach received (exactly one for every
// ambiguous outcome) and that the whole start kept within the deadline; the same for a
// cron run of several jobs. Then bad input: the documented answer and no upstream call.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin, closedPort } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, TOKEN, TOKEN2 } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";
import { FAULTS, FAULT_LIMITS } from "../support/faults.mjs";

const LIMITS = {
  UPSTREAM_ATTEMPT_TIMEOUT_MS: String(FAULT_LIMITS.attemptTimeoutMs),
  UPSTREAM_DEADLINE_MS: String(FAULT_LIMITS.deadlineMs),
  UPSTREAM_MAX_ATTEMPTS: String(FAULT_LIMITS.maxAttempts),
};
const DEADLINE_MS = FAULT_LIMITS.deadlineMs;
const SLACK_MS = 1000;

let standin, worker;
before(async () => {
  standin = await startStandin();
  const schedules = { "0 1 * * *": FAULTS.map(({ scenario }) => ({ import_id: `${scenario}_cron` })) };
  worker = await startWorker({ upstream: standin.url, bindings: { ...LIMITS, SCHEDULES: JSON.stringify(schedules), ALLOWED_PATH_PREFIXES: "https://files.example.com/exports/,/upload" } });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const post = (importId, { body, headers = { authorization: `Bearer ${TOKEN}` } } = {}) =>
  worker.fetch(`/imports/${importId}/start`, { method: "POST", headers, body });

describe("the fault matrix, HTTP endpoint", () => {
  for (const { scenario, status, code, requests } of FAULTS) {
    it(`${scenario}: ${status} ${code ?? "ok"}, ${requests} request(s), within the deadline`, async () => {
      const importId = `${scenario}_http`;
      const t0 = Date.now();
      const res = await post(importId);
      const elapsed = Date.now() - t0;
      assert.equal(res.status, status, res.text);
      if (code) assert.equal(res.body.error.code, code);
      assert.equal(standin.for(importId).length, requests);
      assert.equal(res.body.attempts, requests);
      assert.ok(elapsed < DEADLINE_MS + SLACK_MS, `${elapsed} ms`);
    });
  }

  it("refused (nothing listening): 504, one attempt", async () => {
    const w = await startWorker({ upstream: `http://127.0.0.1:${await closedPort()}`, bindings: LIMITS });
    try {
      const res = await w.fetch("/imports/x/start", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 504);
      assert.equal(res.body.error.code, "upstream_unreachable");
      assert.equal(res.body.attempts, 1);
    } finally {
      await w.close();
    }
  });
});

describe("the fault matrix, one cron run of all of them", () => {
  it("every job is tried as often as the policy allows, and the event fails", async () => {
    const t0 = Date.now();
    assert.equal(await worker.scheduled("0 1 * * *", Date.UTC(2025, 0, 1, 1)), "exception");
    assert.ok(Date.now() - t0 < 2 * DEADLINE_MS + SLACK_MS, `${Date.now() - t0} ms`);
    for (const { scenario, requests } of FAULTS) {
      assert.equal(standin.for(`${scenario}_cron`).length, requests, scenario);
    }
    assert.ok(await until(() => worker.jsonLogs().filter((l) => l.cause === "cron:0 1 * * *").length >= FAULTS.length));
    const outcomes = Object.fromEntries(worker.jsonLogs().filter((l) => l.cause === "cron:0 1 * * *").map((l) => [l.import_id, l.outcome]));
    for (const { scenario, code } of FAULTS) assert.equal(outcomes[`${scenario}_cron`], code ?? "ok", scenario);
  });
});

describe("bad input gets its documented answer and no upstream call", () => {
  it("invalid UTF-8, deep nesting, duplicate keys, non-objects: 400", async () => {
    const bodies = [
      Buffer.from([0x7b, 0x22, 0x70, 0x61, 0x74, 0x68, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      '{"path":' + "[".repeat(10000),
      '{"path":"/upload/a","path":"/upload/b"}',
      '{"api":"data-v1","api":"imports-v1"}',
      "null",
      '"x"',
      "{}{}",
    ];
    for (const body of bodies) {
      const res = await post("ok_bad", { body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.code, "invalid_request");
    }
    const closed = '{"path":' + "[".repeat(10000) + "]".repeat(10000) + "}";
    assert.equal((await post("ok_bad", { body: closed })).status, 413);
    assert.equal(standin.requests.length, 0);
  });

  it("oversize headers are refused before the worker", async () => {
    const res = await worker.fetch("/imports/ok_bad/start", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "x-big": "x".repeat(200 * 1024) } }).catch((e) => ({ status: 0, error: e }));
    assert.equal(res.status, 431, "the runtime answers 431 Request Header Fields Too Large");
    assert.equal(standin.requests.length, 0);
  });

  it("path overrides that try to leave ALLOWED_PATH_PREFIXES: 403 (or 400 for white space)", async () => {
    const forbidden = [
      "https://files.example.com.evil.test/exports/a.csv",
      "https://files.example.com@evil.test/exports/a.csv",
      "https://evil.test\\@files.example.com/exports/a.csv",
      "https://files.example.com/exports%2F..%2Fsecret.csv",
      "https://files.example.com/exports/%2e%2e/secret.csv",
      "https://files.example.com/exports/..%2fsecret.csv",
      "https://files.example.com/Exports/a.csv",
      "https://files.example.com/exportsx/a.csv",
      "https://files.example.com:444/exports/a.csv",
      "/upload/../etc/passwd",
      "//files.example.com/exports/a.csv",
    ];
    for (const path of forbidden) {
      const res = await post("ok_bad", { body: JSON.stringify({ path }) });
      assert.equal(res.status, 403, `${path}: ${res.text}`);
      assert.equal(res.body.error.code, "path_not_allowed");
    }
    for (const path of ["https://files.example.com/exports/a.csv ", " /upload/a.csv", "/upload/a\tb.csv"]) {
      const res = await post("ok_bad", { body: JSON.stringify({ path }) });
      assert.equal(res.status, 400, `${JSON.stringify(path)}: ${res.text}`);
    }
    assert.equal(standin.requests.length, 0);
  });

  it("wrong token schemes, prefixes and suffixes: 401", async () => {
    for (const authorization of [`Token ${TOKEN}`, `Basic ${TOKEN}`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}0`, `Bearer ${TOKEN},${TOKEN2}`, `Bearer  ${TOKEN} x`, `Bearer ${TOKEN.toUpperCase()}`, "Bearer", ""]) {
      const res = await post("ok_bad", { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
    }
    assert.equal(standin.requests.length, 0);
  });

  it("import ids that are not plain ids in the path: 400", async () => {
    for (const raw of ["a%2Fb", "a.b", "%00", "x".repeat(129), "%F0%9F%92%A9", "a%20b"]) {
      const res = await worker.fetch(`/imports/${raw}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 400, raw);
      assert.match(res.body.error.message, /^import_id:/);
    }
    assert.equal(standin.requests.length, 0);
  });

  it("no answer or log line holds a secret", () => {
    assertNoSecrets(allOutput(), 40);
  });
});
