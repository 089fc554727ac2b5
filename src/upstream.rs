//! Sending a start to Bloomreach with the runtime's `fetch` and timers, as the core's
//! [`Attempts`] asks: each attempt aborted after its timeout, waits between attempts.
//! The timeout is the runtime's own `AbortSignal.timeout`, which also bounds reading
//! the answer's body.

use bloomreach_import_core::{
    AttemptOutcome, Attempts, RetryLimits, StartResult, Step, UpstreamRequest,
};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Delay;

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

/// One attempt, bounded by `timeout_ms` from sending to the last byte of the answer:
/// the runtime's own `AbortSignal.timeout` aborts both the call and the body's reading.
async fn attempt(request: &UpstreamRequest, timeout_ms: u64) -> AttemptOutcome {
    let signal = web_sys::AbortSignal::timeout_with_f64(timeout_ms as f64);
    let outcome = exchange(request, &signal).await;
    match outcome {
        AttemptOutcome::Failed { .. } | AttemptOutcome::NotSent { .. } if signal.aborted() => {
            AttemptOutcome::TimedOut
        }
        other => other,
    }
}

async fn exchange(request: &UpstreamRequest, signal: &web_sys::AbortSignal) -> AttemptOutcome {
    let not_sent = |e: JsValue| AttemptOutcome::not_sent(&describe(&e));
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    let headers = match web_sys::Headers::new() {
        Ok(h) => h,
        Err(e) => return not_sent(e),
    };
    for (name, value) in request.headers() {
        if headers.set(name, value).is_err() {
            // Never echo the value: it may be the authorization.
            return AttemptOutcome::not_sent(&format!("the runtime refused the {name} header"));
        }
    }
    init.set_headers(&headers);
    if let Some(body) = &request.body {
        init.set_body(&JsValue::from_str(body));
    }
    init.set_signal(Some(signal));
    // Never follow a redirect: the core reads a 3xx as an error (docs/behaviour.md).
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = match JsFuture::from(global.fetch_with_str_and_init(&request.url, &init)).await {
        Ok(r) => r.unchecked_into::<web_sys::Response>(),
        Err(e) => return classify_failure(&e),
    };
    let status = response.status();
    let retry_after = response.headers().get("retry-after").ok().flatten();
    // The status decides the outcome; a body cut off midway (or by the timeout)
    // leaves what was read.
    let body = match response.array_buffer() {
        Ok(promise) => match JsFuture::from(promise).await {
            Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
            Err(_) => Vec::new(),
        },
        Err(_) => Vec::new(),
    };
    AttemptOutcome::Answered {
        status,
        retry_after,
        body,
    }
}

/// A rejected `fetch`, read by the core (workerd gives a message, no error code).
fn classify_failure(error: &JsValue) -> AttemptOutcome {
    AttemptOutcome::from_fetch_error(None, &describe(error))
}

fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}
