// Entry for Cloudflare Workers (workerd), chosen by the "workerd" export condition
// that wrangler's bundler sets. wrangler imports a `.wasm` file as a compiled
// `WebAssembly.Module`, not as the instance's exports that wasm-bindgen's bundler
// target expects, so this entry instantiates it itself. No `nodejs_compat` needed.
import engineModule from "./wasm/bundler/bloomreach_import_trigger_js_bg.wasm";
import * as bindings from "./wasm/bundler/bloomreach_import_trigger_js_bg.js";
import glue from "./lib/glue.cjs";

// Every import of the wasm comes from the one glue module, whatever it is named.
const imports = {};
for (const { module } of WebAssembly.Module.imports(engineModule)) imports[module] = bindings;
const instance = new WebAssembly.Instance(engineModule, imports);
bindings.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start();

const api = glue.makeApi(bindings);
export const { buildStartImportRequest, startImport } = api;
export default api;
