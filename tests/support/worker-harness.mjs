// Runs the built worker (build/index.js) in workerd through miniflare 4, with the
// bindings a test gives, and captures every line the worker logs.
import { Miniflare } from "miniflare";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const COMPATIBILITY_DATE = "2026-07-01";

/** Test credentials: distinctive, so a leak is easy to find. */
export const SECRETS = {
  BLOOMREACH_API_KEY_ID: "test-key-id-7f3a9c",
  BLOOMREACH_API_SECRET: "test-api-secret-Q9x2Lm4",
  TRIGGER_TOKENS: "caller-token-one-0123456789,caller-token-two-abcdefghij",
};
export const TOKEN = "caller-token-one-0123456789";
export const TOKEN2 = "caller-token-two-abcdefghij";
export const PROJECT = "2d0be12a-4b0c-12ec-87da-86c198934217";

const everyWorker = [];

// The ledger as a version of this worker from before its RPC method ran it: a class
// that does not extend DurableObject (so workerd refuses RPC to it) and answers the
// same calls through fetch, by the real object's code.
const BEFORE_RPC_LEDGER = `
import worker, { StartLedger } from "./index.js";
export class BeforeRpcLedger {
  #inner;
  constructor(state, env) { this.#inner = new StartLedger(state, env); }
  fetch(request) { return this.#inner.fetch(request); }
  alarm(info) { return this.#inner.alarm(info); }
}
export default worker;
`;

const BROKEN_LEDGER = `
import { DurableObject } from "cloudflare:workers";
// Reachable as the ledger is (over RPC and fetch), and failing every call.
export class BrokenLedger extends DurableObject {
  ledgerCall() { throw new Error("the ledger is down"); }
  fetch() { throw new Error("the ledger is down"); }
}
export default { fetch() { return new Response("broken ledger"); } };
`;

/** Every answer and log line of every worker started in this process. */
export function allOutput() {
  return everyWorker.flatMap((w) => [...w.responses, ...w.logs]);
}

/**
 * Starts the worker. `bindings` are added to (or, as `undefined`, removed from) the
 * defaults; `ledger: false` leaves out the START_LEDGER Durable Object (kept in
 * memory, so every worker starts with an empty ledger), `ledger: "broken"` binds one
 * whose every call throws, `ledger: "before-rpc"` one as a version from before the
 * ledger's RPC method (fetch only). Resolves to
 * { fetch, scheduled, fireScheduled, ledgerCall, logs, close }.
 */
export async function startWorker({ upstream, bindings = {}, ledger = true } = {}) {
  const all = {
    ...SECRETS,
    BLOOMREACH_PROJECT_TOKEN: PROJECT,
    BLOOMREACH_API_BASE: upstream,
    UPSTREAM_ATTEMPT_TIMEOUT_MS: "1500",
    UPSTREAM_DEADLINE_MS: "6000",
    ...bindings,
  };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  const logs = [];
  let partial = "";
  const collect = (stream) => stream.on("data", (chunk) => {
    partial += chunk.toString("utf8");
    const lines = partial.split("\n");
    partial = lines.pop();
    logs.push(...lines.filter((l) => l.trim() !== ""));
  });
  const main = {
    name: "main",
    modules: true,
    scriptPath: path.join(root, "build/index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: all,
  };
  const workers = [main];
  if (ledger === "broken") {
    // A ledger that fails every call, as an overloaded or throwing object does.
    main.durableObjects = { START_LEDGER: { className: "BrokenLedger", scriptName: "broken-ledger", useSQLite: true } };
    workers.push({
      name: "broken-ledger",
      modules: [{ type: "ESModule", path: "broken-ledger.mjs", contents: BROKEN_LEDGER }],
      compatibilityDate: COMPATIBILITY_DATE,
      durableObjects: { SELF: { className: "BrokenLedger", useSQLite: true } },
    });
  } else if (ledger === "before-rpc") {
    delete main.scriptPath;
    delete main.modulesRules;
    main.modulesRoot = path.join(root, "build");
    main.modules = [
      { type: "ESModule", path: path.join(root, "build/before-rpc.mjs"), contents: BEFORE_RPC_LEDGER },
      { type: "ESModule", path: path.join(root, "build/index.js") },
      { type: "CompiledWasm", path: path.join(root, "build/index_bg.wasm") },
    ];
    main.durableObjects = { START_LEDGER: { className: "BeforeRpcLedger", useSQLite: true } };
  } else if (ledger) {
    main.durableObjects = { START_LEDGER: { className: "StartLedger", useSQLite: true } };
  }
  const mf = new Miniflare({
    workers,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) { collect(stdout); collect(stderr); },
  });
  const url = await mf.ready;
  const worker = {
    url: url.toString().replace(/\/$/, ""),
    logs,
    /** Every answer this worker gave a test, as text with its headers. */
    responses: [],
    /** Log lines that are JSON objects, parsed. */
    jsonLogs: () => logs.flatMap((l) => { const i = l.indexOf("{"); if (i < 0) return []; try { return [JSON.parse(l.slice(i))]; } catch { return []; } }),
    async fetch(pathAndQuery, init = {}) {
      const res = await fetch(worker.url + pathAndQuery, init);
      const text = await res.text();
      worker.responses.push(text, JSON.stringify([...res.headers]));
      let body = null;
      try { body = JSON.parse(text); } catch { body = null; }
      return { status: res.status, headers: res.headers, text, body };
    },
    /** Fires the scheduled handler for `cron` at `timeMs`; resolves to its outcome ("ok" or "exception"). */
    async scheduled(cron, timeMs) {
      return (await worker.fireScheduled(cron, timeMs)).outcome;
    },
    /** Fires the scheduled handler; resolves to { outcome, noRetry } as the runtime reports them. */
    async fireScheduled(cron, timeMs) {
      const fetcher = await mf.getWorker();
      const result = await fetcher.scheduled({ cron, scheduledTime: new Date(timeMs) });
      return { outcome: result.outcome, noRetry: result.noRetry };
    },
    /** Sends one call to the ledger object `name` directly (as the worker does); its answer, parsed. */
    async ledgerCall(name, call) {
      const ns = await mf.getDurableObjectNamespace("START_LEDGER");
      const res = await ns.get(ns.idFromName(name)).fetch("https://start-ledger/", { method: "POST", body: JSON.stringify(call) });
      return JSON.parse(await res.text());
    },
    close: () => mf.dispose(),
  };
  everyWorker.push(worker);
  return worker;
}

/** Waits until `predicate()` holds, polling, at most `ms`. */
export async function until(predicate, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}
