// The worker in the real runtime (workerd through miniflare) against the local
// Bloomreach stand-in: one test per row of the documented answer table, each checking
// the answer and exactly what Bloomreach received.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin, closedPort } from "../support/bloomreach-standin.mjs";
import { startWorker, until, allOutput, SECRETS, TOKEN, TOKEN2, PROJECT } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const BASIC = "Basic " + Buffer.from(`${SECRETS.BLOOMREACH_API_KEY_ID}:${SECRETS.BLOOMREACH_API_SECRET}`).toString("base64");
const startPath = (id) => `/data/v1/projects/${PROJECT}/imports/${id}/start`;
let counter = 0;
const id = (scenario) => `${scenario}_t${++counter}`;

let standin, worker;
const answers = [];

/** POST /imports/{id}/start with the first caller token unless told otherwise. */
async function start(importId, { body, token = TOKEN, query = "", headers = {} } = {}, w = worker) {
  const h = { ...headers };
  if (token !== null) h.authorization = `Bearer ${token}`;
  const res = await w.fetch(`/imports/${importId}/start${query}`, { method: "POST", headers: h, body });
  answers.push(res.text, JSON.stringify([...res.headers]));
  return res;
}

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body.ok, false);
  assert.equal(res.body.error.code, code, res.text);
  assert.equal(typeof res.body.error.message, "string");
  assert.match(res.headers.get("content-type"), /application\/json/);
}

before(async () => {
  standin = await startStandin();
  worker = await startWorker({ upstream: standin.url, bindings: { PANIC_TEST_ROUTE: "enabled" } });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

describe("success", () => {
  it("starts an import with no body and no content-type upstream", async () => {
    const importId = id("ok");
    const res = await start(importId);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      { ok: res.body.ok, import_id: res.body.import_id, upstream_status: res.body.upstream_status, attempts: res.body.attempts, api: res.body.api },
      { ok: true, import_id: importId, upstream_status: 200, attempts: 1, api: "data-v1" },
    );
    const [got] = standin.for(importId);
    assert.equal(standin.requests.length, 1);
    assert.equal(got.method, "POST");
    assert.equal(got.path, startPath(importId));
    assert.equal(got.headers.authorization, BASIC);
    assert.equal(got.headers["content-type"], undefined);
    assert.equal(got.bodyBytes, 0);
  });

  it("an empty JSON object also sends no body", async () => {
    const importId = id("ok");
    assert.equal((await start(importId, { body: "{}" })).status, 200);
    assert.equal(standin.for(importId)[0].bodyBytes, 0);
    assert.equal(standin.for(importId)[0].headers["content-type"], undefined);
  });

  it("sends exactly the given fields as JSON with content-type", async () => {
    const importId = id("ok");
    const res = await start(importId, { body: JSON.stringify({ path: "https://files.example.com/exports/a.csv", test_connection: false }) });
    assert.equal(res.status, 200, res.text);
    const [got] = standin.for(importId);
    assert.equal(got.body, '{"path":"https://files.example.com/exports/a.csv","test_connection":false}');
    assert.equal(got.headers["content-type"], "application/json");
  });

  it("imports-v1 uses the run route and path_to_overwrite", async () => {
    const importId = id("ok");
    const res = await start(importId, { body: JSON.stringify({ api: "imports-v1", path: "gs://bucket/x.csv" }) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.api, "imports-v1");
    const [got] = standin.for(importId);
    assert.equal(got.path, `/imports/v1/${PROJECT}/${importId}/run`);
    assert.equal(got.body, '{"path_to_overwrite":"gs://bucket/x.csv"}');
  });

  it("accepts every token of TRIGGER_TOKENS (rotation)", async () => {
    assert.equal((await start(id("ok"), { token: TOKEN2 })).status, 200);
  });

  it("retries a 429 after Retry-After, then succeeds", async () => {
    const importId = id("ratelimitedonce");
    const res = await start(importId);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.attempts, 2);
    const got = standin.for(importId);
    assert.equal(got.length, 2);
    assert.ok(got[1].at - got[0].at >= 900, `waited ${got[1].at - got[0].at} ms`);
  });

  it("retries a 503 once, then succeeds", async () => {
    const importId = id("unavailableonce");
    const res = await start(importId);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.attempts, 2);
    assert.equal(standin.for(importId).length, 2);
  });

  it("a dry run answers with the request, redacted, and calls nothing", async () => {
    const importId = id("ok");
    const res = await start(importId, { query: "?dry_run=1", body: '{"path":"/upload/x.csv"}' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.dry_run, true);
    assert.deepEqual(res.body.request, {
      method: "POST",
      url: `${standin.url}${startPath(importId)}`,
      headers: { authorization: "Basic ***", "content-type": "application/json" },
      body: '{"path":"/upload/x.csv"}',
    });
    assert.equal(standin.requests.length, 0);
  });

  it("a dry run still needs the token", async () => {
    assertError(await start(id("ok"), { query: "?dry_run=1", token: null }), 401, "unauthorized");
  });

  it("GET /healthz answers without auth and shows no setting", async () => {
    const res = await worker.fetch("/healthz");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ok: true });
  });
});

