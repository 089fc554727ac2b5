// Entry for bundlers (webpack, Vite with a wasm plugin, ...): the wasm is imported as
// an ES module, as wasm-bindgen's bundler target expects.
import * as wasm from "./wasm/bundler/bloomreach_import_trigger_js.js";
import glue from "./lib/glue.cjs";

const api = glue.makeApi(wasm);
export const { buildStartImportRequest, startImport } = api;
export default api;
