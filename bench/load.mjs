// The load check (not a test): 20,000 starts at concurrency 64 through the worker in
// the local runtime to the Bloomreach stand-in, then 20,000 unauthenticated requests.
// It prints the figures and exits non-zero when any answer was a 5xx or when the
// stand-in's count differs from the successes (a lost or duplicated start).
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStandinProcess } from "../tests/support/bloomreach-standin.mjs";
import { SECRETS, TOKEN, PROJECT, COMPATIBILITY_DATE } from "../tests/support/worker-harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const AMOUNT = Number(process.env.LOAD_AMOUNT || 20000);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS || 64);

/** Resident memory of the workerd processes this process started, in MB. */
function workerdRssMb() {
  const out = execFileSync("ps", ["-eo", "pid,ppid,rss,comm"], { encoding: "utf8" });
  const rows = out.trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/));
  const mine = rows.filter(([, ppid, , comm]) => Number(ppid) === process.pid && comm.startsWith("workerd"));
  return mine.reduce((n, [, , rss]) => n + Number(rss), 0) / 1024;
}

function load(url, headers) {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: "POST", headers, connections: CONNECTIONS, amount: AMOUNT, timeout: 30 }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const count = (r, from, to) => Object.entries(r.statusCodeStats ?? {}).filter(([s]) => Number(s) >= from && Number(s) < to).reduce((n, [, v]) => n + v.count, 0);

const standin = await startStandinProcess();
// LOAD_WORKER=js runs the same load against the plain JavaScript worker, for comparison.
const script = process.env.LOAD_WORKER === "js"
  ? { scriptPath: path.join(root, "bench/js-baseline/worker.mjs") }
  : { scriptPath: path.join(root, "build/index.js"), modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }] };
const mf = new Miniflare({
  modules: true,
  ...script,
  compatibilityDate: COMPATIBILITY_DATE,
  bindings: { ...SECRETS, BLOOMREACH_PROJECT_TOKEN: PROJECT, BLOOMREACH_API_BASE: standin.url },
  host: "127.0.0.1",
  port: 0,
  handleRuntimeStdio: (out, err) => { out.resume(); err.resume(); },
});
let failed = false;
try {
  const base = String(await mf.ready).replace(/\/$/, "");
  await fetch(`${base}/healthz`).then((r) => r.text());
  const before = workerdRssMb();
  const t0 = Date.now();
  const starts = await load(`${base}/imports/ok_load/start`, { authorization: `Bearer ${TOKEN}` });
  const unauth = await load(`${base}/imports/ok_load/start`, {});
  const seconds = (Date.now() - t0) / 1000;
  const after = workerdRssMb();
  const stats = await fetch(`${standin.url}/__stats`).then((r) => r.json());
  const ok = count(starts, 200, 300);
  const rows = [
    ["authenticated starts sent", starts.requests.sent ?? AMOUNT],
    ["  2xx", ok],
    ["  5xx", count(starts, 500, 600)],
    ["  other", count(starts, 300, 500)],
    ["  errors / timeouts", `${starts.errors} / ${starts.timeouts}`],
    ["  requests/s, p50 / p99 ms", `${starts.requests.average.toFixed(0)}, ${starts.latency.p50} / ${starts.latency.p99}`],
    ["starts Bloomreach received", stats.received],
    ["unauthenticated requests sent", unauth.requests.sent ?? AMOUNT],
    ["  401", count(unauth, 401, 402)],
    ["  5xx", count(unauth, 500, 600)],
    ["  requests/s", unauth.requests.average.toFixed(0)],
    ["workerd memory before / after (MB)", `${before.toFixed(1)} / ${after.toFixed(1)}`],
    ["wall time (s)", seconds.toFixed(1)],
  ];
  console.log(`\nload (${process.env.LOAD_WORKER === "js" ? "JS baseline" : "Rust worker"}): ${AMOUNT} starts and ${AMOUNT} unauthenticated requests at concurrency ${CONNECTIONS}\n`);
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  const fiveXx = count(starts, 500, 600) + count(unauth, 500, 600);
  if (fiveXx > 0) { console.error(`\nFAILED: ${fiveXx} answers were 5xx`); failed = true; }
  if (stats.received !== ok) { console.error(`\nFAILED: Bloomreach received ${stats.received} starts for ${ok} successes`); failed = true; }
  if (count(unauth, 401, 402) !== AMOUNT) { console.error("\nFAILED: not every unauthenticated request got 401"); failed = true; }
} finally {
  await mf.dispose();
  standin.stop();
}
process.exit(failed ? 1 : 0);
