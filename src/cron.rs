//! The scheduled handler's shell: it drives the core's `cron_flow` for every job of
//! the event (at most six at a time), calling the ledger and Bloomreach when asked and
//! writing the log lines, and hands the core's verdict back.
//!
//! Cloudflare may deliver a failed event again
//! (<https://developers.cloudflare.com/workers/runtime-apis/handlers/scheduled/>); a
//! redelivery has the same cron and scheduled time, so the ledger's record of each job
//! tells it which jobs already ran (docs/behaviour.md, "Exactly once").

use crate::concurrency::map_bounded;
use crate::env_lookup::EnvLookup;
use crate::ledger::Ledger;
use crate::{clock, log, upstream};
use bloomreach_import_core::cron_flow::{self, EventRun, JobNext};
use bloomreach_import_core::schedule::{
    EventVerdict, JobOutcome, PlannedJob, MAX_CONCURRENT_STARTS,
};
use worker::Env;

/// Runs the event of `cron` scheduled at `scheduled_ms`, and says how it ends.
pub async fn run_event(cron: &str, scheduled_ms: f64, env: &Env) -> EventVerdict {
    let ledger = Ledger::from_env(env);
    let begun = cron_flow::begin_event(
        &EnvLookup::new(env),
        cron,
        scheduled_ms as i64,
        ledger.is_some(),
    );
    let (event, jobs) = match begun {
        Ok(planned) => planned,
        Err(unplanned) => {
            log::line(&unplanned.log_line);
            return unplanned.verdict;
        }
    };
    let outcomes = map_bounded(jobs, MAX_CONCURRENT_STARTS, |job| {
        run_job(job, &event, ledger.as_ref())
    })
    .await;
    event.verdict(&outcomes)
}

/// Drives one job to its end; its latest outcome.
async fn run_job(job: PlannedJob, event: &EventRun, ledger: Option<&Ledger>) -> JobOutcome {
    let mut next = event.begin_job(job, clock::now_ms(), clock::random_u64());
    loop {
        next = match next {
            JobNext::AskLedger(awaiting) => {
                let answer = crate::ledger::ask(ledger, awaiting.call()).await;
                awaiting.on_ledger(answer, event, clock::now_ms())
            }
            JobNext::Send(sending) => {
                let result = upstream::send_with_retries(sending.request(), event.limits()).await;
                sending.on_result(&result, event, clock::now_ms())
            }
            JobNext::Done(done) => {
                if let (Some(record), Some(ledger)) = (&done.record, ledger) {
                    ledger.record(record).await;
                }
                log::line(&done.log_line);
                if let (Some(history), Some(ledger)) = (&done.history, ledger) {
                    ledger.write_history(history).await;
                }
                return done.outcome;
            }
        }
    }
}
