//! A scheduled event's flow as a state machine the worker drives, one job at a time
//! (docs/architecture.md, "A cron event"): plan the event, then for each job ask the
//! ledger whether it already ran (a redelivery), start it, record it, log it; then the
//! event's verdict. The shell only calls the ledger and `fetch` and writes the lines.

use crate::attempts::StartResult;
use crate::civil_time::rfc3339_ms;
use crate::error::TriggerError;
use crate::history::{self, Cause, Entry, Written};
use crate::http_flow::{Held, LedgerCall};
use crate::ids::ApiKind;
use crate::ledger;
use crate::log_line::TriggerLog;
use crate::retry::RetryLimits;
use crate::schedule::{
    event_verdict, plan_event, skipped_job, unplanned_verdict, EventVerdict, JobOutcome, PlannedJob,
};
use crate::settings::Lookup;
use crate::upstream_request::UpstreamRequest;

/// What every job of one event shares.
#[derive(Clone, Debug)]
pub struct EventRun {
    cause: String,
    cron: String,
    /// The `SCHEDULES` key the event's cron matched (the history's `cron`).
    cron_key: String,
    scheduled_ms: i64,
    limits: RetryLimits,
    scope: String,
    /// The ledger records' time to live, when the deployment has the ledger.
    ttl_ms: Option<u64>,
    /// `HOLD_MAX_SECONDS` (ms), when the deployment has the ledger: a job pushed back
    /// is held that long from when it began ([`crate::hold`]).
    hold_max_ms: Option<u64>,
}

/// An event that ends before any job: its log line and verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unplanned {
    pub log_line: String,
    pub verdict: EventVerdict,
}

/// Plans the event of `cron` scheduled at `scheduled_ms`; `ledger` is whether the
/// deployment has the `START_LEDGER` binding. `Err` when settings, `SCHEDULES` or the
/// ledger's time to live are wrong: nothing starts.
pub fn begin_event(
    lookup: &dyn Lookup,
    cron: &str,
    scheduled_ms: i64,
    ledger: bool,
) -> Result<(EventRun, Vec<PlannedJob>), Unplanned> {
    let cause = format!("cron:{cron}");
    let unplanned = |error: &TriggerError| {
        let mut entry = TriggerLog::new(None, &cause);
        entry.error = Some(error);
        Unplanned {
            log_line: entry.to_line(),
            verdict: unplanned_verdict(error, ledger),
        }
    };
    let plan = plan_event(lookup, cron, scheduled_ms).map_err(|e| unplanned(&e))?;
    let ttl_ms = match (ledger, plan.ttl_ms) {
        (false, _) => None,
        (true, Ok(ttl_ms)) => Some(ttl_ms),
        (true, Err(error)) => return Err(unplanned(&error)),
    };
    let hold_max_ms = match ledger {
        false => None,
        true => Some(crate::hold::max_ms(lookup).map_err(|e| unplanned(&e))?),
    };
    let event = EventRun {
        cause: cause.clone(),
        cron: cron.to_owned(),
        cron_key: plan.cron_key,
        scheduled_ms,
        limits: plan.limits,
        scope: plan.scope,
        ttl_ms,
        hold_max_ms,
    };
    Ok((event, plan.jobs))
}

/// What the shell does next for one job.
#[derive(Debug)]
pub enum JobNext {
    /// Make [`JobAwaitingLedger::call`], then [`JobAwaitingLedger::on_ledger`].
    AskLedger(JobAwaitingLedger),
    /// Make the start ([`JobSending::request`] within [`EventRun::limits`]), then
    /// [`JobSending::on_result`].
    Send(JobSending),
    /// Write the record (if any), then the log line; the job's latest outcome.
    Done(JobDone),
}

/// How one job ends.
#[derive(Clone, Debug, PartialEq)]
pub struct JobDone {
    pub record: Option<LedgerCall>,
    pub log_line: String,
    pub outcome: JobOutcome,
    /// A history entry to write when no ledger call carried it (a job that failed
    /// before its `begin`): after the log line; a failure is only logged.
    pub history: Option<LedgerCall>,
}

