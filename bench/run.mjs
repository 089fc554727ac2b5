// The benchmark: size, startup and throughput of the Rust worker, side by side with
// the floor (the Bloomreach stand-in called directly) and a plain JavaScript worker
// (bench/js-baseline). Every server listens on 127.0.0.1 and is stopped at the end.
// Not a test: it prints figures and asserts nothing. Run through scripts/bench.
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { startStandinProcess } from "../tests/support/bloomreach-standin.mjs";
import { SECRETS, TOKEN, PROJECT, COMPATIBILITY_DATE } from "../tests/support/worker-harness.mjs";
import { perRequestMicros } from "./in-process.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DURATION_S = Number(process.env.BENCH_SECONDS || 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 16);
const STARTUP_RUNS = 5;

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const gz = (file) => zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
const size = (file) => fs.statSync(file).size;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function row(cells) {
  console.log("| " + cells.join(" | ") + " |");
}

// ---- sizes
const workerWasm = path.join(root, "build/index_bg.wasm");
const workerJs = path.join(root, "build/index.js");
const npmWasm = path.join(root, "npm/wasm/node/bloomreach_import_trigger_js_bg.wasm");
const tarball = fs.readdirSync(path.join(root, "npm/pkg")).filter((f) => f.endsWith(".tgz")).map((f) => path.join(root, "npm/pkg", f))[0];
const uploadFiles = [workerWasm, workerJs];
const upload = uploadFiles.reduce((n, f) => n + size(f), 0);
const uploadGz = uploadFiles.reduce((n, f) => n + gz(f), 0);
const baselineJs = path.join(root, "bench/js-baseline/worker.mjs");

console.log(`\nbloomreach-import-trigger benchmark, ${new Date().toISOString()}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}\n`);
console.log("## Size\n");
row(["what", "raw", "gzipped", "goal"]);
row(["---", "---", "---", "---"]);
row(["worker wasm", kb(size(workerWasm)), kb(gz(workerWasm)), "budget <= 128 KB gz"]);
row(["worker JS glue (index.js)", kb(size(workerJs)), kb(gz(workerJs)), ""]);
row(["worker upload in all", kb(upload), kb(uploadGz), ""]);
row(["JS baseline worker", kb(size(baselineJs)), kb(gz(baselineJs)), ""]);
row(["npm wasm", kb(size(npmWasm)), kb(gz(npmWasm)), "budget <= 64 KB gz"]);
row(["npm tarball", kb(size(tarball)), "", ""]);

// ---- the code alone (bench/in-process.mjs)
console.log("\n## Per-request cost of the code alone (in this Node process, fetch answered in-process; median of 7 batches of 2000, taking turns)\n");
const own = await perRequestMicros({ workerJs, workerWasm, baselineJs, env: { ...SECRETS, BLOOMREACH_PROJECT_TOKEN: PROJECT, BLOOMREACH_API_BASE: "http://127.0.0.1:9" }, token: TOKEN });
row(["route", "Rust us/request", "JS baseline us/request", "JS / Rust (as throughput)"]);
row(["---", "---", "---", "---"]);
for (const route of ["start", "404"]) {
  row([route === "start" ? "POST /imports/{id}/start" : "GET /nope (404)", own[route].rust.toFixed(1), own[route].js.toFixed(1), (own[route].js / own[route].rust).toFixed(2)]);
}

// ---- servers
function miniflareFor(kind, upstream) {
  const bindings = { ...SECRETS, BLOOMREACH_PROJECT_TOKEN: PROJECT, BLOOMREACH_API_BASE: upstream, ...(kind === "jslog" ? { LOG_LINE: "1" } : {}) };
  // Log lines are read and dropped, as a log pipeline would take them.
  const drain = (stream) => stream.resume();
  const common = { modules: true, compatibilityDate: COMPATIBILITY_DATE, bindings, host: "127.0.0.1", port: 0, handleRuntimeStdio: (out, err) => { drain(out); drain(err); } };
  // The Rust worker runs as it ships (wrangler.toml): with its ledger object, so an
  // unkeyed start writes its history entry as it will in production.
  const ledger = kind.startsWith("rust") ? { durableObjects: { START_LEDGER: { className: "StartLedger", useSQLite: true } } } : {};
  return kind.startsWith("rust")
    ? new Miniflare({ ...common, ...ledger, scriptPath: workerJs, modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }] })
    : new Miniflare({ ...common, scriptPath: baselineJs });
}

