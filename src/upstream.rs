//! Sending a start to Bloomreach with the runtime's `fetch` and timers, as the core's
//! [`Attempts`] asks: each attempt aborted after its timeout, waits between attempts.
//! workers-rs's `Fetch` with `RequestInit` (redirects not followed) and `Delay`; the
//! timeout is the runtime's own `AbortSignal.timeout`, which also bounds reading the
//! answer's body (workers-rs 0.8 has no constructor for it: `web_sys`'s is used).

use crate::body::read_capped;
use bloomreach_import_core::{
    AttemptOutcome, Attempts, RetryLimits, StartResult, Step, UpstreamRequest, ANSWER_READ_LIMIT,
};
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortSignal, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, ResponseBody,
};

/// Makes the start, retrying where the core says, and returns the final outcome.
pub async fn send_with_retries(request: &UpstreamRequest, limits: RetryLimits) -> StartResult {
    let (mut run, mut step) = Attempts::begin(limits, crate::clock::now_ms());
    loop {
        match step {
            Step::Done(result) => return result,
            Step::Send {
                after_ms,
                timeout_ms,
            } => {
                if after_ms > 0 {
                    Delay::from(Duration::from_millis(after_ms)).await;
                }
                let outcome = attempt(request, timeout_ms).await;
                step = run.on_outcome(outcome, crate::clock::now_ms(), js_sys::Math::random());
            }
        }
    }
}

/// One attempt, bounded by `timeout_ms` from sending to the last byte of the answer.
async fn attempt(request: &UpstreamRequest, timeout_ms: u64) -> AttemptOutcome {
    let signal = web_sys::AbortSignal::timeout_with_f64(timeout_ms as f64);
    let outcome = exchange(request, &AbortSignal::from(signal.clone())).await;
    match outcome {
        AttemptOutcome::Failed { .. } | AttemptOutcome::NotSent { .. } if signal.aborted() => {
            AttemptOutcome::TimedOut
        }
        other => other,
    }
}

/// The runtime's request for `request`; an error names what it refused, never a value
/// (a header's may be the authorization).
fn build(request: &UpstreamRequest) -> Result<Request, String> {
    let headers = Headers::new();
    for (name, value) in request.headers() {
        headers
            .set(name, value)
            .map_err(|_| format!("the runtime refused the {name} header"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(request.method.to_owned()))
        .with_headers(headers)
        // Never follow a redirect: the core reads a 3xx as an error (docs/behaviour.md).
        .with_redirect(RequestRedirect::Manual)
        .with_body(request.body.as_deref().map(JsValue::from_str));
    Request::new_with_init(&request.url, &init).map_err(|e| e.to_string())
}

async fn exchange(request: &UpstreamRequest, signal: &AbortSignal) -> AttemptOutcome {
    let outbound = match build(request) {
        Ok(outbound) => outbound,
        Err(reason) => return AttemptOutcome::not_sent(&reason),
    };
    let response = match Fetch::Request(outbound).send_with_signal(signal).await {
        Ok(response) => response,
        Err(error) => return AttemptOutcome::from_fetch_error(None, &describe(error)),
    };
    let status = response.status_code();
    let retry_after = response.headers().get("retry-after").ok().flatten();
    // The status decides the outcome. Of the body, only what the core reads is read
    // (ANSWER_READ_LIMIT); one cut off midway (or by the timeout) leaves what was read.
    // The stream is read where workers-rs holds it: turning its `Response` back into the
    // runtime's would build a new one (headers, status, `cf`, body) for nothing.
    let body = match response.body() {
        ResponseBody::Stream(stream) => read_capped(stream.clone(), ANSWER_READ_LIMIT)
            .await
            .map(|read| read.bytes)
            .unwrap_or_default(),
        ResponseBody::Body(bytes) => bytes[..bytes.len().min(ANSWER_READ_LIMIT)].to_vec(),
        ResponseBody::Empty => Vec::new(),
    };
    AttemptOutcome::Answered {
        status,
        retry_after,
        body,
    }
}

/// A rejected `fetch`'s message (workerd gives a message, no error code).
fn describe(error: worker::Error) -> String {
    match error {
        worker::Error::UnknownJsError { message, .. } | worker::Error::JsError(message) => message,
        worker::Error::Internal(value) => value
            .as_string()
            .unwrap_or_else(|| "unknown error".to_owned()),
        other => other.to_string(),
    }
}