describe("refused before any upstream call", () => {
  it("400 invalid_request: bad JSON, unknown field, wrong type, bad id or path", async () => {
    const cases = [
      [id("ok"), "{", "body"],
      [id("ok"), '{"paht":"/x"}', "paht"],
      [id("ok"), '{"test_connection":"no"}', "test_connection"],
      [id("ok"), '{"path":1}', "path"],
      [id("ok"), '{"api":"v9"}', "api"],
      [id("ok"), '{"path":"/a","path":"/b"}', "duplicate"],
      ["bad.id", "", "import_id"],
      [id("ok"), JSON.stringify({ path: "/a\u0001b" }), "path"],
      [id("ok"), "[1]", "body"],
    ];
    for (const [importId, body, needle] of cases) {
      const res = await start(importId, { body });
      assertError(res, 400, "invalid_request");
      assert.match(res.body.error.message, new RegExp(needle), body);
    }
    assert.equal(standin.requests.length, 0);
  });

  it("401 unauthorized: missing, wrong or malformed token, with WWW-Authenticate", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong-token-0000000000" }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }]) {
      const res = await start(id("ok"), { token: null, headers, body: "{not json" });
      assertError(res, 401, "unauthorized");
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
    }
    assert.equal(standin.requests.length, 0);
  });

  it("404 not_found: unknown route", async () => {
    for (const p of ["/index.html", "/imports", "/imports/a/stop", "/imports/a/start/x"]) {
      const res = await worker.fetch(p, { method: "POST" });
      assertError(res, 404, "not_found");
    }
  });

  it("405 for the operator page's paths with another method than GET", async () => {
    const res = await worker.fetch("/", { method: "POST" });
    assertError(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), "GET, HEAD");
  });

  it("405 method_not_allowed with Allow", async () => {
    const res = await worker.fetch("/imports/abc/start", { method: "GET", headers: { authorization: `Bearer ${TOKEN}` } });
    assertError(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), "POST");
    const health = await worker.fetch("/healthz", { method: "DELETE" });
    assertError(health, 405, "method_not_allowed");
    assert.equal(health.headers.get("allow"), "GET, HEAD");
  });

  it("413 payload_too_large: body over 16 KiB, declared or streamed", async () => {
    const big = JSON.stringify({ path: "/x/" + "a".repeat(17 * 1024) });
    assertError(await start(id("ok"), { body: big }), 413, "payload_too_large");
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < 40; i++) c.enqueue(new TextEncoder().encode("x".repeat(1024))); c.close(); } });
    const res = await fetch(`${worker.url}/imports/${id("ok")}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: stream, duplex: "half" });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "payload_too_large");
    assert.equal(standin.requests.length, 0);
  });

  it("checks run in order: route, method, token, then body", async () => {
    assertError(await worker.fetch("/nope", { method: "GET" }), 404, "not_found");
    assertError(await worker.fetch("/imports/a/start", { method: "PUT" }), 405, "method_not_allowed");
    assertError(await start("bad.id", { token: "wrong-token-0000000000", body: "{" }), 401, "unauthorized");
  });
});

describe("Bloomreach's answers", () => {
  const cases = [
    ["notfound", 404, "import_not_found", /NotFoundError: Import not found/],
    ["rejected", 422, "upstream_rejected", /BadRequest: Import of this type cannot be started/],
    ["badpath", 422, "upstream_rejected", /bad path/],
    ["errlist", 422, "upstream_rejected", /first problem; second problem/],
    ["errmap", 422, "upstream_rejected", /path: must be a URL/],
    ["conflict", 422, "upstream_rejected", /already running/],
    ["empty", 422, "upstream_rejected", /\(empty body\)/],
    ["malformed", 422, "upstream_rejected", /Bloomreach answered 400/],
    ["unauth", 502, "upstream_auth_failed", /Bloomreach answered 401/],
    ["forbidden", 502, "upstream_auth_failed", /No permission to allow trigger imports/],
    ["badauth400", 502, "upstream_auth_failed", /Could not authenticate/],
    ["servererror", 502, "upstream_error", /Internal error/],
    ["badgateway", 502, "upstream_error", /\(HTML page\) 502 Bad Gateway/],
    ["gatewaytimeout", 502, "upstream_error", /Bloomreach answered 504/],
    ["html", 502, "upstream_error", /Something went wrong/],
    ["huge", 502, "upstream_error", /Bloomreach answered 500/],
  ];
  for (const [scenario, status, code, message] of cases) {
    it(`${scenario}: ${status} ${code}, Bloomreach's message passed on, tried once`, async () => {
      const importId = id(scenario);
      const res = await start(importId);
      assertError(res, status, code);
      assert.match(res.body.error.message, message);
      assert.equal(res.body.attempts, 1);
      assert.equal(standin.for(importId).length, 1);
    });
  }

  it("passes Bloomreach's JSON error on in error.upstream", async () => {
    const res = await start(id("notfound"));
    assert.deepEqual(res.body.error.upstream, { success: false, errors: { code: "NotFoundError", message: "Import not found" } });
    assert.equal(res.body.upstream_status, 404);
  });

  it("503 upstream_rate_limited: still 429 after every attempt, with Retry-After", async () => {
    const importId = id("ratelimited");
    const res = await start(importId);
    assertError(res, 503, "upstream_rate_limited");
    assert.equal(res.headers.get("retry-after"), "1");
    const received = standin.for(importId).length;
    assert.equal(res.body.attempts, received);
    assert.ok(received >= 2 && received <= 4, `${received} attempts`);
  });

  it("a Retry-After past the deadline is not waited for", async () => {
    const importId = id("ratelimitedlong");
    const t0 = Date.now();
    const res = await start(importId);
    assertError(res, 503, "upstream_rate_limited");
    assert.equal(res.headers.get("retry-after"), "120");
    assert.equal(standin.for(importId).length, 1);
    assert.ok(Date.now() - t0 < 3000);
  });

  it("504 upstream_unreachable: a hang past the attempt timeout, tried once", async () => {
    const importId = id("hang");
    const t0 = Date.now();
    const res = await start(importId);
    assertError(res, 504, "upstream_unreachable");
    assert.match(res.body.error.message, /may or may not have started/);
    assert.equal(standin.for(importId).length, 1);
    assert.ok(Date.now() - t0 < 6000);
  });

  it("504 upstream_unreachable: a connection reset, tried once", async () => {
    const importId = id("reset");
    assertError(await start(importId), 504, "upstream_unreachable");
    assert.equal(standin.for(importId).length, 1);
  });

  it("a 200 whose body is cut off is still a start", async () => {
    const importId = id("resetbody");
    const res = await start(importId);
    assert.equal(res.status, 200, res.text);
    assert.equal(standin.for(importId).length, 1);
  });
});

