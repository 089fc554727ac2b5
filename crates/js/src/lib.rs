//! The npm package's engine: the core behind wasm-bindgen, with no `worker` in sight.
//!
//! Everything crosses the boundary as JSON text, which keeps this wrapper to a few
//! conversions and the wasm small (no js-sys object building). The JavaScript side
//! (npm/lib/glue.cjs) only calls `fetch` and timers, as [`Attempts`] asks.

use bloomreach_import_core::{
    AttemptOutcome, Attempts as CoreAttempts, ErrorCode, RequestView, StartOptions, StartResult,
    Step, TriggerError, UpstreamRequest,
};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

/// talc instead of Rust's default dlmalloc: a few KB less wasm (see the worker's lib.rs).
#[cfg(target_family = "wasm")]
#[global_allocator]
// SAFETY: `new_global` requires single-threaded WebAssembly, which this is: workerd
// and Node run this module's instance on one thread, and it spawns none.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps a panic's message, so the JavaScript side can throw it as an `Error`
/// instead of an opaque `RuntimeError: unreachable`.
#[wasm_bindgen(start)]
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
    }));
}

/// The message of the last panic, if any.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

/// The command line's exit status for an outcome code (see `ErrorCode::exit_code`);
/// 0 for success (`null`), 1 for a code it does not know.
#[wasm_bindgen(js_name = exitCode)]
pub fn exit_code(code: Option<String>) -> u8 {
    match code {
        None => 0,
        Some(name) => ErrorCode::from_name(&name).map_or(1, ErrorCode::exit_code),
    }
}

/// Every answer across the boundary is one JSON object tagged by `type`: `request`,
/// `send`, `done`, or `error` with `{code, message}`, which the glue throws. Nothing
/// here throws, and no field is `null` unless the documented result says so.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Answer<'a> {
    Request {
        request: RequestView<'a>,
    },
    #[serde(rename_all = "camelCase")]
    Send {
        after_ms: u64,
        timeout_ms: u64,
    },
    Done {
        result: ResultJson<'a>,
    },
    Error {
        error: ErrorJson<'a>,
    },
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: &'static str,
    message: &'a str,
}

/// The documented `{ok, status, attempts, code?, message?, retryAfter?}`; `status` is
/// Bloomreach's, or `null` when it never answered.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultJson<'a> {
    ok: bool,
    status: Option<u16>,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl Answer<'_> {
    fn text(&self) -> String {
        // Only strings, numbers, booleans and `null` are written, which serde_json
        // always can; were it ever to fail, the glue gets an error answer, not a throw.
        serde_json::to_string(self).unwrap_or_else(|_| UNWRITABLE_ANSWER.to_owned())
    }
}

/// The error answer for an answer serde_json could not write.
const UNWRITABLE_ANSWER: &str = r#"{"type":"error","error":{"code":"invalid_request","message":"the answer could not be written"}}"#;

fn error_answer(error: &TriggerError) -> String {
    Answer::Error {
        error: ErrorJson {
            code: error.code.as_str(),
            message: &error.message,
        },
    }
    .text()
}

fn request_answer(request: RequestView<'_>) -> String {
    Answer::Request { request }.text()
}

/// `buildStartImportRequest`: options as JSON in; a `request` or `error` answer out.
#[wasm_bindgen(js_name = buildRequest)]
pub fn build_request(options_json: &str) -> String {
    match StartOptions::from_json(options_json) {
        Ok(options) => request_answer(options.upstream.sendable()),
        Err(e) => error_answer(&e),
    }
}

/// The request with its authorization shown as `Basic ***`, for dry runs: a
/// `request` or `error` answer.
#[wasm_bindgen(js_name = redactedRequest)]
pub fn redacted_request(options_json: &str) -> String {
    match StartOptions::from_json(options_json) {
        Ok(options) => request_answer(options.upstream.redacted()),
        Err(e) => error_answer(&e),
    }
}

/// One start in progress: the core's [`bloomreach_import_core::Attempts`], stepped
/// by the JavaScript side; or why it cannot start (invalid options).
#[wasm_bindgen]
pub struct Attempts {
    state: Result<(CoreAttempts, Step, UpstreamRequest), TriggerError>,
}

