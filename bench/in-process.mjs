// The worker's own cost per request, without the runtime, the network or the load
// generator: the built bundle (build/index.js and its wasm) and the JavaScript
// baseline run in this Node process (V8, as in workerd), `fetch` answered in-process
// by a 200, batches of each taking turns and the median batch kept. On a noisy
// machine the ratio of the two holds where requests per second through workerd swing
// by 15%. Not the runtime: it is a measure of the code, next to the end-to-end figures.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/// The worker bundle as a module Node can import: the wasm import, which workerd
/// resolves to a compiled module, becomes a `WebAssembly.Module` of the same file.
async function importBundle(workerJs, workerWasm) {
  const source = fs.readFileSync(workerJs, "utf8");
  const wasmImport = /import\s*([\w$]+)\s*from\s*"\.\/index_bg\.wasm";?/;
  const match = source.match(wasmImport);
  if (!match) throw new Error(`${workerJs} has no import of ./index_bg.wasm`);
  // The Durable Object base class, which only workerd provides: the ledger object is
  // not used in process.
  const baseImport = /import\s*\{\s*DurableObject(?:\s+as\s+([\w$]+))?\s*\}\s*from\s*"cloudflare:workers";?/;
  const base = source.match(baseImport);
  const loaded = `import { readFileSync as __readWasm } from "node:fs";\n` +
    source
      .replace(wasmImport, `const ${match[1]} = new WebAssembly.Module(__readWasm(${JSON.stringify(workerWasm)}));`)
      .replace(baseImport, base ? `const ${base[1] ?? "DurableObject"} = class {};` : "");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-worker-")), "worker.mjs");
  fs.writeFileSync(file, loaded);
  return (await import(file)).default;
}

/// Median microseconds per request of each worker on `route` ("start" or "404").
export async function perRequestMicros({ workerJs, workerWasm, baselineJs, env, token, rounds = 7, batch = 2000 }) {
  const rust = await importBundle(workerJs, workerWasm);
  const js = (await import(baselineJs)).default;
  // Work handed to waitUntil is the request's too (it runs on the request's CPU time):
  // each batch waits for all of it before its clock stops.
  const pending = [];
  const ctx = { waitUntil(promise) { pending.push(promise); }, passThroughOnException() {} };
  const realFetch = globalThis.fetch;
  const realLog = console.log;
  const realSetTimeout = globalThis.setTimeout;
  // workerd's setTimeout returns a number, as the web's does, and workers-rs's `Delay`
  // relies on it; Node's returns an object (which turns into its number on request).
  globalThis.setTimeout = (...args) => Number(realSetTimeout(...args));
  globalThis.fetch = async () => new Response('{"success":true}', { status: 200 });
  // Log lines are dropped here, as the load runs drop the runtime's output.
  console.log = () => {};
  try {
    const request = (route, i) => route === "start"
      ? new Request(`https://worker.example/imports/bench_${i % 7}/start`, { method: "POST", headers: { authorization: `Bearer ${token}` } })
      : new Request("https://worker.example/nope");
    async function run(worker, route, n) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const res = await worker.fetch(request(route, i), env, ctx);
        await res.text();
      }
      await Promise.allSettled(pending.splice(0));
      return ((performance.now() - t0) / n) * 1000;
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const result = {};
    for (const route of ["start", "404"]) {
      await run(rust, route, batch);
      await run(js, route, batch);
      const times = { rust: [], js: [] };
      for (let r = 0; r < rounds; r++) {
        times.rust.push(await run(rust, route, batch));
        times.js.push(await run(js, route, batch));
      }
      result[route] = { rust: median(times.rust), js: median(times.js) };
    }
    return result;
  } finally {
    globalThis.fetch = realFetch;
    globalThis.setTimeout = realSetTimeout;
    console.log = realLog;
  }
}
