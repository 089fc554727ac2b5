// Hardening (docs/behaviour.md, "Hardening") end to end in workerd: non-HTTP path
// prefixes compared byte for byte, redirects never followed, clear-text bases refused,
// a huge Retry-After passed on capped at a day.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, allOutput, TOKEN } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

let standin, worker;
before(async () => {
  standin = await startStandin();
  worker = await startWorker({
    upstream: standin.url,
    bindings: { ALLOWED_PATH_PREFIXES: "/upload, gs://bucket/daily, https://files.example.com/exports/" },
  });
});
after(async () => {
  await worker?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const start = (w, importId, body) =>
  w.fetch(`/imports/${importId}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: body === undefined ? undefined : JSON.stringify(body) });

it("non-HTTP paths that the HTTP reading let through are refused with 403 and reach nothing", async () => {
  for (const path of [
    "/upload?/../../etc/passwd",
    "/upload#archive/x.csv",
    "/%75pload/x.csv",
    "/upload/../etc/passwd",
    "/uploads/x.csv",
    "gs://bucket/daily?/x",
    "gs://bucket/daily#x.csv",
    "gs://bucket/daily-evil/x.csv",
    "gs://bucket-evil/daily/x.csv",
    "gs://bucket/daily/./x.csv",
  ]) {
    const res = await start(worker, "ok_prefix", { path });
    assert.equal(res.status, 403, `${path}: ${res.text}`);
    assert.equal(res.body.error.code, "path_not_allowed");
  }
  assert.equal(standin.requests.length, 0);
});

it("non-HTTP paths under a prefix at a / boundary start", async () => {
  for (const path of ["/upload/2026/x.csv", "gs://bucket/daily/x.csv", "gs://bucket/daily"]) {
    const res = await start(worker, "ok_prefix2", { path });
    assert.equal(res.status, 200, `${path}: ${res.text}`);
  }
  assert.deepEqual(standin.for("ok_prefix2").map((r) => JSON.parse(r.body).path), ["/upload/2026/x.csv", "gs://bucket/daily/x.csv", "gs://bucket/daily"]);
});

it("a redirect is 502 upstream_error naming the status, never followed or retried", async () => {
  for (const [importId, status] of [["redirect_h1", 302], ["redirect303_h2", 303]]) {
    const res = await start(worker, importId);
    assert.equal(res.status, 502, res.text);
    assert.equal(res.body.error.code, "upstream_error");
    assert.match(res.body.error.message, new RegExp(`^Bloomreach answered ${status}: a redirect`));
    assert.equal(res.body.upstream_status, status);
    assert.equal(res.body.attempts, 1);
  }
  // Exactly the two POSTs: no GET of the login page.
  assert.deepEqual(standin.requests.map((r) => `${r.method} ${r.importId ?? r.path}`), ["POST redirect_h1", "POST redirect303_h2"]);
});

it("a Retry-After of 9999999999 seconds is passed on as at most a day, without a retry", async () => {
  const res = await start(worker, "ratelimitedhuge_h3");
  assert.equal(res.status, 503, res.text);
  assert.equal(res.headers.get("retry-after"), "86400");
  assert.equal(standin.for("ratelimitedhuge_h3").length, 1);
});

it("a clear-text base other than loopback is misconfigured, naming the setting, and sends nothing", async () => {
  for (const base of ["http://api.exponea.com", "http://127.0.0.1.evil.test", "https://api.exponea.com/%2e%2e/x"]) {
    const w = await startWorker({ upstream: base });
    try {
      const res = await start(w, "ok_base");
      assert.equal(res.status, 500, `${base}: ${res.text}`);
      assert.equal(res.body.error.code, "misconfigured");
      assert.match(res.body.error.message, /BLOOMREACH_API_BASE/);
      assert.ok(!res.text.includes("evil"), "the value is not echoed");
    } finally {
      await w.close();
    }
  }
  for (const base of [standin.url, standin.url.replace("127.0.0.1", "localhost")]) {
    const w = await startWorker({ upstream: base });
    try {
      assert.equal((await start(w, "ok_base2")).status, 200, base);
    } finally {
      await w.close();
    }
  }
});

it("no answer or log line of these tests holds a secret", () => {
  assert.ok(allOutput().length > 10);
  assertNoSecrets(allOutput());
});