/// An attempt's outcome as the JavaScript side reports it:
/// `{"kind": "answered", "status", "retryAfter", "body"}`, `{"kind": "timedOut"}` or
/// `{"kind": "error", "code", "message"}` for a rejected `fetch`, which the core reads.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Outcome {
    #[serde(rename_all = "camelCase")]
    Answered {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        #[serde(default)]
        body: Option<String>,
    },
    TimedOut,
    Error {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
}

fn read_outcome(text: &str) -> Option<AttemptOutcome> {
    Some(match serde_json::from_str::<Outcome>(text).ok()? {
        Outcome::Answered {
            status,
            retry_after,
            body,
        } => AttemptOutcome::Answered {
            status,
            retry_after,
            body: body.unwrap_or_default().into_bytes(),
        },
        Outcome::TimedOut => AttemptOutcome::TimedOut,
        Outcome::Error { code, message } => {
            AttemptOutcome::from_fetch_error(code.as_deref(), message.as_deref().unwrap_or(""))
        }
    })
}

fn step_json(step: &Step) -> String {
    match step {
        Step::Send {
            after_ms,
            timeout_ms,
        } => Answer::Send {
            after_ms: *after_ms,
            timeout_ms: *timeout_ms,
        },
        Step::Done(result) => Answer::Done {
            result: result_json(result),
        },
    }
    .text()
}

fn result_json(result: &StartResult) -> ResultJson<'_> {
    match &result.outcome {
        Ok(accepted) => ResultJson {
            ok: true,
            status: Some(accepted.status),
            attempts: result.attempts,
            code: None,
            message: None,
            retry_after: None,
        },
        Err(e) => ResultJson {
            ok: false,
            status: e.upstream_status,
            attempts: result.attempts,
            code: Some(e.code.as_str()),
            message: Some(&e.message),
            retry_after: e.retry_after_secs,
        },
    }
}

#[wasm_bindgen]
impl Attempts {
    /// Validates the options and starts the clock at `now_ms`. Invalid options are
    /// kept, and answered by [`Attempts::first_step`] as an `error`.
    #[wasm_bindgen(constructor)]
    pub fn new(options_json: &str, now_ms: f64) -> Attempts {
        let state = StartOptions::from_json(options_json).map(|options| {
            let (attempts, first) = CoreAttempts::begin(options.limits, now_ms.max(0.0) as u64);
            (attempts, first, options.upstream)
        });
        Attempts { state }
    }

    /// The request to send: a `request` or `error` answer.
    pub fn request(&self) -> String {
        match &self.state {
            Ok((_, _, request)) => request_answer(request.sendable()),
            Err(e) => error_answer(e),
        }
    }

    /// The first step: a `send`, or the `error` of invalid options.
    #[wasm_bindgen(js_name = firstStep)]
    pub fn first_step(&self) -> String {
        match &self.state {
            Ok((_, first, _)) => step_json(first),
            Err(e) => error_answer(e),
        }
    }

    /// Takes an attempt's outcome (JSON) and returns the next step: `send` or `done`.
    #[wasm_bindgen(js_name = onOutcome)]
    pub fn on_outcome(&mut self, outcome_json: &str, now_ms: f64, jitter: f64) -> String {
        let Ok((attempts, _, _)) = &mut self.state else {
            return self.first_step();
        };
        // Only our own glue calls this; an unreadable outcome gets the safest reading:
        // the request may have left, so it is not retried.
        let outcome = read_outcome(outcome_json).unwrap_or(AttemptOutcome::Failed {
            reason: "the outcome could not be read".to_owned(),
        });
        step_json(&attempts.on_outcome(outcome, now_ms.max(0.0) as u64, jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const OPTIONS: &str = r#"{"projectToken":"p","importId":"i","apiKeyId":"k","apiSecret":"s","baseUrl":"http://127.0.0.1:9"}"#;

    #[test]
    fn the_unwritable_fallback_is_an_error_answer() {
        let v: Value = serde_json::from_str(super::UNWRITABLE_ANSWER).unwrap();
        assert_eq!(v["type"], "error");
        assert!(v["error"]["message"].is_string());
    }

    #[test]
    fn build_request_gives_the_request_or_the_error() {
        let v: Value = serde_json::from_str(&build_request(OPTIONS)).unwrap();
        assert_eq!(v["type"], "request");
        assert_eq!(
            v["request"]["url"],
            "http://127.0.0.1:9/data/v1/projects/p/imports/i/start"
        );
        assert_eq!(v["request"]["headers"]["authorization"], "Basic azpz");
        assert_eq!(v["request"]["body"], Value::Null);
        let v: Value = serde_json::from_str(&build_request("{}")).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "error": {"code": "invalid_request", "message": "projectToken: is required (or workspaceId, for a Data hub workspace)"}})
        );
    }

