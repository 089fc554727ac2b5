// The README's run command, as a newcomer uses it: `scripts/dev` with no credentials
// starts the Bloomreach stand-in and `wrangler dev`, prints a curl line that works,
// and the stand-in shows exactly what Bloomreach would receive; a cron fires too.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { closedPort } from "../support/bloomreach-standin.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let dev;
let output = "";
let port;

/** Waits until the dev command's output matches `pattern`, at most `ms`. */
function waitFor(pattern, ms) {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      const m = output.match(pattern);
      if (m) return resolve(m);
      if (Date.now() > end) return reject(new Error(`no ${pattern} in the dev command's output within ${ms} ms:\n${output.slice(-3000)}`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

before(async () => {
  assert.ok(!fs.existsSync(path.join(root, ".dev.vars")), "this test runs without .dev.vars (the stand-in mode)");
  port = await closedPort();
  // Its own process group, so the stand-in and workerd stop with it.
  dev = spawn("bash", [path.join(root, "scripts/dev")], { cwd: root, env: { ...process.env, PORT: String(port), DEV_PERSIST_TO: fs.mkdtempSync(path.join(os.tmpdir(), "bit-dev-state-")) }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  dev.stdout.on("data", (d) => { output += d; });
  dev.stderr.on("data", (d) => { output += d; });
  await waitFor(/The worker is running/, 120000);
});

after(() => {
  if (dev?.pid) {
    try { process.kill(-dev.pid, "SIGTERM"); } catch { /* already gone */ }
  }
});

it("prints a curl line whose start reaches the stand-in, which shows the request", async () => {
  const [, token] = await waitFor(/Authorization: Bearer (dev-token-[0-9a-f]+)/, 1000);
  const res = await fetch(`http://127.0.0.1:${port}/imports/my-import/start`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ path: "https://files.example.com/exports/2026-11-27/customers.csv" }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.ok, true);
  await waitFor(/\[bloomreach stand-in\] POST \/data\/v1\/projects\/demo-project\/imports\/my-import\/start/, 5000);
  await waitFor(/body:\s+\{"path":"https:\/\/files\.example\.com\/exports\/2026-11-27\/customers\.csv"\}/, 5000);
});

it("fires the daily cron with a chosen time, as the README shows", async () => {
  const time = Date.UTC(2026, 10, 28, 3, 0);
  const res = await fetch(`http://127.0.0.1:${port}/cdn-cgi/handler/scheduled?cron=0+3+*+*+*&time=${time}&format=json`);
  assert.deepEqual(await res.json(), { outcome: "ok", noRetry: false });
  await waitFor(/imports\/customers-daily\/start[\s\S]*exports\/2026-11-27\/customers\.csv/, 5000);
});

it("a wrong token is refused", async () => {
  const res = await fetch(`http://127.0.0.1:${port}/imports/my-import/start`, { method: "POST", headers: { authorization: "Bearer nope-nope-nope-nope" } });
  assert.equal(res.status, 401);
});

it("prints the operator page's address, which serves the page, and its token reads the history", async () => {
  const [, address] = await waitFor(/Open the operator page, (http:\/\/127\.0\.0\.1:\d+\/) /, 1000);
  const page = await fetch(address);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<label for="token">Caller token<\/label>/);
  const [, token] = await waitFor(/Authorization: Bearer (dev-token-[0-9a-f]+)/, 1000);
  const schedules = await fetch(`${address}schedules`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(schedules.status, 200);
  assert.ok((await schedules.json()).schedules.some((s) => s.cron === "0 3 * * *"));
});