async function startupMs(kind, upstream) {
  const times = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const t0 = performance.now();
    const mf = miniflareFor(kind, upstream);
    const url = await mf.ready;
    const res = await fetch(new URL("/healthz", url));
    await res.text();
    times.push(performance.now() - t0);
    await mf.dispose();
  }
  return median(times);
}

function load(url, path, headers, method = "POST") {
  return new Promise((resolve, reject) => {
    // idReplacement: "[<id>]" in a header becomes a new id for every request.
    autocannon({ url: url + path, method, headers, connections: CONNECTIONS, duration: DURATION_S, idReplacement: true }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const standin = await startStandinProcess();
try {
  console.log("\n## Startup (cold start of the local runtime to its first answer, median of 5)\n");
  const rustStart = await startupMs("rust", standin.url);
  const jsStart = await startupMs("js", standin.url);
  row(["worker", "ms"]);
  row(["---", "---"]);
  row(["Rust (this worker)", rustStart.toFixed(0)]);
  row(["JS baseline", jsStart.toFixed(0)]);

  console.log(`\n## Throughput: POST /imports/{id}/start, ${CONNECTIONS} connections, ${DURATION_S} s a run, mean of ${process.env.BENCH_ROUNDS || 3} rounds\n`);
  // Each worker is measured ROUNDS times, the workers taking turns, and the rounds are
  // averaged: on a small machine the order of runs otherwise shows in the figures.
  const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
  const runs = { floor: [], rust: [], js: [], jslog: [], rust404: [], js404: [], rustkey: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.floor.push(await load(standin.url, `/data/v1/projects/${PROJECT}/imports/bench/start`, { authorization: "Basic eDp5" }));
    for (const kind of ["rust", "js", "jslog"]) {
      const mf = miniflareFor(kind, standin.url);
      const url = String(await mf.ready).replace(/\/$/, "");
      await load(url, "/imports/warmup/start", { authorization: `Bearer ${TOKEN}` });
      runs[kind].push(await load(url, `/imports/bench_${kind}/start`, { authorization: `Bearer ${TOKEN}` }));
      // A route both answer 404 at once: the runtime's and the shell's fixed cost per request.
      if (kind !== "jslog") runs[`${kind}404`].push(await load(url, "/nope", {}, "GET"));
      await mf.dispose();
    }
    // Each start carrying a new Idempotency-Key: two ledger calls more.
    const mf = miniflareFor("rust", standin.url);
    const url = String(await mf.ready).replace(/\/$/, "");
    await load(url, "/imports/warmup/start", { authorization: `Bearer ${TOKEN}`, "idempotency-key": "warm-[<id>]" });
    runs.rustkey.push(await load(url, "/imports/bench_key/start", { authorization: `Bearer ${TOKEN}`, "idempotency-key": `r${round}-[<id>]` }));
    await mf.dispose();
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const results = Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, {
    requests: { average: mean(rs.map((r) => r.requests.average)) },
    latency: { p50: mean(rs.map((r) => r.latency.p50)), p99: mean(rs.map((r) => r.latency.p99)) },
    non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
    errors: rs.reduce((n, r) => n + r.errors, 0),
  }]));
  row(["target", "requests/s", "p50 ms", "p99 ms", "non-2xx", "errors"]);
  row(["---", "---", "---", "---", "---", "---"]);
  for (const [name, r] of [["(a) stand-in directly (floor)", results.floor], ["(b) Rust worker (with its ledger: history written)", results.rust], ["(b') Rust worker, a new Idempotency-Key each", results.rustkey], ["(c) JS baseline worker", results.js], ["(c') JS baseline + the same log line", results.jslog]]) {
    row([name, r.requests.average.toFixed(0), r.latency.p50.toFixed(1), r.latency.p99.toFixed(1), r.non2xx, r.errors]);
  }
  console.log("\nThe same workers on a route both answer 404 at once (no fetch, no log line): what every request costs before any work.\n");
  row(["target", "requests/s", "p50 ms", "p99 ms"]);
  row(["---", "---", "---", "---"]);
  for (const [name, r] of [["(b) Rust worker, GET /nope", results.rust404], ["(c) JS baseline worker, GET /nope", results.js404]]) {
    row([name, r.requests.average.toFixed(0), r.latency.p50.toFixed(1), r.latency.p99.toFixed(1)]);
  }
  const ratio = (a, b) => (a / b).toFixed(2);
  console.log(`\n404 route b/c ${ratio(results.rust404.requests.average, results.js404.requests.average)}`);
  console.log(`\nthroughput b/a ${ratio(results.rust.requests.average, results.floor.requests.average)}, b/c ${ratio(results.rust.requests.average, results.js.requests.average)} (goal >= 0.8), b/c' ${ratio(results.rust.requests.average, results.jslog.requests.average)}`);
  console.log(`latency added over the floor at p50: ${(results.rust.latency.p50 - results.floor.latency.p50).toFixed(1)} ms; JS baseline adds ${(results.js.latency.p50 - results.floor.latency.p50).toFixed(1)} ms`);
  console.log(`a new Idempotency-Key (the ledger's calls) adds ${(results.rustkey.latency.p50 - results.rust.latency.p50).toFixed(1)} ms at p50; throughput with a key / without ${ratio(results.rustkey.requests.average, results.rust.requests.average)}`);

  console.log("\n## Goals (issue 23)\n");
  const check = (ok) => (ok ? "met" : "missed");
  const startRatio = own.start.rust / own.start.js;
  const notFoundRatio = own["404"].rust / own["404"].js;
  const coldDiff = rustStart - jsStart;
  const speedRatio = results.rust.requests.average / results.js.requests.average;
  const keyAdds = results.rustkey.latency.p50 - results.rust.latency.p50;
  const keyRatio = results.rustkey.requests.average / results.rust.requests.average;
  row(["figure", "now", "goal", ""]);
  row(["---", "---", "---", "---"]);
  row(["the code's own time per start, in process: Rust / JS baseline", `${own.start.rust.toFixed(1)} / ${own.start.js.toFixed(1)} us = ${startRatio.toFixed(2)}x`, "<= 1.5x", check(startRatio <= 1.5)]);
  row(["the same on the 404 route", `${own["404"].rust.toFixed(1)} / ${own["404"].js.toFixed(1)} us = ${notFoundRatio.toFixed(2)}x`, "<= 1.1x", check(notFoundRatio <= 1.1)]);
  row(["cold start to first answer: Rust - JS baseline", `${rustStart.toFixed(0)} - ${jsStart.toFixed(0)} = ${coldDiff.toFixed(0)} ms`, "<= 15 ms", check(coldDiff <= 15)]);
  row(["start throughput through workerd, shipped bindings: Rust / JS baseline", speedRatio.toFixed(2), ">= 0.8", check(speedRatio >= 0.8)]);
  row(["latency a new Idempotency-Key adds, p50", `${keyAdds.toFixed(1)} ms`, "<= 20 ms", check(keyAdds <= 20)]);
  row(["throughput with a key / without", keyRatio.toFixed(2), ">= 0.4", check(keyRatio >= 0.4)]);
  row(["(size, a budget) worker wasm gzipped", kb(gz(workerWasm)), "<= 128 KB", check(gz(workerWasm) <= 128 * 1024)]);
  row(["(size, a budget) npm wasm gzipped", kb(gz(npmWasm)), "<= 64 KB", check(gz(npmWasm) <= 64 * 1024)]);
  console.log("\nCPU per request inside the runtime: not reported by the local runtime (workerd gives no per-request CPU time outside Cloudflare).");
} finally {
  standin.stop();
}
