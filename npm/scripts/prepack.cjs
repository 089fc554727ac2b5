#!/usr/bin/env node
"use strict";
// npm's `prepack` hook (`npm pack`, `npm publish`): refuses to pack a package that
// would not work. The wasm engine (wasm/), index.d.mts and LICENSE are build outputs,
// git-ignored, made by `bash scripts/build-npm` from the repository root; without them
// a tarball installs fine and then fails at `require` ("Cannot find module
// './wasm/node/...'"), so npm must stop here instead.
//
// Why a check and not a build: building needs Rust with the wasm32 target, the pinned
// wasm-bindgen CLI (a `cargo install` of minutes) and the repository's node_modules
// (wasm-opt); scripts/build-npm installs what is missing, which is not something an
// `npm pack` should do behind one's back. It also keeps one builder: scripts/build-npm
// builds everything and then runs `npm pack`, whose prepack (this file) only verifies,
// so there is no recursion and no environment flag to pass.
//
// What it checks, naming every problem and the command that fixes it:
// - every built file the package ships exists and is not empty;
// - index.d.mts is the same text as index.d.cts (build-npm copies it), and LICENSE the
//   same as the repository's, when the repository is there;
// - inside the repository, the wasm is not older than the Rust it is built from
//   (crates/js, the crates it depends on by path, Cargo.toml, Cargo.lock): a wasm left
//   from before an edit would ship the old engine. mtimes can only err towards asking
//   for a rebuild (a checkout touching unchanged sources), never towards shipping a
//   file that is missing.
const fs = require("node:fs");
const path = require("node:path");

const PKG = path.resolve(__dirname, "..");
const ROOT = path.resolve(PKG, "..");
const BUILD = "bash scripts/build-npm";

// The build outputs the entry points load (index.cjs: wasm/node; bundler.mjs and
// workerd.mjs: wasm/bundler), each matched by package.json's "files".
const BUILT = [
  "wasm/node/bloomreach_import_trigger_js.js",
  "wasm/node/bloomreach_import_trigger_js_bg.wasm",
  "wasm/bundler/bloomreach_import_trigger_js.js",
  "wasm/bundler/bloomreach_import_trigger_js_bg.js",
  "wasm/bundler/bloomreach_import_trigger_js_bg.wasm",
  "index.d.mts",
  "LICENSE",
];
const WASM = BUILT.filter((f) => f.startsWith("wasm/"));

const mtime = (file) => fs.statSync(file).mtimeMs;
const read = (file) => fs.readFileSync(file, "utf8");

/** The Rust files crates/js is built from: its own and those of its path dependencies. */
function rustSources() {
  const files = [path.join(ROOT, "Cargo.toml"), path.join(ROOT, "Cargo.lock")];
  const seen = new Set();
  const visit = (crate) => {
    if (seen.has(crate) || !fs.existsSync(path.join(crate, "Cargo.toml"))) return;
    seen.add(crate);
    const manifest = path.join(crate, "Cargo.toml");
    files.push(manifest);
    if (fs.existsSync(path.join(crate, "build.rs"))) files.push(path.join(crate, "build.rs"));
    const src = path.join(crate, "src");
    if (fs.existsSync(src)) {
      for (const f of fs.readdirSync(src, { recursive: true })) {
        const full = path.join(src, f);
        if (fs.statSync(full).isFile()) files.push(full);
      }
    }
    for (const m of read(manifest).matchAll(/\bpath\s*=\s*"([^"]+)"/g)) visit(path.resolve(crate, m[1]));
  };
  visit(path.join(ROOT, "crates/js"));
  return files.filter((f) => fs.existsSync(f));
}

function problems() {
  const found = [];
  const missing = BUILT.filter((f) => {
    const full = path.join(PKG, f);
    return !fs.existsSync(full) || fs.statSync(full).size === 0;
  });
  if (missing.length) found.push(`missing (or empty): ${missing.map((f) => `npm/${f}`).join(", ")}`);

  const dmts = path.join(PKG, "index.d.mts");
  if (!missing.includes("index.d.mts") && read(dmts) !== read(path.join(PKG, "index.d.cts"))) {
    found.push("npm/index.d.mts differs from npm/index.d.cts, of which it must be a copy");
  }
  const license = path.join(ROOT, "LICENSE");
  if (!missing.includes("LICENSE") && fs.existsSync(license) && read(license) !== read(path.join(PKG, "LICENSE"))) {
    found.push("npm/LICENSE differs from the repository's LICENSE");
  }

  // Only inside the repository: a copy of npm/ on its own has no sources to compare.
  const inRepo = fs.existsSync(path.join(ROOT, "crates/js/Cargo.toml"));
  if (inRepo && !WASM.some((f) => missing.includes(f))) {
    const built = Math.min(...WASM.map((f) => mtime(path.join(PKG, f))));
    const newer = rustSources().filter((f) => mtime(f) > built).map((f) => path.relative(ROOT, f));
    if (newer.length) {
      const shown = newer.slice(0, 5).join(", ") + (newer.length > 5 ? `, and ${newer.length - 5} more` : "");
      found.push(`npm/wasm/ is older than the Rust it is built from (changed since: ${shown})`);
    }
  }
  return found;
}

const found = problems();
if (found.length) {
  console.error(
    "bloomreach-import-trigger: refusing to pack; the package would not work as it is:\n" +
      found.map((p) => `  - ${p}\n`).join("") +
      `Build it first: run \`${BUILD}\` from the repository root (it builds the wasm, ` +
      "copies index.d.mts and LICENSE, and packs the package into npm/pkg/).",
  );
  process.exit(1);
}