/// A job in progress: what its log line says of it, and its history entry (when
/// the deployment keeps one: with the ledger).
#[derive(Clone, Debug)]
struct JobTrigger {
    started_ms: u64,
    job: String,
    import_id: Option<String>,
    api: ApiKind,
    entry: Option<Entry>,
    /// What the job sends besides its import id and api, to hold it.
    path: Option<String>,
    test_connection: Option<bool>,
}

impl JobTrigger {
    fn log<'s>(
        &'s self,
        event: &'s EventRun,
        now_ms: u64,
        fill: impl FnOnce(&mut TriggerLog<'s>),
    ) -> String {
        let mut entry = TriggerLog::new(self.import_id.as_deref(), &event.cause);
        entry.api = self.api;
        entry.job = Some(&self.job);
        entry.total_ms = now_ms.saturating_sub(self.started_ms);
        fill(&mut entry);
        entry.to_line()
    }

    /// A job that ends without a start: its log line, and its entry in one call.
    fn fail(
        &self,
        event: &EventRun,
        error: &TriggerError,
        outcome: JobOutcome,
        now_ms: u64,
    ) -> JobNext {
        let history = self.entry.clone().map(|mut entry| {
            entry.fail(error);
            LedgerCall {
                object: ledger::object_name(&event.scope),
                call: history::record_call(&Written {
                    started_ms: self.started_ms as i64,
                    ended_ms: Some(now_ms as i64),
                    entry,
                    skip_if_found: false,
                }),
            }
        });
        JobNext::Done(JobDone {
            record: None,
            log_line: self.log(event, now_ms, |e| e.error = Some(error)),
            outcome,
            history,
        })
    }

    /// The entry as written with the job's ended outcome.
    fn written(&self, now_ms: u64, ended: bool) -> Option<Written> {
        self.entry.clone().map(|entry| Written {
            started_ms: self.started_ms as i64,
            ended_ms: ended.then_some(now_ms as i64),
            entry,
            skip_if_found: !ended,
        })
    }
}

impl EventRun {
    /// The bounds of each job's attempts (the configured deadline, not capped: the
    /// platform waits for a scheduled event's promise).
    pub fn limits(&self) -> RetryLimits {
        self.limits
    }

    /// How the event ends, given every job's latest outcome.
    pub fn verdict(&self, outcomes: &[JobOutcome]) -> EventVerdict {
        event_verdict(&self.cron, outcomes, self.ttl_ms.is_some())
    }

    /// Starts the flow of one planned job; `random` is 64 random bits for its
    /// history entry's id.
    pub fn begin_job(&self, job: PlannedJob, now_ms: u64, random: u64) -> JobNext {
        // The history lives in the ledger object: a deployment without one keeps none.
        let entry = self.ttl_ms.map(|_| {
            let mut e = Entry::begun(
                history::entry_id(now_ms as i64, random),
                now_ms as i64,
                job.api,
                Cause::Cron,
            );
            e.import_id = job.import_id.as_ref().map(|id| id.as_str().to_owned());
            e.cron = Some(self.cron_key.clone());
            e.scheduled_time = Some(rfc3339_ms(self.scheduled_ms));
            e.job = Some(u32::try_from(job.index).unwrap_or(u32::MAX));
            e.path = job.path.as_deref().map(history::redact_path);
            e.test_connection = job.test_connection;
            e
        });
        let trigger = JobTrigger {
            started_ms: now_ms,
            job: job.job,
            import_id: job.import_id.map(|id| id.as_str().to_owned()),
            api: job.api,
            entry,
            path: job.path.clone(),
            test_connection: job.test_connection,
        };
        let request = match job.request {
            Ok(request) => request,
            Err(error) => return trigger.fail(self, &error, JobOutcome::MISCONFIGURED, now_ms),
        };
        let Some(ttl_ms) = self.ttl_ms else {
            return JobNext::Send(JobSending {
                trigger,
                request,
                held: None,
            });
        };
        // Recorded under (cron, scheduled time, job index, what it sends) before it starts.
        let held = Held {
            record: ledger::cron_job_record(&self.cron, self.scheduled_ms, job.index, &request),
            fingerprint: ledger::cron_job_fingerprint(&request),
        };
        // The entry goes in with the record: in progress when the job proceeds,
        // skipped when a redelivery finds it recorded.
        let call = LedgerCall {
            object: ledger::object_name(&self.scope),
            call: ledger::begin(
                &held.record,
                &held.fingerprint,
                self.limits.deadline_ms,
                ttl_ms,
                trigger.written(now_ms, false),
            ),
        };
        JobNext::AskLedger(JobAwaitingLedger {
            trigger,
            request,
            call,
            held,
        })
    }
}

