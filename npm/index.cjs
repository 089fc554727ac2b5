"use strict";
// Node entry for `require`: the wasm engine loaded synchronously from disk.
const wasm = require("./wasm/node/bloomreach_import_trigger_js.js");
const { makeApi } = require("./lib/glue.cjs");

module.exports = makeApi(wasm);
