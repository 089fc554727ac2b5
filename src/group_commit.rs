//! The worker's side of the history's group commit (`bloomreach_import_core::
//! call_batch` says why): the history entries written in this isolate within
//! [`HISTORY_GATHER_MS`] of each other go to their ledger object in one call.
//!
//! An isolate serves many requests and keeps its globals between them
//! (<https://developers.cloudflare.com/workers/reference/how-workers-works/>), so the
//! gathering batch is a global. The request that opens a batch sends it, from its own
//! timer and in its own context, waits for the answer inside its `waitUntil` work
//! (<https://developers.cloudflare.com/workers/runtime-apis/context/>), so the runtime
//! keeps the call alive to its end, and logs each entry not written. The others of
//! the batch wait for the same call and run nothing after it: no code of theirs runs
//! in another request's context.
//!
//! What is lost when an isolate ends (a panic makes a new wasm instance; a request's
//! work stopped by a limit before its batch's timer rang) is the entries gathered and
//! not yet sent, without a log line: at most [`MAX_CALLS`] of them, gathered within
//! [`HISTORY_GATHER_MS`], or within `OPEN_AT_MOST_MS` when the timer never rang.
//!
//! Only entries written after the answer of an HTTP start go this way (not a cron
//! job's, whose event would go on in another request's context). A call whose answer a request
//! needs before its own answer (a key's `begin` and `finish`, the history's reads)
//! stays the request's own call: waiting on I/O of another request, workerd
//! cancels the waiting request as hung (checked in the local runtime).

use crate::ledger::Ledger;
use bloomreach_import_core::call_batch::{self, HISTORY_GATHER_MS, MAX_CALLS};
use bloomreach_import_core::history;
use bloomreach_import_core::http_flow::LedgerCall;
use bloomreach_import_core::log_line::history_write_failed_line;
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

type Flush = Shared<LocalBoxFuture<'static, ()>>;

/// The longest a batch takes new entries after it opened, in ms. Its timer is the
/// opening request's: should that request's work be stopped before the timer rings
/// (a limit it hit), the batch is never sent, and later entries must not join it.
const OPEN_AT_MOST_MS: u64 = 1_000;

/// The calls gathered for one object.
struct Open {
    object: String,
    opened_ms: u64,
    calls: Rc<RefCell<Vec<String>>>,
    flush: Flush,
}

thread_local! {
    static OPEN: RefCell<Vec<Open>> = const { RefCell::new(Vec::new()) };
}

/// Writes the entry `call` (a history `record`) carries, with the others for its
/// object made within [`HISTORY_GATHER_MS`]; returns once their call has ended.
pub async fn write(ledger: &Ledger, call: &LedgerCall) {
    let now = crate::clock::now_ms();
    let flush = OPEN.with(|open| {
        let mut open = open.borrow_mut();
        open.retain(|o| now.saturating_sub(o.opened_ms) < OPEN_AT_MOST_MS);
        if let Some(at) = open.iter().position(|o| o.object == call.object) {
            let mut calls = open[at].calls.borrow_mut();
            calls.push(call.call.clone());
            let flush = open[at].flush.clone();
            if calls.len() >= MAX_CALLS {
                drop(calls);
                open.remove(at);
            }
            return flush;
        }
        let calls = Rc::new(RefCell::new(vec![call.call.clone()]));
        let flush = send_when_due(ledger.clone(), call.object.clone(), Rc::clone(&calls));
        open.push(Open {
            object: call.object.clone(),
            opened_ms: now,
            calls,
            flush: flush.clone(),
        });
        flush
    });
    flush.await
}

/// The batch's call: after [`HISTORY_GATHER_MS`] the batch is closed (a later entry
/// opens the next) and sent, alone as itself, or as a `batch` call; then each entry
/// not written is logged, here, so that the others of the batch need run nothing
/// after it.
fn send_when_due(ledger: Ledger, object: String, calls: Rc<RefCell<Vec<String>>>) -> Flush {
    async move {
        worker::Delay::from(Duration::from_millis(HISTORY_GATHER_MS)).await;
        OPEN.with(|open| open.borrow_mut().retain(|o| !Rc::ptr_eq(&o.calls, &calls)));
        let calls = std::mem::take(&mut *calls.borrow_mut());
        let texts: Vec<&str> = calls.iter().map(String::as_str).collect();
        let (answers, failure) = match texts.as_slice() {
            [one] => (vec![ledger.send(&object, one).await.ok()], None),
            _ => match call_batch::batch_call(&texts) {
                Ok(batch) => match ledger.send(&object, &batch).await {
                    Ok(answer) => (call_batch::read_answers(&answer, texts.len()), None),
                    Err(_) => (vec![None; texts.len()], None),
                },
                Err(error) => (vec![None; texts.len()], Some(error)),
            },
        };
        let failure = failure
            .as_deref()
            .unwrap_or("the ledger object could not be reached");
        for (call, answer) in texts.iter().zip(answers) {
            if !answer.is_some_and(|a| history::read_recorded(&a)) {
                let id = history::written_id(call);
                crate::log::line(&history_write_failed_line(id.as_deref(), failure));
            }
        }
    }
    .boxed_local()
    .shared()
}
