//! The Cloudflare Worker: a thin shell around `bloomreach-import-core`.
//!
//! It only moves bytes: it reads the request and the environment, asks the core what
//! to do, calls `fetch` and the timers the core asks for, and writes the answer and
//! the log line the core built. Nothing here decides.
//!
//! The runtime APIs come from workers-rs (`worker`): the `#[event(fetch)]` handler, its
//! `Context::wait_until`, `Env`, the `#[durable_object]` ledger with its SQL storage and
//! alarm, `Fetch`, `RequestInit` and `Delay`. The fetch handler takes and returns
//! `web_sys` types (which workers-rs accepts), so no router is involved. Two APIs are
//! bound by hand because workers-rs 0.8 lacks them (see [`scheduled`]). src/entry.mjs
//! is the JavaScript module workerd loads; it also rebuilds the ledger object after a
//! panic (docs/architecture.md, "Panics").

mod body;
mod clock;
mod concurrency;
mod cron;
mod env_lookup;
mod group_commit;
mod http;
mod ledger;
mod log;
mod upstream;
#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests;

use wasm_bindgen::prelude::*;
use worker::{event, Context, Env};

/// Installs the panic hook once per instance: a panic is logged as one JSON line (no
/// request data, so no secret), and wasm-bindgen is told to reinitialise the instance
/// before the next call, so later requests are served by a fresh one.
#[wasm_bindgen(start)]
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        log::panic(&info.to_string());
        wasm_bindgen::handler::schedule_reinit();
    }));
}

#[wasm_bindgen]
extern "C" {
    /// The scheduled event's controller. workers-rs 0.8's `#[event(scheduled)]` drops
    /// both the handler's result and the controller, and `worker-sys` binds no
    /// `noRetry()`: this binding can go when workers-rs can fail an event and call it.
    pub type ScheduledController;
    #[wasm_bindgen(method, getter)]
    fn cron(this: &ScheduledController) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = scheduledTime)]
    fn scheduled_time(this: &ScheduledController) -> Option<f64>;
    #[wasm_bindgen(method, js_name = noRetry)]
    fn no_retry(this: &ScheduledController);
}

pub use ledger::StartLedger;

/// The HTTP handler. Every outcome is a JSON answer; an `Err` (the runtime refused to
/// build a response) becomes workers-rs's plain 500.
///
/// What needs no I/O (the health check and most refusals: unknown route, missing or
/// wrong token, a declared length over the limit) is answered at once.
///
/// The rest, from the ledger's record to the log line, runs under `ctx.waitUntil`: work
/// still pending when a caller disconnects is otherwise cancelled
/// (<https://developers.cloudflare.com/workers/runtime-apis/context/>), which could cut
/// a start between Bloomreach's answer and its record. The caller still gets the same
/// work's answer when it stays.
///
/// The answer is handed over through a channel as soon as the work has it:
/// what the work does after (an unkeyed start's history entry, or the whole start of
/// one accepted with `Prefer: respond-async`) never delays it.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let next = match http::begin(&req, &env) {
        http::Begun::Done(reply) => return Ok(http::to_response(&reply)?),
        http::Begun::Pending(next) => next,
    };
    // A channel in Rust, not a JavaScript promise: the work and this handler are two
    // futures of one request, and the channel wakes this one with no call into the
    // runtime.
    let (answer_sender, answer) = futures_channel::oneshot::channel();
    ctx.wait_until(async move {
        // Called once, with the 202 of a start accepted with `Prefer: respond-async`
        // (which then runs on here), or else with the request's final reply.
        let respond = |reply: &bloomreach_import_core::Reply| {
            // The handler may be gone (the runtime cancelled it): nothing to answer.
            let _ = answer_sender.send(http::to_response(reply));
        };
        let finishing = http::finish(&req, &env, *next, respond).await;
        // The history entry goes with others in one call (src/group_commit.rs), sent a
        // short while later: so the runtime has also sent the answer before the call
        // (and, where the object shares the isolate, as in the local runtime, its SQL)
        // runs; started on the next turn of the event loop instead, it cost the caller
        // about 1 ms at p50 locally (README, "Performance").
        finishing.write_history().await;
    });
    match answer.await {
        Ok(response) => Ok(response?),
        Err(futures_channel::oneshot::Canceled) => Err(worker::Error::RustError(
            "the request's work ended without an answer".into(),
        )),
    }
}

/// The scheduled handler, exported by hand (see [`ScheduledController`]). It returns a
/// rejected promise when any job failed, so the runtime (and the dashboard) records
/// the event as an exception, and calls `noRetry()` when the core says a redelivery
/// could start nothing useful.
#[wasm_bindgen]
pub async fn scheduled(
    controller: ScheduledController,
    env: Env,
    _ctx: JsValue,
) -> Result<JsValue, JsValue> {
    // Both are always present on a scheduled event; if the runtime ever left one out,
    // the core reports the unknown cron by name and the event fails visibly.
    let cron = controller.cron().unwrap_or_default();
    let scheduled_ms = controller
        .scheduled_time()
        .unwrap_or_else(js_sys::Date::now);
    let verdict = cron::run_event(&cron, scheduled_ms, &env).await;
    if verdict.no_retry {
        controller.no_retry();
    }
    match verdict.result {
        Ok(()) => Ok(JsValue::UNDEFINED),
        Err(summary) => Err(js_sys::Error::new(&summary).into()),
    }
}

/// talc instead of Rust's default dlmalloc: it is made for single-threaded WebAssembly
/// (and a few KB smaller). Only on wasm; host builds keep the system's.
#[cfg(target_family = "wasm")]
#[global_allocator]
// SAFETY: `new_global` requires single-threaded WebAssembly, which this is: workerd
// and Node run this module's instance on one thread, and it spawns none.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
