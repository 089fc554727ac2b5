"use strict";
// Node entry for `require`: the wasm engine loaded synchronously from disk.
const wasm = require("./wasm/node/bloomreach_import_trigger_js.js");
const { makeApi } = require("./lib/glue.cjs");

const api = makeApi(wasm);
module.exports = api;
// `import api from` (ESM) and `export default` in the types: the same object.
module.exports.default = api;