describe("settings", () => {
  it("403 path_not_allowed outside ALLOWED_PATH_PREFIXES, including look-alikes", async () => {
    const w = await startWorker({ upstream: standin.url, bindings: { ALLOWED_PATH_PREFIXES: "https://files.example.com/exports/" } });
    try {
      for (const path of ["https://files.example.com.evil.test/exports/a.csv", "https://files.example.com@evil.test/exports/a.csv", "https://files.example.com/exports/../x", "https://files.example.com/exports/%2e%2e/x", "HTTP://files.example.com/exports/a.csv"]) {
        assertError(await start(id("ok"), { body: JSON.stringify({ path }) }, w), 403, "path_not_allowed");
      }
      assert.equal(standin.requests.length, 0);
      assert.equal((await start(id("ok"), { body: JSON.stringify({ path: "https://FILES.example.com/exports/a.csv" }) }, w)).status, 200);
    } finally {
      await w.close();
    }
  });

  it("500 misconfigured names the missing settings, never their values", async () => {
    const w = await startWorker({ upstream: standin.url, bindings: { BLOOMREACH_API_SECRET: undefined, BLOOMREACH_PROJECT_TOKEN: undefined, BLOOMREACH_API_BASE: "ftp://nope" } });
    try {
      const res = await start(id("ok"), {}, w);
      assertError(res, 500, "misconfigured");
      assert.match(res.body.error.message, /BLOOMREACH_API_SECRET is not set/);
      assert.match(res.body.error.message, /BLOOMREACH_PROJECT_TOKEN is not set/);
      assert.match(res.body.error.message, /BLOOMREACH_API_BASE/);
      assert.doesNotMatch(res.body.error.message, /ftp:\/\/nope/);
      assert.equal(standin.requests.length, 0);
      // Bad input is reported before settings.
      assertError(await start("bad.id", {}, w), 400, "invalid_request");
      assertNoSecrets([...w.logs, res.text], 2);
    } finally {
      await w.close();
    }
  });

  it("500 misconfigured when TRIGGER_TOKENS is not set", async () => {
    const w = await startWorker({ upstream: standin.url, bindings: { TRIGGER_TOKENS: undefined } });
    try {
      const res = await start(id("ok"), {}, w);
      assertError(res, 500, "misconfigured");
      assert.match(res.body.error.message, /TRIGGER_TOKENS/);
    } finally {
      await w.close();
    }
  });

  it("504 upstream_unreachable when nothing listens at the base", async () => {
    const w = await startWorker({ upstream: `http://127.0.0.1:${await closedPort()}` });
    try {
      assertError(await start(id("ok"), {}, w), 504, "upstream_unreachable");
    } finally {
      await w.close();
    }
  });
});

