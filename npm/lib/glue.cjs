"use strict";
// The JavaScript side of the package: it moves bytes between the caller, `fetch` and
// the Rust engine (wasm), which decides everything (validation, the request, reading
// Bloomreach's answer, retries). Shared by the Node and bundler entry points.

/** An Error with the documented `code`. */
function codedError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

/** Options as JSON for the engine; `fetch` is the caller's and stays here. */
function optionsJson(options) {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw codedError("invalid_request", "options: must be an object");
  }
  if (options.fetch !== undefined && typeof options.fetch !== "function") {
    throw codedError("invalid_request", "fetch: must be a function");
  }
  const { fetch: _fetch, ...rest } = options;
  return JSON.stringify(rest);
}

/** Calls into wasm; a Rust panic becomes an Error carrying its message. */
function guarded(wasm, call) {
  try {
    return call();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      const detail = wasm.lastPanic() || e.message;
      throw codedError("internal_error", `bloomreach-import-trigger: internal error: ${detail}`);
    }
    throw e;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One attempt, aborted after `timeoutMs`, reported as the engine expects. */
async function attempt(fetchFn, request, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetchFn(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? undefined,
      signal: controller.signal,
      // Never follow a redirect: the engine reads a 3xx (or an opaque redirect,
      // status 0, in browsers) as an error that may have started a run.
      redirect: "manual",
    });
    let body = "";
    try {
      body = await response.text();
    } catch {
      // The status decides; a body cut off midway leaves what was read.
    }
    return { kind: "answered", status: response.status, retryAfter: response.headers.get("retry-after"), body };
  } catch (e) {
    if (controller.signal.aborted) return { kind: "timedOut" };
    // Node's fetch puts the connection error's code in `cause`; the engine decides
    // whether it proves nothing was sent.
    const code = e?.cause?.code ?? e?.code;
    return { kind: "error", code: typeof code === "string" ? code : null, message: String(e?.message ?? e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the public API around the wasm-bindgen module `wasm`. */
function makeApi(wasm) {
  /**
   * Reads one answer of the engine: a JSON object tagged by `type`. An `error` answer
   * is thrown as an Error with its `code`; anything else is returned.
   */
  function answer(text) {
    const value = JSON.parse(text);
    if (value.type === "error") throw codedError(value.error.code, value.error.message);
    return value;
  }

  const buildStartImportRequest = (options) => {
    const json = optionsJson(options);
    return answer(guarded(wasm, () => wasm.buildRequest(json))).request;
  };

  /** For the command line's --dry-run: the request with `authorization: Basic ***`. */
  const redactedStartImportRequest = (options) => {
    const json = optionsJson(options);
    return answer(guarded(wasm, () => wasm.redactedRequest(json))).request;
  };

  async function startImport(options) {
    const json = optionsJson(options);
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== "function") {
      throw codedError("invalid_request", "fetch: no global fetch here; pass options.fetch");
    }
    const run = guarded(wasm, () => new wasm.Attempts(json, Date.now()));
    try {
      let step = answer(run.firstStep());
      const { request } = answer(run.request());
      while (step.type === "send") {
        if (step.afterMs > 0) await sleep(step.afterMs);
        const outcome = await attempt(fetchFn, request, step.timeoutMs);
        step = answer(guarded(wasm, () => run.onOutcome(JSON.stringify(outcome), Date.now(), Math.random())));
      }
      return step.result;
    } finally {
      run.free();
    }
  }

  /** The command line's exit status for a result's code (0 when there is none). */
  const exitCode = (code) => wasm.exitCode(code ?? undefined);

  return { buildStartImportRequest, startImport, exitCode, redactedStartImportRequest };
}

module.exports = { makeApi };