    #[test]
    fn the_redacted_request_hides_the_credentials() {
        let v: Value = serde_json::from_str(&redacted_request(OPTIONS)).unwrap();
        assert_eq!(
            v,
            json!({"type": "request", "request": {
                "method": "POST",
                "url": "http://127.0.0.1:9/data/v1/projects/p/imports/i/start",
                "headers": {"authorization": "Basic ***"},
                "body": null
            }})
        );
    }

    #[test]
    fn a_run_steps_through_outcomes_given_as_json() {
        let mut run = Attempts::new(OPTIONS, 1000.0);
        let first: Value = serde_json::from_str(&run.first_step()).unwrap();
        assert_eq!(
            first,
            json!({"type": "send", "afterMs": 0, "timeoutMs": 10000})
        );
        let step: Value = serde_json::from_str(&run.on_outcome(
            r#"{"kind":"answered","status":429,"retryAfter":"1","body":""}"#,
            1010.0,
            0.0,
        ))
        .unwrap();
        assert_eq!(step["type"], "send");
        assert_eq!(step["afterMs"], 1000);
        let step: Value = serde_json::from_str(&run.on_outcome(
            r#"{"kind":"answered","status":404,"retryAfter":null,"body":"{\"error\":\"gone\"}"}"#,
            2020.0,
            0.0,
        ))
        .unwrap();
        assert_eq!(
            step["result"],
            json!({"ok": false, "status": 404, "attempts": 2, "code": "import_not_found", "message": "Bloomreach answered 404: gone"})
        );
        let step: Value = serde_json::from_str(&run.on_outcome("nonsense", 3000.0, 0.0)).unwrap();
        assert_eq!(step["result"]["code"], "upstream_unreachable");
    }

    #[test]
    fn invalid_options_are_an_error_answer_from_every_method() {
        let mut run = Attempts::new(r#"{"importId":"i"}"#, 0.0);
        for answer in [
            run.first_step(),
            run.request(),
            run.on_outcome("{}", 1.0, 0.0),
        ] {
            let v: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["code"], "invalid_request");
        }
    }

    #[test]
    fn a_rate_limited_result_carries_retry_after_and_no_nulls_besides_status() {
        let mut run = Attempts::new(
            r#"{"projectToken":"p","importId":"i","apiKeyId":"k","apiSecret":"s","maxAttempts":1}"#,
            0.0,
        );
        let step: Value = serde_json::from_str(&run.on_outcome(
            r#"{"kind":"answered","status":429,"retryAfter":"7","body":""}"#,
            1.0,
            0.0,
        ))
        .unwrap();
        assert_eq!(step["result"]["retryAfter"], 7);
        let step: Value = serde_json::from_str(&Attempts::new(OPTIONS, 0.0).on_outcome(
            r#"{"kind":"timedOut"}"#,
            1.0,
            0.0,
        ))
        .unwrap();
        assert_eq!(step["result"]["status"], Value::Null);
        assert!(step["result"].get("retryAfter").is_none());
    }

    #[test]
    fn outcomes_of_every_kind_are_read() {
        assert!(matches!(
            read_outcome(r#"{"kind":"timedOut"}"#),
            Some(AttemptOutcome::TimedOut)
        ));
        assert!(matches!(
            read_outcome(r#"{"kind":"error","code":"ECONNREFUSED","message":"fetch failed"}"#),
            Some(AttemptOutcome::NotSent { .. })
        ));
        assert!(matches!(
            read_outcome(r#"{"kind":"error","message":"socket hang up"}"#),
            Some(AttemptOutcome::Failed { .. })
        ));
        assert!(matches!(
            read_outcome(r#"{"kind":"answered","status":404,"retryAfter":null,"body":"x"}"#),
            Some(AttemptOutcome::Answered { status: 404, retry_after: None, ref body }) if body == b"x"
        ));
        assert!(read_outcome(r#"{"kind":"answered","status":70000,"body":""}"#).is_none());
        assert!(read_outcome(r#"{"kind":"later"}"#).is_none());
        assert!(read_outcome("[]").is_none());
    }
}
