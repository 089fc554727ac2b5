// The start history's cost, measured (not a test: it prints figures and asserts
// nothing). Run after scripts/build-worker: `node bench/history.mjs`.
//
// 1. What an unkeyed start's history write adds to the caller's latency: the same
//    starts, taking turns, through a worker with the ledger (the entry is written after
//    the answer, inside waitUntil) and one without it (no history at all).
// 2. What `GET /starts` of 50 entries costs with 100,000 entries stored (filled through
//    the ledger object's test hook), for the first page, a page deep in the cursor,
//    and filters served by an index or not.
import os from "node:os";
import { startStandin } from "../tests/support/bloomreach-standin.mjs";
import { startWorker, TOKEN, PROJECT } from "../tests/support/worker-harness.mjs";

const STARTS = Number(process.env.HISTORY_BENCH_STARTS || 300);
const READS = Number(process.env.HISTORY_BENCH_READS || 50);
const ENTRIES = Number(process.env.HISTORY_BENCH_ENTRIES || 100_000);

const percentile = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
};
const ms = (x) => x.toFixed(1);
const row = (cells) => console.log(`| ${cells.join(" | ")} |`);

async function timed(fn) {
  const t0 = performance.now();
  const result = await fn();
  return [performance.now() - t0, result];
}

const standin = await startStandin({ record: false });
const withLedger = await startWorker({ upstream: standin.url, bindings: { HISTORY_TEST_HOOKS: "enabled" } });
const without = await startWorker({ upstream: standin.url, ledger: false });
const headers = { authorization: `Bearer ${TOKEN}` };
const start = (w, id) => fetch(`${w.url}/imports/${id}/start`, { method: "POST", headers }).then(async (r) => { await r.arrayBuffer(); return r.status; });

console.log(`\nstart history benchmark, ${new Date().toISOString()}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}\n`);

// ---- 1. the history write and the caller's latency
for (let i = 0; i < 30; i++) {
  await start(withLedger, `warm_${i}`);
  await start(without, `warm_${i}`);
}
// Back to back, the next start meets the previous one's history write in the same
// isolate; with a pause between starts, the write is over before the next one comes,
// and what is left is what the answer itself waits for.
const latencies = { ledger: [], none: [], ledgerPaused: [], nonePaused: [] };
const pause = () => new Promise((r) => setTimeout(r, 25));
for (let i = 0; i < STARTS; i++) {
  const [a, sa] = await timed(() => start(withLedger, `bench_hist_${i}`));
  const [b, sb] = await timed(() => start(without, `bench_hist_${i}`));
  await pause();
  const [c, sc] = await timed(() => start(withLedger, `bench_histp_${i}`));
  await pause();
  const [d, sd] = await timed(() => start(without, `bench_histp_${i}`));
  await pause();
  if ([sa, sb, sc, sd].some((s) => s !== 200)) throw new Error(`a start failed: ${sa}, ${sb}, ${sc}, ${sd}`);
  latencies.ledger.push(a);
  latencies.none.push(b);
  latencies.ledgerPaused.push(c);
  latencies.nonePaused.push(d);
}
// How soon after its answer an entry can be read.
const visible = [];
for (let i = 0; i < 20; i++) {
  const id = `bench_visible_${i}`;
  await start(withLedger, id);
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    const res = await fetch(`${withLedger.url}/starts?import_id=${id}&limit=1`, { headers });
    if ((await res.json()).starts.length === 1) break;
  }
  visible.push(performance.now() - t0);
}
console.log(`## An unkeyed start's latency with and without its history write (${STARTS} sequential starts each, taking turns)\n`);
row(["worker", "p50 ms", "p90 ms", "p99 ms"]);
row(["---", "---", "---", "---"]);
const line = (name, xs) => row([name, ms(percentile(xs, 50)), ms(percentile(xs, 90)), ms(percentile(xs, 99))]);
line("with START_LEDGER (entry written after the answer), back to back", latencies.ledger);
line("without START_LEDGER (no history), back to back", latencies.none);
line("with START_LEDGER, 25 ms between starts", latencies.ledgerPaused);
line("without START_LEDGER, 25 ms between starts", latencies.nonePaused);
console.log(`\nan entry readable after its start's answer: p50 ${ms(percentile(visible, 50))} ms, max ${ms(Math.max(...visible))} ms (20 starts; the time includes one GET /starts)\n`);

// ---- 2. GET /starts with 100,000 entries stored
const object = `ledger\n${standin.url.toLowerCase()}\n${PROJECT}\n`;
const existing = 2 * STARTS + 50;
const [fillMs] = await timed(async () => {
  const batch = 10_000;
  for (let done = 0; done < ENTRIES - existing; done += batch) {
    const count = Math.min(batch, ENTRIES - existing - done);
    await withLedger.ledgerCall(object, { op: "fill", count, started_ms: Date.now() - 10 * 86_400_000 + done, import_id: done === 0 ? "bench_fill_first" : "bench_fill" });
  }
});
const stored = await withLedger.ledgerCall(object, { op: "cleanup", now_ms: Date.now() });
console.log(`## GET /starts with ${stored.count} entries stored (filled in ${(fillMs / 1000).toFixed(1)} s; ${READS} sequential reads each)\n`);
const get = async (query) => {
  const res = await fetch(`${withLedger.url}/starts?${query}`, { headers });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(body)}`);
  return body;
};
// A cursor 50,000 entries deep.
let deep = null;
for (let i = 0; i < 250; i++) {
  const next = (await get(`limit=200${deep ? `&cursor=${deep}` : ""}`)).next_cursor;
  if (!next) break;
  deep = next;
}
const cases = [
  ["newest 50 (the first page)", "limit=50"],
  ["50 after a cursor 50,000 entries deep", `limit=50&cursor=${deep}`],
  ["50 of one import id (indexed)", "import_id=bench_fill&limit=50"],
  ["one import id's 10,000th to 10,050th (cursor)", null],
  ["outcome=failed, none stored (its own index)", "outcome=failed&limit=50"],
  ["cause=http&caller=fill (not indexed, all match)", "cause=http&caller=fill&limit=50"],
];
let importDeep = null;
for (let i = 0; i < 50; i++) {
  const next = (await get(`import_id=bench_fill&limit=200${importDeep ? `&cursor=${importDeep}` : ""}`)).next_cursor;
  if (!next) break;
  importDeep = next;
}
row(["query", "entries", "p50 ms", "p99 ms"]);
row(["---", "---", "---", "---"]);
for (const [name, query] of cases) {
  const q = query ?? `import_id=bench_fill&limit=50&cursor=${importDeep}`;
  const times = [];
  let n = 0;
  for (let i = 0; i < READS; i++) {
    const [t, body] = await timed(() => get(q));
    times.push(t);
    n = body.starts.length;
  }
  row([name, String(n), ms(percentile(times, 50)), ms(percentile(times, 99))]);
}
const [cleanupMs, after] = await timed(() => withLedger.ledgerCall(object, { op: "cleanup", now_ms: Date.now() }));
console.log(`\na clean-up with ${after.count} entries and nothing to delete: ${ms(cleanupMs)} ms (settle, expiry, exact count)`);

await withLedger.close();
await without.close();
await standin.close();