/// A job waiting for the ledger: did this event start it already?
#[derive(Debug)]
pub struct JobAwaitingLedger {
    trigger: JobTrigger,
    request: UpstreamRequest,
    call: LedgerCall,
    held: Held,
}

impl JobAwaitingLedger {
    pub fn call(&self) -> &LedgerCall {
        &self.call
    }

    /// Takes the object's answer, or the error the call failed with: a job the ledger
    /// cannot record is not started, and counts as a retryable failure.
    pub fn on_ledger(
        self,
        answer: Result<impl AsRef<str>, TriggerError>,
        event: &EventRun,
        now_ms: u64,
    ) -> JobNext {
        let trigger = self.trigger;
        let begin = match answer.and_then(|a| ledger::read_begin(a.as_ref())) {
            Ok(begin) => begin,
            Err(error) => return trigger.fail(event, &error, JobOutcome::LEDGER_FAILED, now_ms),
        };
        if let Some((skipped, outcome)) = skipped_job(&begin) {
            let log_line = trigger.log(event, now_ms, |e| e.skipped = Some(skipped));
            // The object recorded the skipped entry with its decision.
            return JobNext::Done(JobDone {
                record: None,
                log_line,
                outcome,
                history: None,
            });
        }
        if begin != ledger::Begin::Proceed {
            // `Reused` cannot happen (what the job sends is part of the name).
            return trigger.fail(
                event,
                &ledger::unavailable(),
                JobOutcome::LEDGER_FAILED,
                now_ms,
            );
        }
        JobNext::Send(JobSending {
            trigger,
            request: self.request,
            held: Some((self.call.object, self.held)),
        })
    }
}

/// A job ready to start.
#[derive(Debug)]
pub struct JobSending {
    trigger: JobTrigger,
    request: UpstreamRequest,
    held: Option<(String, Held)>,
}

impl JobSending {
    pub fn request(&self) -> &UpstreamRequest {
        &self.request
    }

    /// Takes the start's outcome: its ledger record (the answer an HTTP start would
    /// have given), its log line, and the job's outcome for the verdict.
    pub fn on_result(self, result: &StartResult, event: &EventRun, now_ms: u64) -> JobNext {
        if let Some(hold) = self.hold_call(result, event, now_ms) {
            return JobNext::Done(JobDone {
                record: Some(hold),
                log_line: self.trigger.log(event, now_ms, |e| e.record_run(result)),
                outcome: JobOutcome::HELD,
                history: None,
            });
        }
        let mut trigger = self.trigger;
        if let Some(entry) = &mut trigger.entry {
            entry.end(result);
        }
        let written = trigger.written(now_ms, true);
        let record = self.held.map(|(object, held)| {
            let import_id = trigger.import_id.as_deref().unwrap_or_default();
            let reply = crate::endpoint::start_reply(import_id, trigger.api, result);
            held.finish(object, result, &reply, written)
        });
        JobNext::Done(JobDone {
            record,
            log_line: trigger.log(event, now_ms, |e| e.record_run(result)),
            outcome: JobOutcome {
                ok: result.outcome.is_ok(),
                evidence: result.evidence,
            },
            history: None,
        })
    }
}

