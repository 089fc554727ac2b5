#!/usr/bin/env node
"use strict";
// npx bloomreach-import-trigger start <import_id> [--path P] [--no-test-connection]
//   [--api data-v1|imports-v1|data-hub] [--workspace ID] [--dry-run] [--json]
// Credentials and account come from BLOOMREACH_API_KEY_ID, BLOOMREACH_API_SECRET,
// BLOOMREACH_PROJECT_TOKEN and/or BLOOMREACH_WORKSPACE_ID (or --workspace), and
// (optionally) BLOOMREACH_API_BASE.
// Exit status: 0 started, 2 invalid input, 3 Bloomreach refused the start,
// 4 Bloomreach refused the credentials, 5 Bloomreach failed or was unreachable.
const api = require("../index.cjs");

const USAGE = `usage: bloomreach-import-trigger start <import_id> [--path P] [--no-test-connection]
                                 [--api data-v1|imports-v1|data-hub] [--workspace ID]
                                 [--dry-run] [--json]
       bloomreach-import-trigger --version
environment: BLOOMREACH_API_KEY_ID, BLOOMREACH_API_SECRET, and BLOOMREACH_PROJECT_TOKEN
             (a project) or BLOOMREACH_WORKSPACE_ID (a Data hub workspace; --workspace
             overrides it), BLOOMREACH_API_BASE (optional)`;

function parseArgs(argv) {
  const args = { json: false, dryRun: false };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--path") args.path = value();
    else if (a === "--api") args.api = value();
    else if (a === "--workspace") args.workspaceId = value();
    else if (a === "--version") args.version = true;
    else if (a === "--no-test-connection") args.testConnection = false;
    else if (a === "--dry-run") args.dryRun = true;
    else if (a === "--json") args.json = true;
    else if (a === "-h" || a === "--help") args.help = true;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else rest.push(a);
  }
  if (!args.help && !args.version) {
    if (rest[0] !== "start") throw new Error("the only command is: start <import_id>");
    if (rest.length !== 2) throw new Error("start takes exactly one import id");
    args.importId = rest[1];
  }
  return args;
}

function out(json, value, human) {
  console.log(json ? JSON.stringify(value) : human);
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.version) {
    console.log(require("../package.json").version);
    return 0;
  }
  const env = process.env;
  const options = {
    ...(env.BLOOMREACH_PROJECT_TOKEN ? { projectToken: env.BLOOMREACH_PROJECT_TOKEN } : {}),
    ...((args.workspaceId ?? env.BLOOMREACH_WORKSPACE_ID) ? { workspaceId: args.workspaceId ?? env.BLOOMREACH_WORKSPACE_ID } : {}),
    apiKeyId: env.BLOOMREACH_API_KEY_ID ?? "",
    apiSecret: env.BLOOMREACH_API_SECRET ?? "",
    importId: args.importId,
    ...(env.BLOOMREACH_API_BASE ? { baseUrl: env.BLOOMREACH_API_BASE } : {}),
    ...(args.path !== undefined ? { path: args.path } : {}),
    ...(args.testConnection !== undefined ? { testConnection: args.testConnection } : {}),
    ...(args.api !== undefined ? { api: args.api } : {}),
  };
  try {
    if (args.dryRun) {
      const shown = api.redactedStartImportRequest(options);
      out(args.json, { ok: true, dryRun: true, request: shown },
        `Would send:\n  ${shown.method} ${shown.url}\n  authorization: Basic ***\n` +
        `  content-type: ${shown.headers["content-type"] ?? "(none)"}\n  body: ${shown.body ?? "(none)"}`);
      return 0;
    }
    const result = await api.startImport(options);
    if (result.ok) {
      out(args.json, result, `Started import ${args.importId} (Bloomreach answered ${result.status}, attempts: ${result.attempts}).`);
    } else {
      const line = `Could not start import ${args.importId}: ${result.code}: ${result.message}`;
      if (args.json) out(true, result); else console.error(line);
    }
    return api.exitCode(result.ok ? null : result.code);
  } catch (e) {
    if (e && e.code) {
      if (args.json) out(true, { ok: false, code: e.code, message: e.message });
      else console.error(`Invalid input: ${e.message}\n${USAGE}`);
      return api.exitCode(e.code);
    }
    console.error(`Unexpected error: ${e && e.message}`);
    return 1;
  }
}

main().then((code) => { process.exitCode = code; });
