#!/usr/bin/env node
"use strict";
// npx bloomreach-import-trigger start <import_id> [--path P] [--no-test-connection]
//   [--api data-v1|imports-v1|data-hub] [--workspace ID] [--dry-run] [--json]
// Credentials and account come from BLOOMREACH_API_KEY_ID, BLOOMREACH_API_SECRET,
// BLOOMREACH_PROJECT_TOKEN and/or BLOOMREACH_WORKSPACE_ID (or --workspace), and
// (optionally) BLOOMREACH_API_BASE.
// Exit status: 0 started (or --help, --version), 2 invalid input (a usage error
// included), 3 Bloomreach refused the start, 4 Bloomreach refused the credentials,
// 5 Bloomreach failed or was unreachable.
const util = require("node:util");
const api = require("../index.cjs");

const USAGE = `usage: bloomreach-import-trigger start <import_id> [--path P] [--no-test-connection]
                                 [--api data-v1|imports-v1|data-hub] [--workspace ID]
                                 [--dry-run] [--json]
       bloomreach-import-trigger --version
       bloomreach-import-trigger --help
options take their value as the next argument or after "=": --path P, --path=P
environment: BLOOMREACH_API_KEY_ID, BLOOMREACH_API_SECRET, and BLOOMREACH_PROJECT_TOKEN
             (a project) or BLOOMREACH_WORKSPACE_ID (a Data hub workspace; --workspace
             overrides it), BLOOMREACH_API_BASE (optional)
exit status: 0 started, 2 invalid input, 3 Bloomreach refused the start,
             4 Bloomreach refused the credentials, 5 Bloomreach failed or was unreachable`;

// node:util's parseArgs (stable since Node 20.0; the package needs 20.9) in strict mode: an
// unknown option, a value given to a flag, or an option missing its value throws an
// error with a `code` starting ERR_PARSE_ARGS_, and Node's message names the option.
// `--no-test-connection` is an option of its own: parseArgs' allowNegative needs
// Node 22.4.
const OPTIONS = {
  path: { type: "string" },
  api: { type: "string" },
  workspace: { type: "string" },
  "no-test-connection": { type: "boolean" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

function parseArgs(argv) {
  let parsed;
  try {
    parsed = util.parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    if (!(e && typeof e.code === "string" && e.code.startsWith("ERR_PARSE_ARGS_"))) throw e;
    // Node's two commonest messages, shortened to this CLI's wording; any other (or a
    // future Node's rewording) is shown as Node gives it.
    const unknown = /^Unknown option '([^']+)'/.exec(e.message);
    const missing = /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(e.message);
    if (unknown) throw new Error(`unknown option ${unknown[1]}`);
    if (missing) throw new Error(`${missing[1]} needs a value`);
    throw new Error(e.message);
  }
  const { values, positionals } = parsed;
  const args = {
    json: values.json === true,
    dryRun: values["dry-run"] === true,
    help: values.help === true,
    version: values.version === true,
    path: values.path,
    api: values.api,
    workspaceId: values.workspace,
    ...(values["no-test-connection"] ? { testConnection: false } : {}),
  };
  if (!args.help && !args.version) {
    if (positionals[0] !== "start") throw new Error("the only command is: start <import_id>");
    if (positionals.length !== 2) throw new Error("start takes exactly one import id");
    args.importId = positionals[1];
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
