//! The scheduled handler's shell: asks the core for the event's plan, starts every
//! job (at most six at a time) through the same upstream path as the HTTP endpoint,
//! logs each, and reports failure when any job failed.

use crate::concurrency::map_bounded;
use crate::env_lookup::EnvLookup;
use crate::{log, upstream};
use bloomreach_import_core::schedule::{
    event_verdict, plan_event, PlannedJob, MAX_CONCURRENT_STARTS,
};
use bloomreach_import_core::{RetryLimits, TriggerLog};
use worker::Env;

/// Runs the event of `cron` scheduled at `scheduled_ms`. `Err` holds the summary that
/// the runtime records with the failed event.
pub async fn run(cron: &str, scheduled_ms: f64, env: &Env) -> Result<(), String> {
    let cause = format!("cron:{cron}");
    let plan = match plan_event(&EnvLookup(env), cron, scheduled_ms as i64) {
        Ok(plan) => plan,
        Err(error) => {
            let mut entry = TriggerLog::new(None, &cause);
            entry.error = Some(&error);
            log::line(&entry.to_line());
            return Err(error.to_string());
        }
    };
    let total = plan.jobs.len();
    let limits = plan.limits;
    let outcomes = map_bounded(plan.jobs, MAX_CONCURRENT_STARTS, |job| {
        run_job(job, limits, &cause)
    })
    .await;
    let failed = outcomes.iter().filter(|ok| !**ok).count();
    event_verdict(cron, failed, total)
}

/// Starts one job and logs it; `true` when Bloomreach accepted the start.
async fn run_job(job: PlannedJob, limits: RetryLimits, cause: &str) -> bool {
    let started = js_sys::Date::now();
    let import_id = job.import_id.as_ref().map(|id| id.as_str());
    let mut entry = TriggerLog::new(import_id, cause);
    entry.api = job.api;
    entry.job = Some(&job.job);
    match &job.request {
        Err(error) => {
            entry.error = Some(error);
            log::line(&entry.to_line());
            false
        }
        Ok(request) => {
            let result = upstream::start(request, limits).await;
            entry.record_run(&result, (js_sys::Date::now() - started).max(0.0) as u64);
            log::line(&entry.to_line());
            result.outcome.is_ok()
        }
    }
}
