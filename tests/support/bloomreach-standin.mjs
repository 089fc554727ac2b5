// A local stand-in of Bloomreach's import-start APIs (Engagement's data-v1 and
// imports-v1, Data hub's workspace route), for tests, the dev command and benchmarks. It listens on 127.0.0.1, records every request it
// receives exactly (method, path, headers, body bytes), and answers as Bloomreach
// does. How it answers is chosen by the import id's first word (before any "_"):
// "notfound_a1" answers 404, "ratelimitedonce_b2" answers 429 then 200, and so on.
// Any other id is accepted with 200 {"success": true}.
//
// Run alone: node tests/support/bloomreach-standin.mjs [--port N] [--quiet] [--no-record]
import http from "node:http";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const json = (status, body, headers = {}) => ({ status, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const html = (status, title) => ({ status, headers: { "content-type": "text/html" }, body: `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>` });
const httpDate = (msFromNow) => new Date(Math.ceil((Date.now() + msFromNow) / 1000) * 1000).toUTCString();

/** The scenarios: name -> (how many times this import id was seen before) -> answer. */
export const SCENARIOS = {
  ok: () => json(200, { success: true }),
  notfound: () => json(404, { success: false, errors: { code: "NotFoundError", message: "Import not found" } }),
  forbidden: () => json(403, { success: false, errors: { _global: ["No permission to allow trigger imports. Check the API group's permissions."] } }),
  unauth: () => ({ status: 401, headers: { "www-authenticate": 'Basic realm="Login Required"' }, body: "" }),
  badauth400: () => json(400, { success: false, errors: ["Could not authenticate request"] }),
  rejected: () => json(400, { success: false, errors: { _global: ["BadRequest: Import of this type cannot be started"] } }),
  badpath: () => json(400, { error: "bad path" }),
  errlist: () => json(400, { success: false, errors: ["first problem", "second problem"] }),
  errmap: () => json(400, { success: false, errors: { path: ["must be a URL"] } }),
  conflict: () => json(409, { success: false, errors: ["Import is already running"] }),
  ratelimited: () => json(429, { success: false, errors: ["Too many requests"] }, { "retry-after": "1" }),
  ratelimitedonce: (seen) => (seen === 0 ? json(429, { success: false, errors: ["Too many requests"] }, { "retry-after": "1" }) : json(200, { success: true })),
  ratelimiteddate: (seen) => (seen === 0 ? json(429, { success: false }, { "retry-after": httpDate(1000) }) : json(200, { success: true })),
  ratelimitednoheader: (seen) => (seen === 0 ? json(429, { success: false }) : json(200, { success: true })),
  // Held starts (tests/e2e/held.test.mjs): pushed back the first 3 times, then accepted;
  // pushed back once, then a 500 (ambiguous); pushed back once, then a slow 200.
  ratelimited3: (seen) => (seen < 3 ? json(429, { success: false, errors: ["Too many requests"] }, { "retry-after": "1" }) : json(200, { success: true })),
  limitedthen500: (seen) => (seen === 0 ? json(429, { success: false }, { "retry-after": "1" }) : json(500, { success: false, errors: { _global: ["Internal error"] } })),
  limitedthenslow: (seen) => (seen === 0 ? json(429, { success: false }, { "retry-after": "1" }) : { delayMs: 800, ...json(200, { success: true }) }),
  ratelimitedlong: () => json(429, { success: false }, { "retry-after": "120" }),
  unavailableonce: (seen) => (seen === 0 ? json(503, { success: false, errors: ["Service unavailable"] }) : json(200, { success: true })),
  unavailable: () => json(503, { success: false, errors: ["Service unavailable"] }),
  servererror: () => json(500, { success: false, errors: { _global: ["Internal error"] } }),
  badgateway: () => html(502, "502 Bad Gateway"),
  gatewaytimeout: () => ({ status: 504, headers: {}, body: "" }),
  html: () => html(500, "Something went wrong"),
  empty: () => ({ status: 400, headers: {}, body: "" }),
  malformed: () => ({ status: 400, headers: { "content-type": "application/json" }, body: '{"success": false, "errors": [' }),
  malformedok: () => ({ status: 200, headers: { "content-type": "application/json" }, body: '{"success": tru' }),
  huge: () => ({ status: 500, headers: { "content-type": "text/plain" }, body: "x".repeat(5 * 1024 * 1024) }),
  slow: () => ({ delayMs: 300, ...json(200, { success: true }) }),
  // A redirect to a login page that answers 200: followed, it would read as "started".
  redirect: () => ({ status: 302, headers: { location: "/login" }, body: "" }),
  redirect303: () => ({ status: 303, headers: { location: "/login" }, body: "" }),
  ratelimitedhuge: () => json(429, { success: false }, { "retry-after": "9999999999" }),
  // A 500 whose body never ends: only what the worker reads of it is ever sent.
  endless: () => ({ endless: true }),
  hang: () => ({ hang: true }),
  reset: () => ({ reset: true }),
  resetbody: () => ({ resetBody: true }),
};

/** A port on 127.0.0.1 where nothing listens (taken and released at once). */
export function closedPort() {
  return new Promise((resolve, reject) => {
    const s = http.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Which scenario an upstream path asks for, and the import id in it. */
function parse(pathname) {
  const hub = pathname.match(/\/data\/v2\/workspaces\/([^/]+)\/imports\/([^/]+)\/start$/);
  const m = hub || pathname.match(/\/data\/v1\/projects\/([^/]+)\/imports\/([^/]+)\/start$/) || pathname.match(/\/imports\/v1\/([^/]+)\/([^/]+)\/run$/);
  if (!m) return null;
  const importId = decodeURIComponent(m[2]);
  const word = importId.split("_")[0];
  const owner = decodeURIComponent(m[1]);
  return { ...(hub ? { workspace: owner } : { project: owner }), importId, scenario: Object.hasOwn(SCENARIOS, word) ? word : "ok" };
}

/**
 * Starts the stand-in. Resolves to { url, port, requests, countFor(id), reset(), close() }.
 * `onRequest(record)` is called for each request received (the dev command prints them).
 */
export function startStandin({ port = 0, onRequest, record: keep = true } = {}) {
  const requests = [];
  let received = 0;
  const seen = new Map();
  const hanging = new Set();
  const stats = { inFlight: 0, maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.on("close", () => { stats.inFlight--; });
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://standin");
      if (url.pathname === "/__stats" && req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ received, maxInFlight: stats.maxInFlight }));
        return;
      }
      const body = Buffer.concat(chunks);
      const route = parse(url.pathname);
      const record = { method: req.method, path: url.pathname + url.search, headers: { ...req.headers }, body: body.toString("utf8"), bodyBytes: body.length, importId: route?.importId, scenario: route?.scenario, at: Date.now() };
      received++;
      if (keep) requests.push(record);
      onRequest?.(record);
      if (url.pathname === "/login") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: true, page: "login" }));
        return;
      }
      if (!route || req.method !== "POST") {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: false, errors: { code: "NotFoundError", message: "Not found" } }));
        return;
      }
      // Like Bloomreach: a content-type of JSON with no body is a 400.
      if (/application\/json/.test(req.headers["content-type"] || "") && body.length === 0) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: false, errors: { _global: ["BadRequest: empty body with content-type application/json"] } }));
        return;
      }
      const count = seen.get(route.importId) ?? 0;
      seen.set(route.importId, count + 1);
      const answer = SCENARIOS[route.scenario](count);
      if (answer.hang) { hanging.add(res); res.on("close", () => hanging.delete(res)); return; }
      if (answer.reset) { req.socket.destroy(); return; }
      if (answer.endless) {
        res.writeHead(500, { "content-type": "text/plain" });
        const chunk = "y".repeat(16 * 1024);
        const timer = setInterval(() => res.write(chunk), 2);
        res.on("close", () => { clearInterval(timer); record.endlessClosed = true; });
        return;
      }
      if (answer.resetBody) { res.writeHead(200, { "content-type": "application/json", "content-length": "100" }); res.write('{"succ'); setTimeout(() => req.socket.destroy(), 10); return; }
      const send = () => { res.writeHead(answer.status, answer.headers); res.end(answer.body); };
      if (answer.delayMs) setTimeout(send, answer.delayMs); else send();
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const actual = server.address().port;
      resolve({
        url: `http://127.0.0.1:${actual}`,
        port: actual,
        requests,
        stats,
        /** The requests received for one import id. */
        for: (importId) => requests.filter((r) => r.importId === importId),
        reset() { requests.length = 0; received = 0; seen.clear(); stats.maxInFlight = stats.inFlight; },
        close() {
          for (const res of hanging) res.destroy();
          server.closeAllConnections?.();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/**
 * Starts the stand-in in a process of its own (for load and benchmarks, so that it
 * does not share an event loop with the load generator). Resolves to { url, stop }.
 */
export async function startStandinProcess() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--quiet", "--no-record", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      const m = String(d).match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error("the stand-in stopped")));
    setTimeout(() => reject(new Error("the stand-in did not start in 10 s")), 10000);
  });
  return { url, stop: () => child.kill() };
}

// Run alone: print each request as Bloomreach would receive it.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const portArg = args.indexOf("--port");
  const quiet = args.includes("--quiet");
  const standin = await startStandin({
    port: portArg >= 0 ? Number(args[portArg + 1]) : 0,
    // Load and benchmarks count requests without keeping them, so memory stays flat.
    record: !args.includes("--no-record"),
    onRequest: quiet ? undefined : (r) => {
      const auth = r.headers.authorization ? r.headers.authorization.replace(/^(Basic )(.*)$/, (_, s, v) => `${s}${v.slice(0, 4)}… (${v.length} chars)`) : "(none)";
      console.log(`\n[bloomreach stand-in] ${r.method} ${r.path}`);
      console.log(`  authorization: ${auth}`);
      console.log(`  content-type:  ${r.headers["content-type"] ?? "(none)"}`);
      console.log(`  body:          ${r.bodyBytes ? r.body : "(none)"}`);
      console.log(`  answered as:   ${r.scenario ?? "404 (unknown route)"}`);
    },
  });
  console.log(`[bloomreach stand-in] listening on ${standin.url}`);
  const stop = () => standin.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