impl JobSending {
    /// The `hold` call of a job whose outcome is still retryable, when it can be tried
    /// again before `HOLD_MAX_SECONDS` from its start ([`crate::hold`]).
    fn hold_call(&self, result: &StartResult, event: &EventRun, now_ms: u64) -> Option<LedgerCall> {
        let t = &self.trigger;
        let (max, (object, held), entry) =
            (event.hold_max_ms?, self.held.as_ref()?, t.entry.as_ref()?);
        let sent = crate::hold::Sent {
            import_id: t.import_id.as_deref()?,
            api: t.api,
            path: t.path.as_deref(),
            test_connection: t.test_connection,
        };
        crate::hold::first_hold_call(
            crate::hold::FirstTry {
                sent,
                entry,
                object,
                held,
                cause: &event.cause,
                started_ms: t.started_ms,
                max_ms: max,
                deadline_ms: event.limits.deadline_ms,
            },
            result,
            now_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setting_names::*;
    use serde_json::Value;

    const AT: i64 = 1_795_834_800_000; // 2026-11-28 03:00 UTC

    fn env(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut pairs = vec![
            (API_KEY_ID, "k"),
            (API_SECRET, "s"),
            (PROJECT_TOKEN, "proj"),
            (
                SCHEDULES,
                r#"{"0 3 * * *": [{"import_id": "a", "path": "/x/{date}.csv", "time_offset": "-1d"}, {"import_id": "b", "path": "/x/{nope}"}]}"#,
            ),
        ];
        pairs.extend_from_slice(extra);
        crate::test_support::lookup(&pairs)
    }

    fn done(next: JobNext) -> JobDone {
        match next {
            JobNext::Done(done) => done,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    fn ok() -> StartResult {
        crate::test_support::accepted(9)
    }

    #[test]
    fn an_unplanned_event_logs_once_and_fails() {
        let broken = env(&[(SCHEDULES, "{")]);
        let end = begin_event(&broken, "0 3 * * *", AT, true).unwrap_err();
        assert!(end.verdict.result.is_err());
        assert!(end.verdict.no_retry);
        let line: Value = serde_json::from_str(&end.log_line).unwrap();
        assert_eq!(line["outcome"], "misconfigured");
        let ttl = env(&[("IDEMPOTENCY_TTL_SECONDS", "60"), (DEADLINE_MS, "600000")]);
        assert!(begin_event(&ttl, "0 3 * * *", AT, true).is_err());
        assert!(
            begin_event(&ttl, "0 3 * * *", AT, false).is_ok(),
            "no ledger, no TTL check"
        );
    }

    #[test]
    fn without_the_ledger_a_job_is_sent_then_logged() {
        let (event, mut jobs) = begin_event(&env(&[]), "0 3 * * *", AT, false).unwrap();
        let bad = done(event.begin_job(jobs.remove(1), 0, 7));
        assert_eq!(bad.outcome, JobOutcome::MISCONFIGURED);
        let JobNext::Send(sending) = event.begin_job(jobs.remove(0), 100, 7) else {
            panic!("sends")
        };
        assert_eq!(
            sending.request().body.as_deref(),
            Some(r#"{"path":"/x/2026-11-27.csv"}"#)
        );
        let finished = done(sending.on_result(&ok(), &event, 160));
        assert_eq!(finished.record, None);
        let line: Value = serde_json::from_str(&finished.log_line).unwrap();
        assert_eq!(
            (
                line["outcome"].as_str(),
                line["job"].as_str(),
                line["duration_ms"].as_u64()
            ),
            (Some("ok"), Some(r#"SCHEDULES["0 3 * * *"][0]"#), Some(60))
        );
        assert!(event
            .verdict(&[finished.outcome, bad.outcome])
            .result
            .is_err());
    }

    #[test]
    fn a_job_still_pushed_back_is_held_does_not_fail_its_event_and_a_redelivery_skips_it() {
        let limited = || crate::test_support::pushed_back(1);
        let (event, mut jobs) =
            begin_event(&env(&[(HOLD_MAX_SECONDS, "60")]), "0 3 * * *", AT, true).unwrap();
        let JobNext::AskLedger(asking) = event.begin_job(jobs.remove(0), 1_000, 7) else {
            panic!()
        };
        let JobNext::Send(sending) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), &event, 1)
        else {
            panic!()
        };
        let held = done(sending.on_result(&limited(), &event, 2_000));
        assert_eq!(held.outcome, JobOutcome::HELD);
        assert!(
            event.verdict(&[held.outcome]).result.is_ok(),
            "not a failure"
        );
        let v: Value = serde_json::from_str(&held.record.unwrap().call).unwrap();
        assert_eq!(v["op"], "hold");
        assert_eq!(v["held"]["cause"], "cron:0 3 * * *");
        assert_eq!(v["held"]["path"], "/x/2026-11-27.csv");
        assert_eq!(v["held"]["next_ms"], 3_000);
        assert_eq!(v["history"]["entry"]["cron"], "0 3 * * *");
        assert_eq!(v["history"]["entry"]["next_attempt_at"], rfc3339_ms(3_000));
        // A redelivery finds it held: skipped, and its event does not fail.
        let (event, mut jobs) = begin_event(&env(&[]), "0 3 * * *", AT, true).unwrap();
        let JobNext::AskLedger(asking) = event.begin_job(jobs.remove(0), 5_000, 8) else {
            panic!()
        };
        let skipped = done(asking.on_ledger(
            Ok(r#"{"decision":"held","started_at":1000}"#),
            &event,
            5_001,
        ));
        assert_eq!(skipped.outcome, JobOutcome::HELD);
        let line: Value = serde_json::from_str(&skipped.log_line).unwrap();
        assert_eq!(
            (line["outcome"].as_str(), line["recorded_outcome"].as_str()),
            (Some("skipped"), Some("in_progress"))
        );
        // Without the ledger nothing is held; a malformed setting fails the event.
        let (event, mut jobs) = begin_event(&env(&[]), "0 3 * * *", AT, false).unwrap();
        let JobNext::Send(sending) = event.begin_job(jobs.remove(0), 0, 7) else {
            panic!()
        };
        assert!(!done(sending.on_result(&limited(), &event, 1)).outcome.ok);
        assert!(begin_event(&env(&[(HOLD_MAX_SECONDS, "x")]), "0 3 * * *", AT, true).is_err());
    }

    #[test]
    fn with_the_ledger_a_job_is_recorded_before_and_after_it_starts() {
        let (event, mut jobs) = begin_event(&env(&[]), "0 3 * * *", AT, true).unwrap();
        let JobNext::AskLedger(asking) = event.begin_job(jobs.remove(0), 0, 7) else {
            panic!("asks the ledger first")
        };
        assert!(asking.call().object.starts_with("ledger\n"));
        let record = crate::ledger::record_of(&asking.call().call).unwrap();
        assert!(
            record.starts_with("cron\n0 3 * * *\n1795834800000\n0\n"),
            "{record}"
        );
        let JobNext::Send(sending) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), &event, 1)
        else {
            panic!("proceeds")
        };
        let finished = done(sending.on_result(&ok(), &event, 2));
        let record = finished.record.expect("recorded");
        assert!(record.call.contains(r#""op":"finish""#));
    }

    #[test]
    fn a_redelivery_skips_a_recorded_job_and_a_ledger_failure_starts_nothing() {
        let (event, jobs) = begin_event(&env(&[]), "0 3 * * *", AT, true).unwrap();
        let replay = r#"{"decision":"replay","started_at":1795834801000,"kept":{"outcome":"ok","evidence":"started","status":200,"body":"{}","retry_after":null}}"#;
        let JobNext::AskLedger(asking) = event.begin_job(jobs[0].clone(), 0, 7) else {
            panic!()
        };
        let skipped = done(asking.on_ledger(Ok(replay), &event, 1));
        let line: Value = serde_json::from_str(&skipped.log_line).unwrap();
        assert_eq!(line["outcome"], "skipped");
        assert_eq!(line["first_ran_at"], "2026-11-28T03:00:01Z");
        assert!(skipped.outcome.ok);
        let JobNext::AskLedger(asking) = event.begin_job(jobs[0].clone(), 0, 7) else {
            panic!()
        };
        let failed =
            done(asking.on_ledger(Err::<&str, _>(crate::ledger::unavailable()), &event, 1));
        assert_eq!(failed.outcome, JobOutcome::LEDGER_FAILED);
        let JobNext::AskLedger(asking) = event.begin_job(jobs[0].clone(), 0, 7) else {
            panic!()
        };
        let reused = done(asking.on_ledger(Ok(r#"{"decision":"reused"}"#), &event, 1));
        assert_eq!(reused.outcome, JobOutcome::LEDGER_FAILED);
        assert!(!event.verdict(&[failed.outcome]).no_retry);
    }

    #[test]
    fn every_job_gets_an_entry_with_its_cron_time_and_index() {
        let (event, mut jobs) = begin_event(&env(&[]), "0 3 * * *", AT, true).unwrap();
        let bad = done(event.begin_job(jobs.remove(1), 40, 1));
        let history = bad
            .history
            .expect("a misconfigured job is recorded in one call");
        let v: Value = serde_json::from_str(&history.call).unwrap();
        assert_eq!(v["op"], "record");
        let e = &v["history"]["entry"];
        assert_eq!(
            (
                e["outcome"].as_str(),
                e["import_id"].as_str(),
                e["job"].as_u64(),
                e["cause"].as_str()
            ),
            (Some("misconfigured"), Some("b"), Some(1), Some("cron"))
        );
        assert!(e["message"].as_str().unwrap().contains("{nope}"));
        assert_eq!(e.get("path"), None);
        let JobNext::AskLedger(asking) = event.begin_job(jobs.remove(0), 50, 2) else {
            panic!()
        };
        let v: Value = serde_json::from_str(&asking.call().call).unwrap();
        let begun = &v["history"];
        assert_eq!(begun["skip_if_found"], true);
        assert_eq!(
            begun["entry"],
            serde_json::json!({
                "id": "32-0000000000000002", "started_at": "1970-01-01T00:00:00.050Z",
                "import_id": "a", "api": "data-v1", "cause": "cron", "cron": "0 3 * * *",
                "scheduled_time": "2026-11-28T03:00:00.000Z", "job": 0,
                "path": "/x/2026-11-27.csv", "outcome": "in_progress", "attempts": 0
            })
        );
        let JobNext::Send(sending) = asking.on_ledger(Ok(r#"{"decision":"proceed"}"#), &event, 51)
        else {
            panic!()
        };
        let finished = done(sending.on_result(&ok(), &event, 60));
        assert_eq!(finished.history, None);
        let v: Value = serde_json::from_str(&finished.record.unwrap().call).unwrap();
        assert_eq!(v["history"]["entry"]["outcome"], "ok");
        assert_eq!(v["history"]["ended_ms"], 60);
        // A job the ledger could not begin is recorded as such, in a call of its own.
        let (event, jobs) = begin_event(&env(&[]), "0 3 * * *", AT, true).unwrap();
        let JobNext::AskLedger(asking) = event.begin_job(jobs[0].clone(), 0, 3) else {
            panic!()
        };
        let failed =
            done(asking.on_ledger(Err::<&str, _>(crate::ledger::unavailable()), &event, 1));
        assert!(failed.history.unwrap().call.contains("ledger_unavailable"));
        // Without the ledger, no history at all.
        let (event, mut jobs) = begin_event(&env(&[]), "0 3 * * *", AT, false).unwrap();
        assert_eq!(done(event.begin_job(jobs.remove(1), 0, 1)).history, None);
    }
}
