//! The HTTP endpoint's shell: it drives the core's `http_flow`, reading the body,
//! calling the ledger and Bloomreach when asked, and writing what it is handed.

use crate::env_lookup::EnvLookup;
use crate::ledger::Ledger;
use crate::{body, clock, log, upstream};
use bloomreach_import_core::http_flow::{self, LedgerCall, Next, RequestHead};
use bloomreach_import_core::Reply;
use wasm_bindgen::JsValue;
use worker::Env;

/// The start of a request, decided before any I/O: most refusals (unknown route,
/// missing or wrong token, a declared length over the limit) and the health check end
/// here, answered without a promise or a trip through the microtask queue.
pub enum Begun {
    Done(Reply),
    /// Work to await: [`finish`] it.
    Pending(Box<Next>),
}

/// Runs the flow up to its first I/O.
pub fn begin(req: &web_sys::Request, env: &Env) -> Begun {
    let lookup = EnvLookup::new(env);
    let (method, url) = (req.method(), req.url());
    let request_headers = req.headers();
    let headers = |name: &str| request_headers.get(name).ok().flatten();
    let head = RequestHead {
        method: &method,
        url: &url,
        headers: &headers,
    };
    match http_flow::begin(&head, &lookup, clock::now_ms()) {
        // A record is only ever written after a ledger call; were there one, it would be
        // written in `finish`.
        Next::Done(finished) if finished.record.is_none() && finished.history.is_none() => {
            if let Some(line) = &finished.log_line {
                log::line(line);
            }
            Begun::Done(finished.reply)
        }
        Next::Panic => panic_on_request(),
        next => Begun::Pending(Box::new(next)),
    }
}

/// What is left of a request once its reply is handed back: the history entry to
/// write.
pub struct Finishing {
    after: Option<(LedgerCall, Ledger)>,
}

impl Finishing {
    /// Writes the history entry of an unkeyed start, if any: after the answer, still
    /// inside the request's `waitUntil` work. A failure is logged and changes nothing.
    pub async fn write_history(self) {
        if let Some((call, ledger)) = self.after {
            ledger.write_history_gathered(&call).await;
        }
    }
}

/// Drives a request begun with [`begin`] to its end, handing its reply to `respond` as
/// soon as the core gives it: at the end, or, for a start accepted with `Prefer:
/// respond-async`, before the start is made.
pub async fn finish(
    req: &web_sys::Request,
    env: &Env,
    mut next: Next,
    respond: impl FnOnce(&Reply),
) -> Finishing {
    let mut respond = Some(respond);
    let lookup = EnvLookup::new(env);
    // Looked up once, and only for a start: other routes never need it.
    let mut ledger: Option<Option<Ledger>> = None;
    loop {
        next = match next {
            Next::ReadBody(awaiting) => {
                let body = body::read_limited(req, awaiting.length_declared()).await;
                let has_ledger = ledger
                    .get_or_insert_with(|| Ledger::from_env(env))
                    .is_some();
                awaiting.on_body(
                    body,
                    &lookup,
                    has_ledger,
                    clock::now_ms(),
                    clock::random_u64(),
                )
            }
            Next::AskLedger(awaiting) => {
                let answer =
                    crate::ledger::ask(ledger.as_ref().and_then(Option::as_ref), awaiting.call())
                        .await;
                awaiting.on_ledger(answer, clock::now_ms())
            }
            Next::Accepted(accepted) => {
                if let Some(respond) = respond.take() {
                    respond(&accepted.reply);
                }
                Next::Send(accepted.sending)
            }
            Next::Send(sending) => {
                let result = upstream::send_with_retries(sending.request(), sending.limits()).await;
                sending.on_result(&result, clock::now_ms())
            }
            Next::Panic => panic_on_request(),
            Next::History(read) => {
                let has_ledger = ledger
                    .get_or_insert_with(|| Ledger::from_env(env))
                    .is_some();
                read.prepare(&lookup, has_ledger, clock::now_ms())
            }
            Next::AskHistory(awaiting) => {
                let answer =
                    crate::ledger::ask(ledger.as_ref().and_then(Option::as_ref), awaiting.call())
                        .await;
                awaiting.on_answer(answer)
            }
            Next::Done(finished) => {
                let ledger = ledger.flatten();
                if let (Some(record), Some(ledger)) = (&finished.record, &ledger) {
                    ledger.record(record).await;
                }
                if let Some(line) = &finished.log_line {
                    log::line(line);
                }
                if let Some(respond) = respond.take() {
                    respond(&finished.reply);
                }
                return Finishing {
                    after: finished.history.zip(ledger),
                };
            }
        }
    }
}

fn panic_on_request() -> ! {
    panic!("panic requested through /__panic (PANIC_TEST_ROUTE is enabled)")
}

/// The core's reply as a runtime response, with the headers every answer carries.
pub fn to_response(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&reply.body), &init)
}
