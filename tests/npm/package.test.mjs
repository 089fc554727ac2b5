// The npm package as a user gets it: packed, installed from the tarball into a fresh
// folder, loaded with require and import in Node 22 and Node 20.9, and used against
// the local Bloomreach stand-in.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStandin, closedPort } from "../support/bloomreach-standin.mjs";
import { startWorker, PROJECT, TOKEN } from "../support/worker-harness.mjs";
import { FAULTS, FAULT_LIMITS } from "../support/faults.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NODE22 = process.execPath;
const NODE20 = path.join(root, "tests/npm/node20/node_modules/.bin/node");
const KEY = "npm-key-id-5e1d";
const SECRET = "npm-api-secret-Zk81";
const BASIC = "Basic " + Buffer.from(`${KEY}:${SECRET}`).toString("base64");

let dir, pkg, standin;
const base = () => ({ projectToken: "proj-1", apiKeyId: KEY, apiSecret: SECRET, baseUrl: standin.url });

before(async () => {
  const tarball = fs.readdirSync(path.join(root, "npm/pkg")).find((f) => f.endsWith(".tgz"));
  assert.ok(tarball, "npm/pkg holds no tarball: run scripts/build-npm");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bit-npm-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", path.join(root, "npm/pkg", tarball)], { cwd: dir, stdio: "pipe" });
  pkg = createRequire(path.join(dir, "package.json"))("bloomreach-import-trigger");
  standin = await startStandin();
});
after(async () => {
  await standin?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => standin.reset());

/** Runs a script in the consumer folder with the given Node; returns stdout. */
function run(node, args, env = {}) {
  const r = spawnSync(node, args, { cwd: dir, encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const [name, node] of [["Node 22", NODE22], ["Node 20.9", NODE20]]) {
  it(`${name}: require and import both load the package`, () => {
    const version = run(node, ["--version"]).stdout.trim();
    assert.match(version, name === "Node 22" ? /^v22\./ : /^v20\.9\./);
    const cjs = run(node, ["-e", "const p = require('bloomreach-import-trigger'); console.log(typeof p.buildStartImportRequest, typeof p.startImport)"]);
    assert.equal(cjs.stdout.trim(), "function function", cjs.stderr);
    const esm = run(node, ["--input-type=module", "-e", "import { buildStartImportRequest, startImport } from 'bloomreach-import-trigger'; import d from 'bloomreach-import-trigger'; console.log(typeof buildStartImportRequest, typeof startImport, typeof d.startImport)"]);
    assert.equal(esm.stdout.trim(), "function function function", esm.stderr);
    const built = run(node, ["-e", "console.log(require('bloomreach-import-trigger').buildStartImportRequest({projectToken:'p',importId:'i',apiKeyId:'k',apiSecret:'s'}).url)"]);
    assert.equal(built.stdout.trim(), "https://api.exponea.com/data/v1/projects/p/imports/i/start", built.stderr);
  });
}

it("buildStartImportRequest gives the exact request with no body", () => {
  const r = pkg.buildStartImportRequest({ ...base(), importId: "imp-1" });
  assert.deepEqual(r, { method: "POST", url: `${standin.url}/data/v1/projects/proj-1/imports/imp-1/start`, headers: { authorization: BASIC }, body: null });
});

it("buildStartImportRequest gives the exact request with a body, both APIs", () => {
  const data = pkg.buildStartImportRequest({ ...base(), importId: "i", path: "https://f.example.com/a.csv", testConnection: false });
  assert.deepEqual(data.headers, { authorization: BASIC, "content-type": "application/json" });
  assert.equal(data.body, '{"path":"https://f.example.com/a.csv","test_connection":false}');
  const v1 = pkg.buildStartImportRequest({ ...base(), importId: "i", path: "gs://b/x.csv", api: "imports-v1" });
  assert.equal(v1.url, `${standin.url}/imports/v1/proj-1/i/run`);
  assert.equal(v1.body, '{"path_to_overwrite":"gs://b/x.csv"}');
});

it("invalid options throw at once an Error with code invalid_request naming the option", async () => {
  for (const [options, name] of [[{ ...base(), importId: "a b" }, "importId"], [{ ...base(), importId: "i", baseUrl: "ftp://x" }, "baseUrl"], [{ ...base(), importId: "i", baseUrl: "http://api.exponea.com" }, "baseUrl"], [{ ...base(), importId: "i", baseUrl: "http://127.0.0.1.evil.test" }, "baseUrl"], [{ ...base(), importId: "i", testConnection: "no" }, "testConnection"], [{ ...base(), importId: "i", colour: 1 }, "colour"], [{ importId: "i" }, "projectToken"]]) {
    assert.throws(() => pkg.buildStartImportRequest(options), (e) => e instanceof Error && e.code === "invalid_request" && e.message.includes(name));
    await assert.rejects(pkg.startImport(options), (e) => e instanceof Error && e.code === "invalid_request" && e.message.includes(name));
  }
  assert.throws(() => pkg.buildStartImportRequest(null), (e) => e.code === "invalid_request");
  assert.equal(standin.requests.length, 0);
});

it("startImport starts an import against Bloomreach", async () => {
  const result = await pkg.startImport({ ...base(), importId: "ok_npm1", path: "/upload/a.csv" });
  assert.deepEqual(result, { ok: true, status: 200, attempts: 1 });
  const [got] = standin.for("ok_npm1");
  assert.equal(got.headers.authorization, BASIC);
  assert.equal(got.body, '{"path":"/upload/a.csv"}');
  assert.equal(got.headers["content-type"], "application/json");
});

it("startImport maps a 404 to import_not_found with Bloomreach's message", async () => {
  const result = await pkg.startImport({ ...base(), importId: "notfound_npm" });
  assert.deepEqual(result, { ok: false, status: 404, attempts: 1, code: "import_not_found", message: "Bloomreach answered 404: NotFoundError: Import not found" });
});

it("startImport retries a 429 and then succeeds", async () => {
  const result = await pkg.startImport({ ...base(), importId: "ratelimitedonce_npm" });
  assert.deepEqual(result, { ok: true, status: 200, attempts: 2 });
  assert.equal(standin.for("ratelimitedonce_npm").length, 2);
});

it("startImport: the fault matrix gives the documented codes, the policy's request counts, within the deadline", async () => {
  const { deadlineMs, attemptTimeoutMs, maxAttempts } = FAULT_LIMITS;
  for (const { scenario, code, requests } of FAULTS) {
    const importId = `${scenario}_npmfault`;
    const t0 = Date.now();
    const result = await pkg.startImport({ ...base(), importId, maxAttempts, attemptTimeoutMs, deadlineMs });
    assert.ok(Date.now() - t0 < deadlineMs + 1000, `${scenario}: ${Date.now() - t0} ms`);
    assert.equal(result.ok, code === null, `${scenario}: ${JSON.stringify(result)}`);
    if (code) assert.equal(result.code, code, scenario);
    assert.equal(standin.for(importId).length, requests, scenario);
    assert.equal(result.attempts, requests, scenario);
  }
  const refused = await pkg.startImport({ ...base(), importId: "x", baseUrl: `http://127.0.0.1:${await closedPort()}`, maxAttempts: 2 });
  assert.equal(refused.code, "upstream_unreachable");
  assert.equal(refused.status, null);
  assert.equal(refused.attempts, 2, "a refused connection proves nothing was sent, so it is retried");
});

it("an injected fetch is used", async () => {
  const calls = [];
  const fakeFetch = async (url, init) => {
    calls.push({ url, init });
    return new Response('{"success": true}', { status: 200 });
  };
  const result = await pkg.startImport({ ...base(), importId: "injected", baseUrl: "https://api.example.test", fetch: fakeFetch });
  assert.deepEqual(result, { ok: true, status: 200, attempts: 1 });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "https://api.example.test/data/v1/projects/proj-1/imports/injected/start");
  assert.equal(calls[0].init.headers.authorization, BASIC);
  assert.equal(calls[0].init.body, undefined);
  assert.equal(standin.requests.length, 0);
});

const cliEnv = () => ({ BLOOMREACH_PROJECT_TOKEN: "proj-1", BLOOMREACH_API_KEY_ID: KEY, BLOOMREACH_API_SECRET: SECRET, BLOOMREACH_API_BASE: standin.url });
/** Runs the installed CLI without blocking this process (the stand-in lives here). */
function cli(args, env = cliEnv(), node = NODE22) {
  return new Promise((resolve) => {
    const child = spawn(node, [path.join(dir, "node_modules/.bin/bloomreach-import-trigger"), ...args], { cwd: dir, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

it("the CLI starts an import and exits 0", async () => {
  const r = await cli(["start", "ok_cli", "--path", "/upload/x.csv", "--no-test-connection"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Started import ok_cli \(Bloomreach answered 200, attempts: 1\)/);
  assert.equal(standin.for("ok_cli")[0].body, '{"path":"/upload/x.csv","test_connection":false}');
});

it("the CLI prints JSON with --json and a redacted dry run", async () => {
  const r = await cli(["start", "ok_cli2", "--json", "--api", "imports-v1"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: true, status: 200, attempts: 1 });
  const dry = await cli(["start", "ok_cli3", "--dry-run", "--json"]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(JSON.parse(dry.stdout).request.headers.authorization, "Basic ***");
  assert.equal(standin.for("ok_cli3").length, 0);
  assert.ok(!dry.stdout.includes(SECRET) && !dry.stdout.includes(BASIC.slice(6)));
});

it("the CLI's exit codes tell input, refusal, auth and reachability apart", async () => {
  assert.equal((await cli(["start", "bad.id"])).status, 2);
  assert.equal((await cli(["stop", "x"])).status, 2);
  assert.equal((await cli(["start", "x"], { ...cliEnv(), BLOOMREACH_PROJECT_TOKEN: "" })).status, 2);
  assert.equal((await cli(["start", "notfound_cli"])).status, 3);
  assert.equal((await cli(["start", "unauth_cli"])).status, 4);
  assert.equal((await cli(["start", "servererror_cli"])).status, 5);
  const r = await cli(["start", "x"], { ...cliEnv(), BLOOMREACH_API_BASE: `http://127.0.0.1:${await closedPort()}` });
  assert.equal(r.status, 5);
  assert.match(r.stderr, /upstream_unreachable/);
});

it("the TypeScript declarations type-check a usage file", () => {
  const usage = `
import { buildStartImportRequest, startImport, type StartImportResult } from "bloomreach-import-trigger";
const req = buildStartImportRequest({ projectToken: "p", importId: "i", apiKeyId: "k", apiSecret: "s" });
const body: string | null = req.body;
async function go(): Promise<number> {
  const r: StartImportResult = await startImport({ projectToken: "p", importId: "i", apiKeyId: "k", apiSecret: "s", api: "imports-v1", testConnection: false });
  if (r.ok) return r.status;
  const code: string = r.code;
  return r.status ?? code.length;
}
const ws = buildStartImportRequest({ workspaceId: "w", importId: "i", apiKeyId: "k", apiSecret: "s", path: "s3://b/x.csv" });
const wsHub = buildStartImportRequest({ workspaceId: "w", importId: "i", apiKeyId: "k", apiSecret: "s", api: "data-hub" });
const both = buildStartImportRequest({ projectToken: "p", workspaceId: "w", importId: "i", apiKeyId: "k", apiSecret: "s", api: "data-hub" });
void body; void go; void ws; void wsHub; void both;
`;
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  const flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom"];
  fs.writeFileSync(path.join(dir, "usage.ts"), usage);
  const ok = run(NODE22, [tsc, ...flags, "usage.ts"]);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const common = `importId: "i", apiKeyId: "k", apiSecret: "s"`;
  for (const [why, call] of [
    ["missing required options", `buildStartImportRequest({ projectToken: "p" });`],
    ["no project token or workspace id", `buildStartImportRequest({ ${common} });`],
    ["data-hub without a workspace id", `buildStartImportRequest({ projectToken: "p", ${common}, api: "data-hub" });`],
    ["data-v1 without a project token", `buildStartImportRequest({ workspaceId: "w", ${common}, api: "data-v1" });`],
    ["an unknown api", `buildStartImportRequest({ projectToken: "p", ${common}, api: "v3" });`],
  ]) {
    fs.writeFileSync(path.join(dir, "bad.ts"), usage + `\n${call}\n`);
    const fail = run(NODE22, [tsc, ...flags, "bad.ts"]);
    assert.notEqual(fail.status, 0, `${why} must not type-check`);
    assert.match(fail.stdout, /bad\.ts\(\d+,\d+\): error TS/, `${why}: the error is in the call`);
  }
});

it("Data hub: a workspace id alone starts the workspace's import, with and without a body", async () => {
  const hub = { workspaceId: "ws-7", apiKeyId: KEY, apiSecret: SECRET, baseUrl: standin.url };
  const built = pkg.buildStartImportRequest({ ...hub, importId: "dw-1" });
  assert.deepEqual(built, { method: "POST", url: `${standin.url}/data/v2/workspaces/ws-7/imports/dw-1/start`, headers: { authorization: BASIC }, body: null });
  assert.deepEqual(pkg.buildStartImportRequest({ workspaceId: "w", importId: "i", apiKeyId: KEY, apiSecret: SECRET }).url, "https://api.bloomreach.com/data/v2/workspaces/w/imports/i/start");
  const started = await pkg.startImport({ ...hub, importId: "ok_dw", path: "s3://bucket/x.csv", testConnection: false });
  assert.deepEqual(started, { ok: true, status: 200, attempts: 1 });
  const [got] = standin.for("ok_dw");
  assert.equal(got.path, "/data/v2/workspaces/ws-7/imports/ok_dw/start");
  assert.equal(got.body, '{"path":"s3://bucket/x.csv","test_connection":false}');
  assert.equal(got.headers["content-type"], "application/json");
  const forbidden = await pkg.startImport({ ...hub, importId: "forbidden_dw" });
  assert.equal(forbidden.code, "upstream_auth_failed");
  assert.match(forbidden.message, /No permission/);
  assert.throws(() => pkg.buildStartImportRequest({ ...hub, importId: "i", api: "data-v1" }), (e) => e.code === "invalid_request" && /^projectToken:/.test(e.message));
  assert.throws(() => pkg.buildStartImportRequest({ ...base(), importId: "i", api: "data-hub" }), (e) => e.code === "invalid_request" && /^workspaceId:/.test(e.message));
});

it("the CLI takes --workspace or BLOOMREACH_WORKSPACE_ID, and prints its version", async () => {
  const env = { BLOOMREACH_API_KEY_ID: KEY, BLOOMREACH_API_SECRET: SECRET, BLOOMREACH_API_BASE: standin.url, BLOOMREACH_PROJECT_TOKEN: "" };
  const flag = await cli(["start", "ok_cliws", "--workspace", "ws-9", "--json"], env);
  assert.equal(flag.status, 0, flag.stdout + flag.stderr);
  assert.equal(standin.for("ok_cliws")[0].path, "/data/v2/workspaces/ws-9/imports/ok_cliws/start");
  const fromEnv = await cli(["start", "ok_cliws", "--dry-run", "--json"], { ...env, BLOOMREACH_WORKSPACE_ID: "ws-env" });
  assert.equal(fromEnv.status, 0, fromEnv.stderr);
  assert.equal(JSON.parse(fromEnv.stdout).request.url, `${standin.url}/data/v2/workspaces/ws-env/imports/ok_cliws/start`);
  const version = await cli(["--version"]);
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(root, "npm/package.json"), "utf8")).version);
});

it("startImport never follows a redirect: 502-style upstream_error naming the status, one request", async () => {
  const result = await pkg.startImport({ ...base(), importId: "redirect_n1" });
  assert.equal(result.ok, false);
  assert.equal(result.code, "upstream_error");
  assert.equal(result.status, 302);
  assert.equal(result.attempts, 1);
  assert.match(result.message, /^Bloomreach answered 302: a redirect/);
  assert.deepEqual(standin.requests.map((r) => `${r.method} ${r.path}`), [`POST /data/v1/projects/proj-1/imports/redirect_n1/start`]);
});

for (const [name, node] of [["Node 22", NODE22], ["Node 20.9", NODE20]]) {
  it(`${name}: the CLI refuses an unknown option, clearly, with the usage exit code 2 and nothing sent`, async () => {
    for (const [args, shown] of [
      [["start", "ok_cliunk", "--colour"], "--colour"],
      [["start", "ok_cliunk", "-x"], "-x"],
      [["--colour", "start", "ok_cliunk"], "--colour"],
      [["start", "ok_cliunk", "--dry-run=yes"], "--dry-run"],
    ]) {
      const r = await cli(args, cliEnv(), node);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.ok(r.stderr.includes(shown), `${args.join(" ")}: the message names ${shown}: ${r.stderr}`);
      assert.match(r.stderr, /usage: bloomreach-import-trigger start <import_id>/);
      assert.equal(r.stdout, "");
    }
    assert.match((await cli(["start", "ok_cliunk", "--colour"], cliEnv(), node)).stderr, /^unknown option --colour\n/);
    assert.match((await cli(["start", "ok_cliunk", "--json=yes"], cliEnv(), node)).stderr, /'--json' does not take an argument/);
    assert.equal(standin.for("ok_cliunk").length, 0);
  });

  it(`${name}: the CLI refuses an option missing its value instead of taking the next option as it`, async () => {
    const last = await cli(["start", "ok_climiss", "--path"], cliEnv(), node);
    assert.equal(last.status, 2, last.stdout + last.stderr);
    assert.match(last.stderr, /^--path needs a value\n/);
    for (const args of [["start", "ok_climiss", "--dry-run", "--path", "--json"], ["start", "ok_climiss", "--api", "--dry-run"], ["start", "ok_climiss", "--workspace", "--json"]]) {
      const r = await cli(args, cliEnv(), node);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`'${args.at(-2)}' argument is ambiguous`), r.stderr);
      assert.equal(r.stdout, "");
    }
    assert.equal(standin.for("ok_climiss").length, 0);
  });

  it(`${name}: the CLI takes --option=value as well as --option value`, async () => {
    const path = "https://files.example.com/x.csv?day=2026-12-01&a=b";
    const r = await cli(["start", "ok_clieq", `--path=${path}`, "--api=imports-v1", "--no-test-connection", "--json"], cliEnv(), node);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { ok: true, status: 200, attempts: 1 });
    const [got] = standin.for("ok_clieq");
    assert.equal(got.path, "/imports/v1/proj-1/ok_clieq/run");
    assert.deepEqual(JSON.parse(got.body), { path_to_overwrite: path, test_connection: false });
    const ws = await cli(["start", "ok_clieq2", "--workspace=ws-eq", "--path=-leading-dash.csv", "--dry-run", "--json"], cliEnv(), node);
    assert.equal(ws.status, 0, ws.stderr);
    const { request } = JSON.parse(ws.stdout);
    assert.equal(request.url, `${standin.url}/data/v1/projects/proj-1/imports/ok_clieq2/start`, "a project token in the environment keeps data-v1");
    assert.equal(JSON.parse(request.body).path, "-leading-dash.csv");
    const hub = await cli(["start", "ok_clieq3", "--workspace=ws-eq", "--api=data-hub", "--dry-run", "--json"], cliEnv(), node);
    assert.equal(JSON.parse(hub.stdout).request.url, `${standin.url}/data/v2/workspaces/ws-eq/imports/ok_clieq3/start`, hub.stderr);
  });
}

it("the CLI lists a deployed worker's history: a table, JSON lines, filters, --limit, every page of the cursor", async () => {
  const worker = await startWorker({ upstream: standin.url, bindings: { TRIGGER_TOKENS: `ci-2026-12:${TOKEN}`, HISTORY_TEST_HOOKS: "enabled" } });
  try {
    const env = { BLOOMREACH_TRIGGER_TOKEN: TOKEN };
    const post = (id) => fetch(`${worker.url}/imports/${id}/start`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal((await post("ok_clihist")).status, 200);
    assert.equal((await post("notfound_clihist")).status, 404);
    // 250 entries: more than the CLI's page of 200, so it follows the cursor.
    const object = `ledger\n${standin.url.toLowerCase()}\n${PROJECT}\n`;
    assert.deepEqual(await worker.ledgerCall(object, { op: "fill", count: 250, started_ms: Date.now() - 3_600_000, import_id: "cli_fill" }), { count: 252 });
    await new Promise((r) => setTimeout(r, 200)); // the unkeyed starts' entries are written after their answers
    const table = await cli(["starts", "--worker", worker.url], env);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    assert.match(lines[0], /^STARTED_AT\s+IMPORT_ID\s+BY\s+OUTCOME\s+STATUS\s+ATTEMPTS\s+MS\s+MESSAGE$/);
    assert.equal(lines.length, 253);
    assert.match(lines[1], /^\d{4}-\d\d-\d\dT[\d:.]+Z\s+notfound_clihist\s+http ci-2026-12\s+import_not_found\s+404\s+1\s+\d+\s+Bloomreach answered 404/);
    assert.match(lines[2], /ok_clihist\s+http ci-2026-12\s+ok\s+200\s+1/);
    const json = await cli(["starts", "--worker", worker.url, "--import-id", "cli_fill", "--json"], env);
    assert.equal(json.status, 0, json.stderr);
    const entries = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(entries.length, 250);
    assert.equal(new Set(entries.map((e) => e.id)).size, 250, "each entry once across pages");
    const failed = await cli(["starts", "--worker", worker.url, "--outcome", "failed", "--json"], env);
    assert.deepEqual(failed.stdout.trim().split("\n").map((l) => JSON.parse(l).import_id), ["notfound_clihist"]);
    const limited = await cli(["starts", `--worker=${worker.url}`, "--limit", "3", "--json"], env);
    assert.equal(limited.stdout.trim().split("\n").length, 3);
    const none = await cli(["starts", "--worker", worker.url, "--import-id", "never_started"], env);
    assert.equal(none.stdout.trim(), "No starts recorded.");
    for (const out of [table, json, failed, limited]) assert.ok(!out.stdout.includes(TOKEN) && !out.stderr.includes(TOKEN));
    // The worker refuses: exit 1, its code and message shown.
    const refused = await cli(["starts", "--worker", worker.url], { BLOOMREACH_TRIGGER_TOKEN: "wrong-token-0000000000" });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^The worker refused: 401 unauthorized: /);
    const badOutcome = await cli(["starts", "--worker", worker.url, "--outcome", "maybe", "--json"], env);
    assert.equal(badOutcome.status, 1);
    assert.equal(JSON.parse(badOutcome.stdout).error.code, "invalid_request");
    const unreachable = await cli(["starts", "--worker", `http://127.0.0.1:${await closedPort()}`], env);
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /^Could not reach the worker/);
    // Input the CLI refuses itself: exit 2, nothing sent.
    for (const [args, cliEnvironment, message] of [
      [["starts", "--worker", worker.url], {}, /^BLOOMREACH_TRIGGER_TOKEN is not set/],
      [["starts"], env, /^starts needs --worker URL/],
      [["starts", "--worker", "http://worker.example.com"], env, /^--worker must be https/],
      [["starts", "--worker", worker.url, "--limit", "0"], env, /^--limit must be a whole number/],
      [["starts", "--worker", worker.url, "--token", TOKEN], env, /^unknown option --token/],
      [["starts", "--worker", worker.url, "--path", "/x"], env, /^starts takes no option --path/],
      [["start", "x", "--worker", worker.url], env, /^start takes no option --worker/],
    ]) {
      const r = await cli(args, { BLOOMREACH_TRIGGER_TOKEN: "", ...cliEnvironment });
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    await worker.close();
  }
});

it("the CLI prints its usage with --help and -h, on stdout, exit 0", async () => {
  for (const args of [["--help"], ["-h"], ["start", "x", "--help"]]) {
    const r = await cli(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: bloomreach-import-trigger start <import_id>/);
    for (const option of ["--path", "--no-test-connection", "--api", "--workspace", "--dry-run", "--json", "--version", "--help"]) {
      assert.ok(r.stdout.includes(option), `the usage names ${option}`);
    }
    assert.equal(r.stderr, "");
  }
});

// A fresh clone has no npm/wasm/, npm/index.d.mts or npm/LICENSE (git-ignored build
// outputs of scripts/build-npm): `npm pack` or `npm publish` in npm/ must refuse
// rather than ship a package whose `require` fails. The clone is simulated by copying
// the committed sources the check reads, in the repository's layout, into a temp dir.
it("npm pack in npm/ of a fresh clone refuses, naming what is missing and the command that builds it; once built it packs", () => {
  const clone = fs.mkdtempSync(path.join(os.tmpdir(), "bit-clone-"));
  try {
    const outputs = new Set(["wasm", "pkg", "node_modules", "index.d.mts", "LICENSE"]);
    fs.cpSync(path.join(root, "npm"), path.join(clone, "npm"), { recursive: true, filter: (src) => !outputs.has(path.relative(path.join(root, "npm"), src)) });
    for (const f of ["Cargo.toml", "Cargo.lock", "LICENSE", "crates/js/Cargo.toml", "crates/js/src", "crates/core/Cargo.toml", "crates/core/src"]) {
      fs.cpSync(path.join(root, f), path.join(clone, f), { recursive: true });
    }
    const dest = path.join(clone, "out");
    fs.mkdirSync(dest);
    const pack = () => spawnSync("npm", ["pack", "--json", "--pack-destination", dest, "--loglevel=error"], { cwd: path.join(clone, "npm"), encoding: "utf8" });
    const tarballs = () => fs.readdirSync(dest).filter((f) => f.endsWith(".tgz"));

    const fresh = pack();
    assert.notEqual(fresh.status, 0, "npm pack of an unbuilt package must fail");
    for (const f of ["npm/wasm/node/bloomreach_import_trigger_js.js", "npm/wasm/node/bloomreach_import_trigger_js_bg.wasm", "npm/wasm/bundler/bloomreach_import_trigger_js.js", "npm/wasm/bundler/bloomreach_import_trigger_js_bg.wasm", "npm/index.d.mts", "npm/LICENSE"]) {
      assert.ok(fresh.stderr.includes(f), `the refusal names ${f}: ${fresh.stderr}`);
    }
    assert.match(fresh.stderr, /refusing to pack/);
    assert.ok(fresh.stderr.includes("`bash scripts/build-npm` from the repository root"), fresh.stderr);
    assert.deepEqual(tarballs(), []);

    // Built (the outputs of this checkout's scripts/build-npm, newer than the sources): it packs them.
    const hourAgo = new Date(Date.now() - 3_600_000);
    const age = (dir) => {
      for (const f of fs.readdirSync(dir, { recursive: true })) fs.utimesSync(path.join(dir, f), hourAgo, hourAgo);
    };
    age(path.join(clone, "crates"));
    for (const f of ["Cargo.toml", "Cargo.lock"]) fs.utimesSync(path.join(clone, f), hourAgo, hourAgo);
    for (const f of ["wasm", "index.d.mts", "LICENSE"]) fs.cpSync(path.join(root, "npm", f), path.join(clone, "npm", f), { recursive: true });
    const built = pack();
    assert.equal(built.status, 0, built.stderr);
    const shipped = JSON.parse(built.stdout)[0].files.map((f) => f.path);
    for (const f of ["wasm/node/bloomreach_import_trigger_js.js", "wasm/node/bloomreach_import_trigger_js_bg.wasm", "wasm/bundler/bloomreach_import_trigger_js_bg.wasm", "index.d.mts", "LICENSE", "bin/cli.cjs"]) {
      assert.ok(shipped.includes(f), `the tarball holds ${f}`);
    }
    assert.ok(!shipped.some((f) => f.startsWith("scripts/")), "the pack check is not shipped");
    assert.equal(tarballs().length, 1);

    // A Rust source edited after the build: the wasm is stale, so it refuses again.
    fs.rmSync(path.join(dest, tarballs()[0]));
    const edited = path.join(clone, "crates/core/src/lib.rs");
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(edited, later, later);
    const stale = pack();
    assert.notEqual(stale.status, 0, "a wasm older than its Rust must not be packed");
    assert.match(stale.stderr, /npm\/wasm\/ is older than the Rust it is built from \(changed since: crates\/core\/src\/lib\.rs\)/);
    assert.ok(stale.stderr.includes("bash scripts/build-npm"), stale.stderr);
    fs.utimesSync(edited, hourAgo, hourAgo);

    // index.d.mts is a copy of index.d.cts: a copy left from before an edit is refused.
    fs.appendFileSync(path.join(clone, "npm/index.d.cts"), "\n// edited\n");
    const drifted = pack();
    assert.notEqual(drifted.status, 0);
    assert.match(drifted.stderr, /npm\/index\.d\.mts differs from npm\/index\.d\.cts/);
    assert.deepEqual(tarballs(), []);
  } finally {
    fs.rmSync(clone, { recursive: true, force: true });
  }
});