describe("logs and panics", () => {
  it("logs one JSON line per trigger with the documented fields", async () => {
    const importId = id("notfound");
    await start(importId);
    assert.ok(await until(() => worker.jsonLogs().some((l) => l.import_id === importId)));
    const lines = worker.jsonLogs().filter((l) => l.import_id === importId);
    assert.equal(lines.length, 1);
    assert.deepEqual(
      { api: lines[0].api, outcome: lines[0].outcome, upstream_status: lines[0].upstream_status, attempts: lines[0].attempts, cause: lines[0].cause },
      { api: "data-v1", outcome: "import_not_found", upstream_status: 404, attempts: 1, cause: "http:token#1" },
    );
    assert.equal(typeof lines[0].duration_ms, "number");
  });

  it("a panic is logged and later requests are still served", async () => {
    const anonymous = await worker.fetch("/__panic", { method: "POST" });
    assert.equal(anonymous.status, 401, "the panic route needs a valid token");
    assert.equal(anonymous.body.error.code, "unauthorized");
    const wrong = await worker.fetch("/__panic", { method: "POST", headers: { authorization: "Bearer wrong-token-0123456789" } });
    assert.equal(wrong.status, 401);
    assert.ok(!worker.logs.some((l) => l.includes('"event":"panic"')), "no panic without a token");
    const res = await worker.fetch("/__panic", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 500);
    assert.ok(await until(() => worker.logs.some((l) => l.includes('"event":"panic"'))), worker.logs.join("\n"));
    const importId = id("ok");
    const after = await start(importId);
    assert.equal(after.status, 200, after.text);
    assert.equal(standin.for(importId).length, 1);
  });

  it("no answer or log line holds a secret or token, in any encoding", () => {
    assert.ok(answers.length > 40);
    assertNoSecrets([...answers, ...allOutput()]);
  });
});
