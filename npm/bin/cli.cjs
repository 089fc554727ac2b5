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
//
// npx bloomreach-import-trigger starts --worker URL [--import-id ID] [--outcome O]
//   [--limit N] [--json]
// Lists a deployed worker's start history (GET /starts), newest first, following
// next_cursor; the caller token comes from BLOOMREACH_TRIGGER_TOKEN (never a flag, so it
// stays out of shell history and process lists). Exit status: 0 listed, 1 the worker
// refused or could not be reached, 2 invalid input.
const util = require("node:util");
const api = require("../index.cjs");

const USAGE = `usage: bloomreach-import-trigger start <import_id> [--path P] [--no-test-connection]
                                 [--api data-v1|imports-v1|data-hub] [--workspace ID]
                                 [--dry-run] [--json]
       bloomreach-import-trigger starts --worker URL [--import-id ID] [--outcome O]
                                 [--limit N] [--json]
       bloomreach-import-trigger --version
       bloomreach-import-trigger --help
options take their value as the next argument or after "=": --path P, --path=P
start: BLOOMREACH_API_KEY_ID, BLOOMREACH_API_SECRET, and BLOOMREACH_PROJECT_TOKEN
       (a project) or BLOOMREACH_WORKSPACE_ID (a Data hub workspace; --workspace
       overrides it), BLOOMREACH_API_BASE (optional); exit status 0 started,
       2 invalid input, 3 Bloomreach refused the start, 4 Bloomreach refused the
       credentials, 5 Bloomreach failed or was unreachable
starts: lists a deployed worker's start history, newest first (all of it, or at
       most --limit N entries); --outcome is ok, failed, skipped, in_progress or an
       error code; the caller token comes from BLOOMREACH_TRIGGER_TOKEN; exit status
       0 listed, 1 the worker refused or could not be reached, 2 invalid input`;

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
  worker: { type: "string" },
  "import-id": { type: "string" },
  outcome: { type: "string" },
  limit: { type: "string" },
  json: { type: "boolean" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};
// Which options each command takes (besides --json, --help and --version).
const COMMAND_OPTIONS = {
  start: ["path", "api", "workspace", "no-test-connection", "dry-run"],
  starts: ["worker", "import-id", "outcome", "limit"],
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
  const command = positionals[0];
  const own = COMMAND_OPTIONS[command];
  if (own) {
    for (const name of Object.keys(values)) {
      if (!own.includes(name) && !["json", "help", "version"].includes(name)) throw new Error(`${command} takes no option --${name}`);
    }
  }
  if (command === "starts" && !values.help && !values.version) {
    if (positionals.length !== 1) throw new Error("starts takes no argument; filter with --import-id and --outcome");
    if (values.worker === undefined) throw new Error("starts needs --worker URL");
    let limit;
    if (values.limit !== undefined) {
      if (!/^[1-9][0-9]{0,8}$/.test(values.limit)) throw new Error("--limit must be a whole number of at least 1");
      limit = Number(values.limit);
    }
    return { command, json: values.json === true, worker: values.worker, importId: values["import-id"], outcome: values.outcome, limit };
  }
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
    if (positionals[0] !== "start") throw new Error("the commands are: start <import_id>, starts --worker URL");
    if (positionals.length !== 2) throw new Error("start takes exactly one import id");
    args.importId = positionals[1];
  }
  return args;
}

function out(json, value, human) {
  console.log(json ? JSON.stringify(value) : human);
}

/** The worker's base URL: https, or http to a loopback host (the token goes with it). */
function workerBase(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new Error("--worker must be a URL such as https://bloomreach-import-trigger.example.workers.dev");
  }
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error("--worker must be https (http only for a loopback host): the caller token is sent to it");
  }
  if (url.username || url.password || url.search || url.hash) throw new Error("--worker must be a plain URL, without user info, query or fragment");
  return url.href.replace(/\/+$/, "");
}

/** One line of the table: each cell padded to its column's width. */
function tableLines(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ").trimEnd());
}

function row(entry) {
  const by = entry.cause === "cron" ? `cron ${entry.cron} [${entry.job}]` : `http ${entry.caller ?? ""}`.trim();
  const outcome = entry.outcome === "skipped" ? `skipped (${entry.recorded_outcome})` : entry.outcome;
  return [entry.started_at, entry.import_id ?? "-", by, outcome, String(entry.upstream_status ?? "-"), String(entry.attempts ?? 0), entry.duration_ms === undefined ? "-" : String(entry.duration_ms), (entry.message ?? "").slice(0, 80)];
}

/** `starts`: GET /starts page by page, following next_cursor. */
async function listStarts(args) {
  const token = process.env.BLOOMREACH_TRIGGER_TOKEN;
  if (!token) {
    console.error(`BLOOMREACH_TRIGGER_TOKEN is not set: it holds the caller token (one of the worker's TRIGGER_TOKENS)\n${USAGE}`);
    return 2;
  }
  let base;
  try {
    base = workerBase(args.worker);
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    return 2;
  }
  const rows = [["STARTED_AT", "IMPORT_ID", "BY", "OUTCOME", "STATUS", "ATTEMPTS", "MS", "MESSAGE"]];
  let listed = 0;
  let cursor = null;
  do {
    const left = args.limit === undefined ? 200 : Math.min(200, args.limit - listed);
    const query = new URLSearchParams();
    if (args.importId !== undefined) query.set("import_id", args.importId);
    if (args.outcome !== undefined) query.set("outcome", args.outcome);
    query.set("limit", String(left));
    if (cursor) query.set("cursor", cursor);
    let res;
    let body;
    try {
      res = await fetch(`${base}/starts?${query}`, { headers: { authorization: `Bearer ${token}` }, redirect: "manual" });
      body = await res.json().catch(() => null);
    } catch (e) {
      console.error(`Could not reach the worker: ${(e && e.cause && e.cause.code) || (e && e.message)}`);
      return 1;
    }
    if (res.status !== 200 || !body || !Array.isArray(body.starts)) {
      const error = (body && body.error) || { code: `http_${res.status}`, message: "the worker answered without a start history" };
      if (args.json) out(true, { ok: false, status: res.status, error });
      else console.error(`The worker refused: ${res.status} ${error.code}: ${error.message}`);
      return 1;
    }
    for (const entry of body.starts) {
      if (args.json) console.log(JSON.stringify(entry));
      else rows.push(row(entry));
    }
    listed += body.starts.length;
    cursor = body.next_cursor;
  } while (cursor && (args.limit === undefined || listed < args.limit));
  if (!args.json) {
    if (rows.length === 1) console.log("No starts recorded.");
    else console.log(tableLines(rows).join("\n"));
  }
  return 0;
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
  if (args.command === "starts") return listStarts(args);
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
