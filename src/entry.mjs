// The worker's JavaScript entry: the module workerd loads (bundled with the
// wasm-bindgen glue into build/index.js by scripts/build-worker).
//
// Handlers are plain functions on a plain object, so a request costs one call into
// the wasm and nothing more: no entrypoint class instantiated per request, no Proxy
// around it (what worker-build's generated entry adds; docs/architecture.md says why
// this project builds without it, with the measurement).
//
// Panics: the panic hook (src/lib.rs) schedules a reinit, and wasm-bindgen runs the
// next call on a fresh wasm instance. A handler call needs nothing more. An object
// made on the old instance, though, throws on every use ("Invalid stale object from
// previous Wasm instance"): the ledger's Durable Object lives on between requests, so
// it is wrapped here and rebuilt on the new instance when one was made. workers-rs's
// own start function counts instances in `__worker_init_state().instanceId`; asking
// for it is a call into the wasm, which first runs any reinit that is due.
//
// The class extends workerd's `DurableObject` so that the worker can call its RPC
// method `ledgerCall` on a stub (workerd allows RPC only to such classes); `fetch` and
// `alarm` are called as before.
import { DurableObject } from "cloudflare:workers";
import * as engine from "./bindgen/index.js";

class StartLedger extends DurableObject {
  #args;
  #inner;
  #instance;

  constructor(state, env) {
    super(state, env);
    this.#args = [state, env];
    this.#build();
  }

  #build() {
    this.#inner = new engine.StartLedger(...this.#args);
    this.#instance = engine.__worker_init_state().instanceId;
  }

  #current() {
    if (engine.__worker_init_state().instanceId !== this.#instance) this.#build();
    return this.#inner;
  }

  fetch(request) {
    return this.#current().fetch(request);
  }

  alarm(info) {
    return this.#current().alarm(info);
  }

  ledgerCall(call) {
    return this.#current().ledgerCall(call);
  }
}

// The ledger's Durable Object class, as wrangler.toml names it.
export { StartLedger };

export default {
  fetch(request, env, ctx) {
    return engine.fetch(request, env, ctx);
  },
  scheduled(controller, env, ctx) {
    return engine.scheduled(controller, env, ctx);
  },
};
