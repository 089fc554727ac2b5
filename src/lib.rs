//! The Cloudflare Worker: a thin shell around `bloomreach-import-core`.
//!
//! It only moves bytes: it reads the request and the environment, asks the core what
//! to do, calls `fetch` and the timers the core asks for, and writes the answer and
//! the log line the core built. Nothing here decides.
//!
//! The `fetch` and `scheduled` entry points are plain `wasm_bindgen` exports over
//! `web_sys` types rather than `#[event(...)]` handlers: the macros' `worker::Request`,
//! `worker::Response` and `worker::Error` pull in the router, URL parsing and every
//! error message of the `worker` crate (about 40 KB of wasm), and the scheduled macro
//! cannot report a failed event. `worker` still provides `Env`, the timers and the
//! start-up hook that worker-build's shim expects.

mod body;
mod concurrency;
mod cron;
mod env_lookup;
mod http;
mod idempotency;
mod log;
mod upstream;
#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests;

use wasm_bindgen::prelude::*;
use worker::{event, Env};

/// Installs the panic hook once per instance: a panic is logged as one JSON line
/// (no request data, so no secret), and the runtime then reinitialises the instance.
#[event(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        log::panic(&info.to_string());
    }));
}

/// The HTTP handler. Every outcome is a JSON answer; `Err` only if the runtime
/// itself refused to build a response.
#[wasm_bindgen]
pub async fn fetch(
    req: web_sys::Request,
    env: Env,
    _ctx: JsValue,
) -> Result<web_sys::Response, JsValue> {
    let reply = http::handle(&req, &env).await;
    http::to_response(&reply)
}

/// The scheduled handler. It returns a rejected promise when any job failed, so the
/// runtime (and the dashboard) records the event as an exception.
#[wasm_bindgen]
pub async fn scheduled(
    event: worker::worker_sys::ScheduledEvent,
    env: Env,
    _ctx: JsValue,
) -> Result<JsValue, JsValue> {
    // Both are always present on a scheduled event; if the runtime ever left one out,
    // the core reports the unknown cron by name and the event fails visibly.
    let cron = event.cron().unwrap_or_default();
    let scheduled_ms = event
        .scheduled_time()
        .unwrap_or_else(|_| js_sys::Date::now());
    match cron::run(&cron, scheduled_ms, &env).await {
        Ok(()) => Ok(JsValue::UNDEFINED),
        Err(summary) => Err(js_sys::Error::new(&summary).into()),
    }
}

/// talc instead of Rust's default dlmalloc: about 5 KB less wasm, and it is made
/// for single-threaded WebAssembly. Only on wasm; host builds keep the system's.
#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
