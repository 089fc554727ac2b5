// The worker's JavaScript entry: the module workerd loads (bundled with the
// wasm-bindgen glue into build/index.js by scripts/build-worker).
//
// Handlers are plain functions on a plain object, so a request costs one call into
// the wasm and nothing more: no entrypoint class instantiated per request, no Proxy
// around it. A panic is recovered by wasm-bindgen itself: the panic hook
// (src/lib.rs) schedules a reinit, and the next call runs on a fresh instance.
import * as engine from "./bindgen/index.js";

// The ledger's Durable Object class, as wrangler.toml names it.
export const StartLedger = engine.StartLedger;

export default {
  fetch(request, env, ctx) {
    return engine.fetch(request, env, ctx);
  },
  scheduled(controller, env, ctx) {
    return engine.scheduled(controller, env, ctx);
  },
};
