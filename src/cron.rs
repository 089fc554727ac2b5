//! The scheduled handler's shell: asks the core for the event's plan, starts every
//! job (at most six at a time) through the same upstream path as the HTTP endpoint,
//! each recorded in the ledger first, logs each, and hands the core's verdict back.
//!
//! Cloudflare may deliver a failed event again
//! (<https://developers.cloudflare.com/workers/runtime-apis/handlers/scheduled/>); a
//! redelivery has the same cron and scheduled time, so the ledger's record of each job
//! tells it which jobs already ran (docs/behaviour.md, "Cron events").

use crate::concurrency::map_bounded;
use crate::env_lookup::EnvLookup;
use crate::ledger::Ledger;
use crate::{log, upstream};
use bloomreach_import_core::endpoint;
use bloomreach_import_core::ledger::{self, Begin};
use bloomreach_import_core::schedule::{
    event_verdict, plan_event, skipped_job, unplanned_verdict, EventVerdict, JobOutcome,
    PlannedJob, MAX_CONCURRENT_STARTS,
};
use bloomreach_import_core::{RetryLimits, TriggerError, TriggerLog};
use worker::Env;

/// What every job of one event shares.
struct Event<'a> {
    cause: String,
    cron: &'a str,
    scheduled_ms: i64,
    limits: RetryLimits,
    scope: String,
    /// The ledger and its records' time to live, when the deployment has one.
    ledger: Option<(Ledger, u64)>,
}

/// Runs the event of `cron` scheduled at `scheduled_ms`, and says how it ends.
pub async fn run_event(cron: &str, scheduled_ms: f64, env: &Env) -> EventVerdict {
    let cause = format!("cron:{cron}");
    let with_ledger = Ledger::from_env(env);
    let has_ledger = with_ledger.is_some();
    let refuse = |error: &TriggerError| {
        let mut entry = TriggerLog::new(None, &cause);
        entry.error = Some(error);
        log::line(&entry.to_line());
        unplanned_verdict(error, has_ledger)
    };
    let scheduled_ms = scheduled_ms as i64;
    let plan = match plan_event(&EnvLookup(env), cron, scheduled_ms) {
        Ok(plan) => plan,
        Err(error) => return refuse(&error),
    };
    let ledger = match (with_ledger, plan.ttl_ms) {
        (None, _) => None,
        (Some(ledger), Ok(ttl_ms)) => Some((ledger, ttl_ms)),
        (Some(_), Err(error)) => return refuse(&error),
    };
    let event = Event {
        cause: cause.clone(),
        cron,
        scheduled_ms,
        limits: plan.limits,
        scope: plan.scope,
        ledger,
    };
    let outcomes = map_bounded(plan.jobs, MAX_CONCURRENT_STARTS, |job| run_job(job, &event)).await;
    event_verdict(cron, &outcomes, has_ledger)
}

/// Starts one job (unless its record says it already ran) and logs it.
async fn run_job(job: PlannedJob, event: &Event<'_>) -> JobOutcome {
    let started = js_sys::Date::now();
    let import_id = job.import_id.as_ref().map(|id| id.as_str());
    let mut entry = TriggerLog::new(import_id, &event.cause);
    entry.api = job.api;
    entry.job = Some(&job.job);
    let request = match &job.request {
        Ok(request) => request,
        Err(error) => {
            entry.error = Some(error);
            log::line(&entry.to_line());
            return JobOutcome::MISCONFIGURED;
        }
    };
    let mut held = None;
    if let Some((ledger, ttl_ms)) = &event.ledger {
        let name = ledger::cron_job_object_name(
            &event.scope,
            event.cron,
            event.scheduled_ms,
            job.index,
            request,
        );
        let fingerprint = ledger::cron_job_fingerprint(request);
        let call = ledger::begin(&fingerprint, event.limits.deadline_ms, *ttl_ms);
        match ledger.begin(&name, &call).await {
            Ok(Begin::Proceed) => held = Some((ledger, name, fingerprint)),
            Ok(earlier) => {
                let Some((skipped, outcome)) = skipped_job(&earlier) else {
                    let error = ledger::unavailable();
                    entry.error = Some(&error);
                    log::line(&entry.to_line());
                    return JobOutcome::LEDGER_FAILED;
                };
                entry.skipped = Some(skipped);
                log::line(&entry.to_line());
                return outcome;
            }
            Err(error) => {
                entry.error = Some(&error);
                log::line(&entry.to_line());
                return JobOutcome::LEDGER_FAILED;
            }
        }
    }
    let result = upstream::start(request, event.limits).await;
    if let Some((ledger, name, fingerprint)) = held {
        // The job's record keeps the answer an HTTP start would have given.
        let reply = endpoint::start_reply(import_id.unwrap_or_default(), job.api, &result);
        ledger
            .finish(&name, &ledger::finish(&fingerprint, &result, &reply))
            .await;
    }
    entry.record_run(&result, (js_sys::Date::now() - started).max(0.0) as u64);
    log::line(&entry.to_line());
    JobOutcome {
        ok: result.outcome.is_ok(),
        evidence: result.evidence,
    }
}
