//! The HTTP endpoint's shell: it drives the core's `http_flow`, reading the body,
//! calling the ledger and Bloomreach when asked, and writing what it is handed.

use crate::env_lookup::EnvLookup;
use crate::ledger::Ledger;
use crate::{body, clock, log, upstream};
use bloomreach_import_core::http_flow::{self, Next, RequestHead};
use bloomreach_import_core::{ledger, Reply};
use wasm_bindgen::JsValue;
use worker::Env;

/// Answers one request with the core's reply.
pub async fn handle(req: &web_sys::Request, env: &Env) -> Reply {
    let lookup = EnvLookup::new(env);
    let (method, url) = (req.method(), req.url());
    let request_headers = req.headers();
    let headers = |name: &str| request_headers.get(name).ok().flatten();
    let head = RequestHead {
        method: &method,
        url: &url,
        headers: &headers,
    };
    // Looked up once, and only for a start: other routes never need it.
    let mut ledger: Option<Option<Ledger>> = None;
    let mut next = http_flow::begin(&head, &lookup, clock::now_ms());
    loop {
        next = match next {
            Next::ReadBody(awaiting) => {
                let body = body::read_limited(req).await;
                let has_ledger = ledger
                    .get_or_insert_with(|| Ledger::from_env(env))
                    .is_some();
                awaiting.on_body(body, &lookup, has_ledger, clock::now_ms())
            }
            Next::AskLedger(awaiting) => {
                let answer = match ledger.as_ref().and_then(Option::as_ref) {
                    Some(ledger) => ledger.call(awaiting.call()).await,
                    None => Err(ledger::unavailable()),
                };
                awaiting.on_ledger(answer, clock::now_ms())
            }
            Next::Send(sending) => {
                let result = upstream::send_with_retries(sending.request(), sending.limits()).await;
                sending.on_result(&result, clock::now_ms())
            }
            Next::Panic => {
                panic!("panic requested through /__panic (PANIC_TEST_ROUTE is enabled)")
            }
            Next::Done(finished) => {
                if let (Some(record), Some(ledger)) =
                    (&finished.record, ledger.as_ref().and_then(Option::as_ref))
                {
                    ledger.record(record).await;
                }
                if let Some(line) = &finished.log_line {
                    log::line(line);
                }
                return finished.reply;
            }
        }
    }
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
