// The comparison for the benchmarks: the same job done plainly in JavaScript, as a
// user might write it in a few lines. Auth check, validation, request building,
// fetch, answer mapping; no retries, no constant-time comparison. With the binding
// LOG_LINE=1 it also writes one JSON log line per start, as docs/behaviour.md asks of ours.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const m = url.pathname.match(/^\/imports\/([^/]+)\/start$/);
    if (!m) return Response.json({ ok: false, error: { code: "not_found" } }, { status: 404 });
    if (request.method !== "POST") return Response.json({ ok: false, error: { code: "method_not_allowed" } }, { status: 405 });
    const tokens = (env.TRIGGER_TOKENS || "").split(",");
    const auth = request.headers.get("authorization") || "";
    if (!auth.startsWith("Bearer ") || !tokens.includes(auth.slice(7))) {
      return Response.json({ ok: false, error: { code: "unauthorized" } }, { status: 401 });
    }
    const importId = m[1];
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(importId)) return Response.json({ ok: false, error: { code: "invalid_request" } }, { status: 400 });
    const text = await request.text();
    let fields = {};
    try {
      fields = text.trim() ? JSON.parse(text) : {};
    } catch {
      return Response.json({ ok: false, error: { code: "invalid_request" } }, { status: 400 });
    }
    const body = {};
    if (typeof fields.path === "string") body.path = fields.path;
    if (typeof fields.test_connection === "boolean") body.test_connection = fields.test_connection;
    const hasBody = Object.keys(body).length > 0;
    const headers = { authorization: "Basic " + btoa(`${env.BLOOMREACH_API_KEY_ID}:${env.BLOOMREACH_API_SECRET}`) };
    if (hasBody) headers["content-type"] = "application/json";
    const upstream = `${env.BLOOMREACH_API_BASE}/data/v1/projects/${encodeURIComponent(env.BLOOMREACH_PROJECT_TOKEN)}/imports/${encodeURIComponent(importId)}/start`;
    let res;
    try {
      res = await fetch(upstream, { method: "POST", headers, body: hasBody ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(10000) });
    } catch {
      return Response.json({ ok: false, error: { code: "upstream_unreachable" } }, { status: 504 });
    }
    await res.text();
    if (env.LOG_LINE === "1") {
      console.log(JSON.stringify({ api: "data-v1", attempts: 1, cause: "http:token#1", duration_ms: 0, event: "import_trigger", import_id: importId, outcome: res.ok ? "ok" : "error", upstream_status: res.status }));
    }
    if (res.ok) return Response.json({ ok: true, import_id: importId, upstream_status: res.status, attempts: 1 });
    const code = res.status === 404 ? "import_not_found" : res.status >= 500 ? "upstream_error" : "upstream_rejected";
    return Response.json({ ok: false, error: { code } }, { status: res.status >= 500 ? 502 : 422 });
  },
};
