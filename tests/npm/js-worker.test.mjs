// The npm package inside a Cloudflare Worker written in JavaScript: installed from its
// tarball into a fresh folder, bundled by the project's pinned wrangler (as `wrangler
// deploy` would, through the package's "workerd" export condition), run in workerd
// with no nodejs_compat flag, and used against the Bloomreach stand-in.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { COMPATIBILITY_DATE } from "../support/worker-harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KEY = "jsworker-key-id-91c2";
const SECRET = "jsworker-secret-Hh27";
const BASIC = "Basic " + Buffer.from(`${KEY}:${SECRET}`).toString("base64");

const WORKER = `
import { buildStartImportRequest, startImport } from "bloomreach-import-trigger";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const options = {
      projectToken: "proj-js",
      apiKeyId: env.BLOOMREACH_API_KEY_ID,
      apiSecret: env.BLOOMREACH_API_SECRET,
      baseUrl: env.BLOOMREACH_API_BASE,
      importId: url.searchParams.get("id"),
    };
    try {
      if (url.pathname === "/build") return Response.json(buildStartImportRequest(options));
      return Response.json(await startImport(options));
    } catch (e) {
      return Response.json({ thrown: true, code: e.code, message: e.message }, { status: 400 });
    }
  },
};
`;

let dir, standin, mf, base;
before(async () => {
  const tarball = fs.readdirSync(path.join(root, "npm/pkg")).find((f) => f.endsWith(".tgz"));
  assert.ok(tarball, "npm/pkg holds no tarball: run scripts/build-npm");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bit-jsworker-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "js-worker-consumer", private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", path.join(root, "npm/pkg", tarball)], { cwd: dir, stdio: "pipe" });
  fs.writeFileSync(path.join(dir, "worker.mjs"), WORKER);
  fs.writeFileSync(path.join(dir, "wrangler.toml"), `name = "js-consumer"\nmain = "worker.mjs"\ncompatibility_date = "${COMPATIBILITY_DATE}"\n`);
  // The bundle `wrangler deploy` would upload, without uploading it.
  execFileSync(path.join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", "out"], {
    cwd: dir,
    stdio: "pipe",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", DO_NOT_TRACK: "1", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  const out = path.join(dir, "out");
  const files = fs.readdirSync(out);
  const modules = files
    .filter((f) => f.endsWith(".js") || f.endsWith(".wasm"))
    .sort((a, b) => (a === "worker.js" ? -1 : b === "worker.js" ? 1 : 0))
    .map((f) => ({ type: f.endsWith(".wasm") ? "CompiledWasm" : "ESModule", path: path.join(out, f), contents: fs.readFileSync(path.join(out, f)) }));
  assert.ok(modules.some((m) => m.type === "CompiledWasm"), `the bundle carries the wasm: ${files.join(", ")}`);
  standin = await startStandin();
  mf = new Miniflare({
    modules,
    modulesRoot: out,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { BLOOMREACH_API_KEY_ID: KEY, BLOOMREACH_API_SECRET: SECRET, BLOOMREACH_API_BASE: standin.url },
    host: "127.0.0.1",
    port: 0,
  });
  base = (await mf.ready).toString().replace(/\/$/, "");
});
after(async () => {
  await mf?.dispose();
  await standin?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => standin.reset());

const get = async (p) => {
  const res = await fetch(base + p);
  return { status: res.status, body: await res.json() };
};

it("buildStartImportRequest works inside a JavaScript Worker", async () => {
  const { status, body } = await get("/build?id=imp-js");
  assert.equal(status, 200, JSON.stringify(body));
  assert.deepEqual(body, { method: "POST", url: `${standin.url}/data/v1/projects/proj-js/imports/imp-js/start`, headers: { authorization: BASIC }, body: null });
  assert.equal(standin.requests.length, 0);
});

it("startImport sends the start from workerd, and invalid options still throw with their code", async () => {
  const { body } = await get("/start?id=ok_jsworker");
  assert.deepEqual(body, { ok: true, status: 200, attempts: 1 });
  const [got] = standin.for("ok_jsworker");
  assert.equal(got.headers.authorization, BASIC);
  const refused = await get("/start?id=notfound_jsworker");
  assert.equal(refused.body.code, "import_not_found");
  const bad = await get("/build?id=a%20b");
  assert.equal(bad.status, 400);
  assert.deepEqual([bad.body.thrown, bad.body.code], [true, "invalid_request"]);
  assert.match(bad.body.message, /^importId:/);
});
