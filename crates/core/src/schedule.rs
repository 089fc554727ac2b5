//! `SCHEDULES` (docs/behaviour.md, "Cron events"): which imports each cron starts, and with which
//! path, rendered from the event's scheduled time.
//!
//! Every job is read on its own, so one bad job is reported by cron and index while
//! the others still run.

use crate::account::{Account, SETTING_NAMES};
use crate::attempts::Evidence;
use crate::error::{ErrorCode, TriggerError};
use crate::idempotency;
use crate::ids::{ApiKind, ImportId, PathOverride};
use crate::json_text::{self, quoted, read_object, Refusal};
use crate::ledger::Begin;
use crate::log_line::Skipped;
use crate::path_policy::PathPrefixes;
use crate::retry::RetryLimits;
use crate::setting_names::SCHEDULES;
use crate::settings::{Lookup, SettingValue, Settings};
use crate::template::{parse_offset, PathTemplate};
use crate::upstream_request::{StartRequest, UpstreamRequest};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// At most this many starts of one event run at once: the platform's limit on
/// simultaneous outgoing connections per invocation.
pub const MAX_CONCURRENT_STARTS: usize = 6;

/// One configured job, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub import_id: ImportId,
    /// `None`: the deployment's default API.
    pub api: Option<ApiKind>,
    pub path: Option<PathTemplate>,
    /// The template as configured (`GET /schedules` shows it).
    pub path_text: Option<String>,
    pub test_connection: Option<bool>,
    pub offset_secs: i64,
    /// The offset as configured.
    pub time_offset: Option<String>,
}

/// One job as configured: its import id when that is valid (for the log, the history
/// and `GET /schedules`, even when the rest of the job is not), and the validated job
/// or the error naming what is wrong with it.
#[derive(Clone, Debug)]
pub struct Job {
    pub import_id: Option<ImportId>,
    pub spec: Result<JobSpec, TriggerError>,
}

/// A cron's jobs, each valid or with the error that names it.
#[derive(Clone, Debug)]
pub struct CronEntry {
    pub cron: String,
    pub jobs: Result<Vec<Job>, TriggerError>,
}

/// All of `SCHEDULES`.
#[derive(Clone, Debug)]
pub struct Schedules(pub Vec<CronEntry>);

/// One start planned for a scheduled event.
#[derive(Clone, Debug)]
pub struct RenderedJob {
    /// `SCHEDULES["<cron>"][<index>]`: how logs and errors name the job.
    pub job: String,
    /// The import id when the job has a valid one (for logs).
    pub import_id: Option<ImportId>,
    pub api: ApiKind,
    /// The start to make, or the configuration error that prevents it.
    pub start: Result<StartRequest, TriggerError>,
}

pub(crate) fn label(cron: &str, index: usize) -> String {
    format!("SCHEDULES[{}][{index}]", quoted(cron))
}

/// The members of `SCHEDULES` in document order, equal keys included, each cron's
/// jobs as written. serde_json's map keeps only the last of equal keys, which would
/// silently drop the other jobs of a cron listed twice.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(document: D) -> Result<Members, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object mapping cron expressions to lists of jobs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        document.deserialize_map(InOrder)
    }
}

/// A job as JSON gives it. An explicit `null` is a wrong type, not "absent".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFields {
    #[serde(default, deserialize_with = "json_text::string")]
    import_id: Option<String>,
    #[serde(default, deserialize_with = "json_text::string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "json_text::boolean")]
    test_connection: Option<bool>,
    #[serde(default, deserialize_with = "json_text::api")]
    api: Option<ApiKind>,
    #[serde(default, deserialize_with = "json_text::string")]
    time_offset: Option<String>,
}

fn read_jobs(cron: &str, jobs: &RawValue) -> Result<Vec<Job>, TriggerError> {
    match serde_json::from_str::<Vec<Box<RawValue>>>(jobs.get()) {
        Ok(list) => Ok(list
            .iter()
            .enumerate()
            .map(|(i, job)| {
                let spec = read_job(&label(cron, i), job);
                let import_id = match &spec {
                    Ok(spec) => Some(spec.import_id.clone()),
                    Err(_) => valid_import_id(job),
                };
                Job { import_id, spec }
            })
            .collect()),
        Err(_) => Err(TriggerError::misconfigured(format!(
            "SCHEDULES[{}]: must be a list of jobs",
            quoted(cron)
        ))),
    }
}

/// The import id of a job that is otherwise invalid, when it has a valid one.
fn valid_import_id(job: &RawValue) -> Option<ImportId> {
    #[derive(Deserialize)]
    struct OnlyId {
        import_id: String,
    }
    let only: OnlyId = serde_json::from_str(job.get()).ok()?;
    ImportId::parse(&only.import_id).ok()
}

/// Cron keys compare with white space folded, so `"0  3 * * *"` is `"0 3 * * *"`.
fn same_cron(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn read_job(job: &str, value: &RawValue) -> Result<JobSpec, TriggerError> {
    let fields: JobFields = read_object(value.get().as_bytes()).map_err(|refusal| {
        TriggerError::misconfigured(match refusal {
            Refusal::NotAnObject => format!("{job}: must be an object"),
            // Cannot happen: the whole document was read as JSON before.
            Refusal::NotJson(e) => format!("{job}: is not valid JSON ({e})"),
            Refusal::Members(message) => format!("{job}: {message}"),
            Refusal::Field { name, message } => format!("{job}.{name}: {message}"),
        })
    })?;
    let field = |name: &str| format!("{job}.{name}");
    let as_config = |e: TriggerError| TriggerError::misconfigured(e.message);
    let import_id = match fields.import_id {
        Some(id) => ImportId::parse_as(&field("import_id"), &id).map_err(as_config)?,
        None => {
            return Err(TriggerError::misconfigured(format!(
                "{}: is required",
                field("import_id")
            )))
        }
    };
    let path = match &fields.path {
        Some(p) => Some(PathTemplate::parse_as(&field("path"), p).map_err(as_config)?),
        None => None,
    };
    let offset_secs = match &fields.time_offset {
        Some(o) => parse_offset(&field("time_offset"), o).map_err(as_config)?,
        None => 0,
    };
    Ok(JobSpec {
        import_id,
        api: fields.api,
        path,
        path_text: fields.path,
        test_connection: fields.test_connection,
        offset_secs,
        time_offset: fields.time_offset,
    })
}

impl Schedules {
    /// Parses the `SCHEDULES` JSON text. Only a document that is not a JSON object of
    /// cron expressions fails as a whole; a bad cron or job is kept with its error.
    pub fn parse(text: &str) -> Result<Schedules, TriggerError> {
        let Members(members) = read_object(text.as_bytes()).map_err(|refusal| match refusal {
            Refusal::NotJson(e) => {
                TriggerError::misconfigured(format!("SCHEDULES: is not valid JSON ({e})"))
            }
            _ => not_an_object(),
        })?;
        let mut entries: Vec<CronEntry> = Vec::new();
        for (index, (cron, jobs)) in members.iter().enumerate() {
            if entries.iter().any(|e| same_cron(&e.cron, cron)) {
                continue;
            }
            let twins: Vec<&str> = members[index + 1..]
                .iter()
                .map(|(other, _)| other.as_str())
                .filter(|other| same_cron(other, cron))
                .collect();
            let jobs = if twins.is_empty() {
                read_jobs(cron, jobs)
            } else {
                let keys: Vec<String> = std::iter::once(cron.as_str())
                    .chain(twins)
                    .map(quoted)
                    .collect();
                Err(TriggerError::misconfigured(format!(
                    "SCHEDULES[{}]: the cron is listed {} times ({}; keys are compared with white space folded), so none of its jobs start; list it once",
                    quoted(cron),
                    keys.len(),
                    keys.join(", ")
                )))
            };
            entries.push(CronEntry {
                cron: cron.clone(),
                jobs,
            });
        }
        Ok(Schedules(entries))
    }

    /// Parses `SCHEDULES` as the environment holds it: a JSON string in `[vars]`, or a
    /// structured table (given as its JSON). Unset is an error naming it, and so is a
    /// number or a boolean.
    pub fn from_setting(value: Option<SettingValue>) -> Result<Schedules, TriggerError> {
        match value {
            Some(SettingValue::Text(text)) if !text.trim().is_empty() => Schedules::parse(&text),
            Some(SettingValue::Structured(json)) => Schedules::parse(&json),
            None | Some(SettingValue::Text(_)) => Err(TriggerError::misconfigured(format!(
                "{SCHEDULES} is not set"
            ))),
            Some(SettingValue::Number(_) | SettingValue::Bool(_)) => Err(not_an_object()),
        }
    }

    /// The starts of the event fired by `cron` at `scheduled_ms` (unix milliseconds).
    /// Each rendered path is validated and checked against `prefixes`.
    pub fn plan(
        &self,
        cron: &str,
        scheduled_ms: i64,
        account: &Account,
        prefixes: Option<&PathPrefixes>,
    ) -> Result<Vec<RenderedJob>, TriggerError> {
        let entry = self.entry(cron)?;
        let jobs = entry.jobs.as_ref().map_err(Clone::clone)?;
        let scheduled_secs = scheduled_ms.div_euclid(1000);
        Ok(jobs
            .iter()
            .enumerate()
            .map(|(i, job)| {
                let name = label(&entry.cron, i);
                match &job.spec {
                    Err(e) => RenderedJob {
                        job: name,
                        import_id: job.import_id.clone(),
                        api: account.default_api(),
                        start: Err(e.clone()),
                    },
                    Ok(spec) => RenderedJob {
                        start: start_of(&name, spec, scheduled_secs, account, prefixes),
                        job: name,
                        import_id: Some(spec.import_id.clone()),
                        api: spec.api.unwrap_or_else(|| account.default_api()),
                    },
                }
            })
            .collect())
    }

    /// The entry of `cron` (as the event names it: exactly, or with white space
    /// folded), or the error naming the cron.
    pub fn entry(&self, cron: &str) -> Result<&CronEntry, TriggerError> {
        self.0
            .iter()
            .find(|e| e.cron == cron)
            .or_else(|| self.0.iter().find(|e| same_cron(&e.cron, cron)))
            .ok_or_else(|| {
                TriggerError::misconfigured(format!(
                    "SCHEDULES: has no jobs for cron {}",
                    quoted(cron)
                ))
            })
    }

    /// Every problem a user should fix before deploying, given the crons listed in
    /// `[triggers] crons`. Templates are rendered at a sample time to check the paths.
    pub fn problems(&self, crons: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        for entry in &self.0 {
            let key = quoted(&entry.cron);
            if !crons.iter().any(|c| same_cron(c, &entry.cron)) {
                problems.push(format!(
                    "SCHEDULES[{key}]: this cron is not among [triggers] crons, so it never fires"
                ));
            }
            match &entry.jobs {
                Err(e) => problems.push(e.message.clone()),
                Ok(jobs) if jobs.is_empty() => {
                    problems.push(format!("SCHEDULES[{key}]: has no jobs"))
                }
                Ok(jobs) => {
                    for (i, job) in jobs.iter().enumerate() {
                        match &job.spec {
                            Err(e) => problems.push(e.message.clone()),
                            Ok(spec) => {
                                // 2024-02-29 23:59 UTC: a leap day at the end of a month and of a day,
                                // where offsets cross into the next day or month.
                                let sample = 1_709_251_140;
                                if let Err(e) = rendered_path(&label(&entry.cron, i), spec, sample)
                                {
                                    problems.push(e.message);
                                }
                            }
                        }
                    }
                }
            }
        }
        for cron in crons {
            // Read with Cloudflare's own parser (`saffron`): an expression it refuses
            // fails the deploy, and a general parser would disagree on weekdays.
            if !crate::cron_expr::is_valid(cron) {
                problems.push(format!(
                    "[triggers] crons: {} is not a cron expression Cloudflare accepts (five fields in UTC: minute, hour, day of month, month, day of week 1-7 for SUN-SAT; * , - / L W #)",
                    quoted(cron)
                ));
            }
            if !self.0.iter().any(|e| same_cron(&e.cron, cron)) {
                problems.push(format!(
                    "[triggers] crons: {} has no jobs in SCHEDULES",
                    quoted(cron)
                ));
            }
        }
        problems
    }
}

fn not_an_object() -> TriggerError {
    TriggerError::misconfigured(
        "SCHEDULES: must be a JSON object mapping cron expressions to lists of jobs",
    )
}

/// Everything a scheduled event will do: each job's request (or why it cannot be
/// made) and the retry limits.
#[derive(Clone, Debug)]
pub struct EventPlan {
    /// The `SCHEDULES` key of the event's cron (the history names the cron by it).
    pub cron_key: String,
    pub jobs: Vec<PlannedJob>,
    pub limits: RetryLimits,
    /// The Bloomreach target the ledger's records are scoped to.
    pub scope: String,
    /// How long the ledger keeps the jobs' records (checked against the deadline).
    pub ttl_ms: Result<u64, TriggerError>,
}

/// One job of an event, ready to send.
#[derive(Clone, Debug)]
pub struct PlannedJob {
    pub job: String,
    /// The job's position in its cron's list.
    pub index: usize,
    pub import_id: Option<ImportId>,
    pub api: ApiKind,
    /// The path and `test_connection` the request sends (for the history).
    pub path: Option<String>,
    pub test_connection: Option<bool>,
    pub request: Result<UpstreamRequest, TriggerError>,
}

/// Plans the event fired by `cron` at `scheduled_ms`: reads the settings and
/// `SCHEDULES`, renders every job's path, and builds every request. An error here
/// (settings, or `SCHEDULES` as a whole) fails the event before any start.
pub fn plan_event(
    lookup: &dyn Lookup,
    cron: &str,
    scheduled_ms: i64,
) -> Result<EventPlan, TriggerError> {
    let settings = Settings::load(lookup)?;
    let schedules = Schedules::from_setting(lookup.get(SCHEDULES))?;
    let planned = schedules.plan(
        cron,
        scheduled_ms,
        &settings.account,
        settings.prefixes.as_ref(),
    )?;
    let jobs = planned
        .into_iter()
        .enumerate()
        .map(|(index, p)| {
            let start = p.start.as_ref().ok();
            PlannedJob {
                path: start
                    .and_then(|s| s.path.as_ref())
                    .map(|p| p.as_str().to_owned()),
                test_connection: start.and_then(|s| s.test_connection),
                request: p
                    .start
                    .map(|s| s.build(&settings.account.base_for(s.api()), &settings.credentials)),
                job: p.job,
                index,
                import_id: p.import_id,
                api: p.api,
            }
        })
        .collect();
    Ok(EventPlan {
        cron_key: schedules.entry(cron)?.cron.clone(),
        jobs,
        limits: settings.limits,
        scope: settings.account.ledger_scope(),
        ttl_ms: idempotency::ttl_ms(lookup, settings.limits.deadline_ms),
    })
}

/// The latest outcome of one job of an event: of the start just made, of the record
/// a redelivery found, or of the configuration or ledger error that stopped it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    pub ok: bool,
    pub evidence: Evidence,
}

impl JobOutcome {
    /// A job whose configuration is wrong: nothing started, and a redelivery of the
    /// same event would fail the same way.
    pub const MISCONFIGURED: JobOutcome = JobOutcome {
        ok: false,
        evidence: Evidence::Refused,
    };
    /// A job the ledger could not record: not started, worth a redelivery.
    pub const LEDGER_FAILED: JobOutcome = JobOutcome {
        ok: false,
        evidence: Evidence::Retryable,
    };
    /// A job Bloomreach pushed back, now held by the ledger object ([`crate::hold`]):
    /// not a failure of its event, which a redelivery would not help.
    pub const HELD: JobOutcome = JobOutcome {
        ok: true,
        evidence: Evidence::Retryable,
    };
}

/// A job that a redelivery of its event finds recorded, and so does not start again:
/// how to log it, and its latest outcome. `None` for [`Begin::Proceed`] (start it) and
/// [`Begin::Reused`] (cannot happen: what the job sends is part of its record's name).
pub fn skipped_job(earlier: &Begin) -> Option<(Skipped<'_>, JobOutcome)> {
    let (first_ran_at_ms, recorded_outcome, outcome) = match earlier {
        Begin::Proceed | Begin::Reused => return None,
        Begin::Replay {
            started_at_ms,
            kept,
        } => (
            *started_at_ms,
            kept.outcome.as_str(),
            JobOutcome {
                ok: kept.outcome == "ok",
                evidence: kept.evidence,
            },
        ),
        // Another delivery is starting it now; its record will tell the next one.
        Begin::InProgress { started_at_ms, .. } | Begin::Accepted { started_at_ms, .. } => (
            *started_at_ms,
            "in_progress",
            JobOutcome {
                ok: false,
                evidence: Evidence::Retryable,
            },
        ),
        // Held: the ledger object tries it again; the event does not fail for it.
        Begin::Held { started_at_ms } => (
            *started_at_ms,
            crate::history::IN_PROGRESS,
            JobOutcome::HELD,
        ),
        Begin::OutcomeUnknown { started_at_ms } => (
            *started_at_ms,
            ErrorCode::UpstreamOutcomeUnknown.as_str(),
            JobOutcome {
                ok: false,
                evidence: Evidence::MayHaveStarted,
            },
        ),
    };
    Some((
        Skipped {
            first_ran_at_ms,
            recorded_outcome,
        },
        outcome,
    ))
}

/// How a scheduled event ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventVerdict {
    /// `Err` with a summary when any job's latest outcome is a failure.
    pub result: Result<(), String>,
    /// Whether to call the controller's `noRetry()`, so Cloudflare does not deliver
    /// the failed event again
    /// (<https://developers.cloudflare.com/workers/runtime-apis/handlers/scheduled/>).
    pub no_retry: bool,
}

/// The event's verdict once every job answered (docs/behaviour.md, "Cron events").
///
/// With the ledger, a redelivery starts only the jobs whose record proves nothing
/// started, so it is worth having while any job's outcome is retryable: `noRetry()`
/// only when none is. Without the ledger, a redelivery would start every job again,
/// so `noRetry()` whenever any job may have started (or did). A successful event
/// never calls it.
pub fn event_verdict(cron: &str, jobs: &[JobOutcome], with_ledger: bool) -> EventVerdict {
    let failed = jobs.iter().filter(|j| !j.ok).count();
    if failed == 0 {
        return EventVerdict {
            result: Ok(()),
            no_retry: false,
        };
    }
    let no_retry = if with_ledger {
        // A held job (ok, retryable) is the ledger object's to try: a redelivery skips it.
        !jobs.iter().any(|j| !j.ok && j.evidence.is_retryable())
    } else {
        jobs.iter().any(|j| !j.evidence.proves_nothing_started())
    };
    EventVerdict {
        result: Err(format!(
            "{failed} of {} scheduled imports failed for cron {}; see the log lines",
            jobs.len(),
            quoted(cron)
        )),
        no_retry,
    }
}

/// The verdict of an event that could not be planned (settings, `SCHEDULES` or the
/// ledger's time to live are wrong): it fails, nothing started, and a redelivery would
/// fail the same way, so with the ledger `noRetry()`; without it nothing may have
/// started, so no call either way is needed and none is made.
pub fn unplanned_verdict(error: &TriggerError, with_ledger: bool) -> EventVerdict {
    EventVerdict {
        result: Err(error.message.clone()),
        no_retry: with_ledger,
    }
}

fn rendered_path(
    name: &str,
    spec: &JobSpec,
    scheduled_secs: i64,
) -> Result<Option<PathOverride>, TriggerError> {
    let Some(template) = &spec.path else {
        return Ok(None);
    };
    let at = scheduled_secs.saturating_add(spec.offset_secs);
    PathOverride::parse_as(&format!("{name}.path"), &template.render(at))
        .map(Some)
        .map_err(|e| TriggerError::misconfigured(e.message))
}

pub(crate) fn start_of(
    name: &str,
    spec: &JobSpec,
    scheduled_secs: i64,
    account: &Account,
    prefixes: Option<&PathPrefixes>,
) -> Result<StartRequest, TriggerError> {
    let target = account
        .target(spec.api, SETTING_NAMES)
        .map_err(|e| TriggerError::misconfigured(format!("{name}: {}", e.message)))?;
    let path = rendered_path(name, spec, scheduled_secs)?;
    if let (Some(prefixes), Some(path)) = (prefixes, &path) {
        prefixes.check(&format!("{name}.path"), path.as_str())?;
    }
    Ok(StartRequest {
        target,
        import_id: spec.import_id.clone(),
        path,
        test_connection: spec.test_connection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil_time::days_from_civil;

    const DOC: &str = r#"{
        "0 3 * * *": [
            {"import_id": "customers", "path": "https://files.example.com/exports/{date}/customers.csv", "time_offset": "-1d"},
            {"import_id": "events", "api": "imports-v1", "path": "gs://b/{year}/{month}/{day}/{hour}.csv", "test_connection": false}
        ],
        "15 * * * *": [
            {"import_id": "hourly", "path": "/sftp/{timestamp}-{minute}.csv", "time_offset": "-6h"},
            {"path": "/x"},
            {"import_id": "bad", "path": "/x/{dat}"},
            {"import_id": "bad2", "time_offset": "yesterday"},
            {"import_id": "no good"},
            {"import_id": "x", "colour": "red"}
        ],
        "*/5 * * * *": [],
        "0 0 1 * *": {"import_id": "x"}
    }"#;

    fn account() -> Account {
        Account {
            project: Some(crate::ids::ProjectToken::parse("p1").unwrap()),
            ..Account::default()
        }
    }

    fn ms(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60) * 1000
    }

    #[test]
    fn a_cron_plans_every_job_with_rendered_paths() {
        let s = Schedules::parse(DOC).unwrap();
        let plan = s
            .plan("0 3 * * *", ms(2024, 3, 1, 3, 0), &account(), None)
            .unwrap();
        assert_eq!(plan.len(), 2);
        let first = plan[0].start.as_ref().unwrap();
        assert_eq!(
            first.path.as_ref().unwrap().as_str(),
            "https://files.example.com/exports/2024-02-29/customers.csv"
        );
        assert_eq!(plan[0].job, r#"SCHEDULES["0 3 * * *"][0]"#);
        let second = plan[1].start.as_ref().unwrap();
        assert_eq!(second.api(), ApiKind::ImportsV1);
        assert_eq!(
            second.path.as_ref().unwrap().as_str(),
            "gs://b/2024/03/01/03.csv"
        );
        assert_eq!(second.test_connection, Some(false));
    }

    #[test]
    fn a_cron_listed_twice_starts_none_of_its_jobs_and_others_run() {
        for doc in [
            r#"{"0 3 * * *": [{"import_id": "a"}], "5 * * * *": [{"import_id": "c"}], "0 3 * * *": [{"import_id": "b"}]}"#,
            r#"{"0 3 * * *": [{"import_id": "a"}], "5 * * * *": [{"import_id": "c"}], "0  3 * * *": [{"import_id": "b"}]}"#,
            r#"{"0 3 * * *": [{"import_id": "a"}], "5 * * * *": [{"import_id": "c"}], " 0 3 * * * ": [{"import_id": "b"}]}"#,
        ] {
            let s = Schedules::parse(doc).unwrap();
            for cron in ["0 3 * * *", "0  3 * * *"] {
                let e = s.plan(cron, 0, &account(), None).unwrap_err();
                assert_eq!(e.code, ErrorCode::Misconfigured);
                assert!(
                    e.message
                        .starts_with(r#"SCHEDULES["0 3 * * *"]: the cron is listed 2 times"#),
                    "{}",
                    e.message
                );
            }
            let other = s.plan("5 * * * *", 0, &account(), None).unwrap();
            assert_eq!(other[0].import_id.as_ref().unwrap().as_str(), "c");
            let problems = s.problems(&["0 3 * * *".into(), "5 * * * *".into()]);
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains("listed 2 times"));
        }
        assert!(Schedules::parse("[1]")
            .unwrap_err()
            .message
            .contains("must be a JSON object"));
        assert!(Schedules::parse("{")
            .unwrap_err()
            .message
            .contains("not valid JSON"));
    }

    #[test]
    fn data_hub_jobs_go_to_the_workspace_and_a_missing_id_fails_that_job() {
        let doc = r#"{"0 3 * * *": [
            {"import_id": "dw", "api": "data-hub", "path": "s3://b/{date}.csv", "time_offset": "-1d"},
            {"import_id": "plain"},
            {"import_id": "v1", "api": "imports-v1"}
        ]}"#;
        let s = Schedules::parse(doc).unwrap();
        let workspace_only = Account {
            workspace: Some(crate::ids::WorkspaceId::parse("ws-1").unwrap()),
            ..Account::default()
        };
        let plan = s
            .plan("0 3 * * *", ms(2026, 11, 28, 3, 0), &workspace_only, None)
            .unwrap();
        let dw = plan[0].start.as_ref().unwrap();
        assert_eq!(dw.api(), ApiKind::DataHub);
        assert_eq!(dw.path.as_ref().unwrap().as_str(), "s3://b/2026-11-27.csv");
        // No api: the deployment's default, data-hub with a workspace alone.
        assert_eq!(plan[1].api, ApiKind::DataHub);
        assert_eq!(plan[1].start.as_ref().unwrap().api(), ApiKind::DataHub);
        let e = plan[2].start.as_ref().unwrap_err();
        assert_eq!(e.code, ErrorCode::Misconfigured);
        assert!(
            e.message
                .starts_with(r#"SCHEDULES["0 3 * * *"][2]: BLOOMREACH_PROJECT_TOKEN: is not set"#),
            "{}",
            e.message
        );
    }

    #[test]
    fn yesterday_across_a_year_boundary() {
        let s = Schedules::parse(DOC).unwrap();
        let plan = s
            .plan("0 3 * * *", ms(2025, 1, 1, 3, 0), &account(), None)
            .unwrap();
        assert_eq!(
            plan[0]
                .start
                .as_ref()
                .unwrap()
                .path
                .as_ref()
                .unwrap()
                .as_str(),
            "https://files.example.com/exports/2024-12-31/customers.csv"
        );
    }

    #[test]
    fn bad_jobs_are_reported_by_cron_and_index_while_good_ones_plan() {
        let s = Schedules::parse(DOC).unwrap();
        let at = ms(2024, 1, 1, 5, 15);
        let plan = s.plan("15  *  * * *", at, &account(), None).unwrap();
        assert_eq!(plan.len(), 6);
        let first = plan[0].start.as_ref().unwrap();
        let expected_secs = at / 1000 - 6 * 3600;
        assert_eq!(
            first.path.as_ref().unwrap().as_str(),
            format!("/sftp/{expected_secs}-15.csv")
        );
        let errors: Vec<String> = plan[1..]
            .iter()
            .map(|p| p.start.as_ref().unwrap_err().message.clone())
            .collect();
        assert_eq!(
            errors[0],
            r#"SCHEDULES["15 * * * *"][1].import_id: is required"#
        );
        assert!(
            errors[1].starts_with(r#"SCHEDULES["15 * * * *"][2].path: unknown placeholder {dat}"#)
        );
        assert!(errors[2].starts_with(r#"SCHEDULES["15 * * * *"][3].time_offset:"#));
        assert!(errors[3].starts_with(r#"SCHEDULES["15 * * * *"][4].import_id:"#));
        assert_eq!(
            errors[4],
            r#"SCHEDULES["15 * * * *"][5]: unknown field `colour`, expected one of `import_id`, `path`, `test_connection`, `api`, `time_offset`"#
        );
        for p in &plan[1..] {
            assert_eq!(p.start.as_ref().unwrap_err().code, ErrorCode::Misconfigured);
        }
    }

    #[test]
    fn an_empty_list_plans_nothing_and_an_unknown_cron_is_an_error() {
        let s = Schedules::parse(DOC).unwrap();
        assert!(s
            .plan("*/5 * * * *", 0, &account(), None)
            .unwrap()
            .is_empty());
        let e = s.plan("0 4 * * *", 0, &account(), None).unwrap_err();
        assert_eq!(e.message, r#"SCHEDULES: has no jobs for cron "0 4 * * *""#);
        let e = s.plan("0 0 1 * *", 0, &account(), None).unwrap_err();
        assert!(e.message.contains("must be a list of jobs"));
    }

    #[test]
    fn rendered_paths_obey_allowed_prefixes() {
        let s = Schedules::parse(DOC).unwrap();
        let prefixes = PathPrefixes::parse_as(
            "ALLOWED_PATH_PREFIXES",
            "https://files.example.com/exports/",
        )
        .unwrap();
        let plan = s
            .plan(
                "0 3 * * *",
                ms(2024, 3, 1, 3, 0),
                &account(),
                Some(&prefixes),
            )
            .unwrap();
        assert!(plan[0].start.is_ok());
        assert_eq!(
            plan[1].start.as_ref().unwrap_err().code,
            ErrorCode::PathNotAllowed
        );
    }

    #[test]
    fn an_event_plan_builds_every_request_from_settings_and_schedules() {
        let lookup = |name: &str| -> Option<String> {
            match name {
                "BLOOMREACH_API_KEY_ID" => Some("k".into()),
                "BLOOMREACH_API_SECRET" => Some("s".into()),
                "BLOOMREACH_PROJECT_TOKEN" => Some("proj".into()),
                "BLOOMREACH_API_BASE" => Some("http://127.0.0.1:9".into()),
                "SCHEDULES" => Some(DOC.into()),
                _ => None,
            }
        };
        let plan = plan_event(&lookup, "0 3 * * *", ms(2024, 3, 1, 3, 0)).unwrap();
        assert_eq!(plan.jobs.len(), 2);
        let req = plan.jobs[0].request.as_ref().unwrap();
        assert_eq!(
            req.url,
            "http://127.0.0.1:9/data/v1/projects/proj/imports/customers/start"
        );
        assert_eq!(
            req.body.as_deref(),
            Some(r#"{"path":"https://files.example.com/exports/2024-02-29/customers.csv"}"#)
        );
        let no_schedules = |name: &str| {
            if name == "SCHEDULES" {
                None
            } else {
                lookup(name)
            }
        };
        assert_eq!(
            plan_event(&no_schedules, "0 3 * * *", 0)
                .unwrap_err()
                .message,
            "SCHEDULES is not set"
        );
        let no_creds = |name: &str| {
            if name == "BLOOMREACH_API_SECRET" {
                None
            } else {
                lookup(name)
            }
        };
        assert_eq!(
            plan_event(&no_creds, "0 3 * * *", 0).unwrap_err().code,
            ErrorCode::Misconfigured
        );
    }

    const OK: JobOutcome = JobOutcome {
        ok: true,
        evidence: Evidence::Started,
    };

    fn failed(evidence: Evidence) -> JobOutcome {
        JobOutcome {
            ok: false,
            evidence,
        }
    }

    #[test]
    fn an_event_fails_when_any_job_failed() {
        let ok = OK;
        for ledger in [true, false] {
            let v = event_verdict("0 3 * * *", &[ok, ok, ok], ledger);
            assert_eq!((v.result, v.no_retry), (Ok(()), false));
        }
        let v = event_verdict("0 3 * * *", &[ok, failed(Evidence::Refused), ok], true);
        assert_eq!(
            v.result.unwrap_err(),
            r#"1 of 3 scheduled imports failed for cron "0 3 * * *"; see the log lines"#
        );
    }

    #[test]
    fn a_redelivery_skips_recorded_jobs_with_their_latest_outcome() {
        use crate::ledger::Kept;
        assert_eq!(skipped_job(&Begin::Proceed), None);
        assert_eq!(skipped_job(&Begin::Reused), None);
        let kept = |outcome: &str, evidence| Begin::Replay {
            started_at_ms: 7,
            kept: Kept {
                outcome: outcome.into(),
                evidence,
                status: 200,
                body: "{}".into(),
                retry_after: None,
            },
        };
        let done = kept("ok", Evidence::Started);
        let (s, o) = skipped_job(&done).unwrap();
        assert_eq!((s.first_ran_at_ms, s.recorded_outcome), (7, "ok"));
        assert_eq!((o.ok, o.evidence), (true, Evidence::Started));
        let failed = kept("upstream_error", Evidence::MayHaveStarted);
        let (_, o) = skipped_job(&failed).unwrap();
        assert_eq!((o.ok, o.evidence), (false, Evidence::MayHaveStarted));
        let (s, o) = skipped_job(&Begin::OutcomeUnknown { started_at_ms: 3 }).unwrap();
        assert_eq!(s.recorded_outcome, "upstream_outcome_unknown");
        assert!(!o.ok && !o.evidence.proves_nothing_started());
        let running = Begin::InProgress {
            started_at_ms: 3,
            retry_after_secs: 2,
        };
        let (_, o) = skipped_job(&running).unwrap();
        assert!(!o.ok && o.evidence.is_retryable());
    }

    #[test]
    fn no_retry_only_when_a_redelivery_could_start_nothing_useful() {
        let ok = OK;
        // With the ledger: only when no job's outcome is retryable.
        for (jobs, no_retry) in [
            (vec![ok, failed(Evidence::Retryable)], false),
            (
                vec![failed(Evidence::Refused), failed(Evidence::MayHaveStarted)],
                true,
            ),
            (vec![ok, JobOutcome::LEDGER_FAILED], false),
            (vec![JobOutcome::MISCONFIGURED], true),
        ] {
            assert_eq!(
                event_verdict("c", &jobs, true).no_retry,
                no_retry,
                "{jobs:?}"
            );
        }
        // Without it: whenever any job may have started (a success included).
        for (jobs, no_retry) in [
            (vec![ok, failed(Evidence::Retryable)], true),
            (
                vec![failed(Evidence::Retryable), failed(Evidence::Refused)],
                false,
            ),
            (vec![failed(Evidence::MayHaveStarted)], true),
            (vec![JobOutcome::MISCONFIGURED], false),
        ] {
            assert_eq!(
                event_verdict("c", &jobs, false).no_retry,
                no_retry,
                "{jobs:?}"
            );
        }
        // A cron with no jobs succeeds with nothing to do.
        assert_eq!(event_verdict("c", &[], true).result, Ok(()));
        let e = TriggerError::misconfigured("SCHEDULES is not set");
        assert!(unplanned_verdict(&e, true).no_retry);
        assert!(!unplanned_verdict(&e, false).no_retry);
        assert_eq!(
            unplanned_verdict(&e, false).result,
            Err("SCHEDULES is not set".into())
        );
    }

    #[test]
    fn malformed_documents_fail_whole() {
        for bad in ["", "[]", "{", "\"x\"", "null"] {
            let e = Schedules::parse(bad).unwrap_err();
            assert!(e.message.starts_with("SCHEDULES:"), "{bad}");
        }
        assert!(Schedules::parse("{}").unwrap().0.is_empty());
        // Not JSON anywhere, a job included, fails the whole document.
        for bad in [
            r#"{"0 3 * * *": [{"import_id": "a", "path": "\ud800"}]}"#,
            "{\"0 3 * * *\": [{\"import_id\": tru}]}",
            "\u{c}{}",
        ] {
            let e = Schedules::parse(bad).unwrap_err();
            assert!(
                e.message.starts_with("SCHEDULES: is not valid JSON ("),
                "{bad}: {}",
                e.message
            );
        }
        let deep = format!(r#"{{"0 3 * * *": {}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert!(Schedules::parse(&deep)
            .unwrap_err()
            .message
            .starts_with("SCHEDULES: is not valid JSON (recursion limit exceeded"));
    }

    #[test]
    fn a_repeated_field_of_a_job_is_refused_by_name() {
        let s = Schedules::parse(
            r#"{"0 3 * * *": [{"import_id": "a", "import_id": "b"}, {"import_id": "c", "path": "/x", "path": "/y"}, {"import_id": "d"}]}"#,
        )
        .unwrap();
        let plan = s.plan("0 3 * * *", 0, &account(), None).unwrap();
        let errors: Vec<&str> = plan[..2]
            .iter()
            .map(|p| p.start.as_ref().unwrap_err().message.as_str())
            .collect();
        assert_eq!(
            errors,
            [
                r#"SCHEDULES["0 3 * * *"][0]: duplicate field `import_id`"#,
                r#"SCHEDULES["0 3 * * *"][1]: duplicate field `path`"#
            ]
        );
        assert!(plan[2].start.is_ok());
    }

    #[test]
    fn wrong_types_in_a_job_name_the_field() {
        let s = Schedules::parse(
            r#"{"c": [{"import_id": 7}, {"import_id": "a", "test_connection": "no"}, {"import_id": "a", "api": 2}, {"import_id": "a", "path": null}, ["a"], "a"]}"#,
        )
        .unwrap();
        let problems = s.problems(&["c".to_owned()]);
        assert_eq!(
            problems,
            [
                r#"SCHEDULES["c"][0].import_id: must be a string"#,
                r#"SCHEDULES["c"][1].test_connection: must be true or false"#,
                r#"SCHEDULES["c"][2].api: must be "data-v1", "imports-v1" or "data-hub""#,
                r#"SCHEDULES["c"][3].path: must be a string"#,
                r#"SCHEDULES["c"][4]: must be an object"#,
                r#"SCHEDULES["c"][5]: must be an object"#,
                r#"[triggers] crons: "c" is not a cron expression Cloudflare accepts (five fields in UTC: minute, hour, day of month, month, day of week 1-7 for SUN-SAT; * , - / L W #)"#,
            ]
        );
    }

    #[test]
    fn schedules_may_be_a_json_string_or_a_table_and_nothing_else() {
        let job = r#"{"0 3 * * *": [{"import_id": "a"}]}"#;
        for value in [
            SettingValue::Text(job.into()),
            SettingValue::Structured(job.into()),
        ] {
            let s = Schedules::from_setting(Some(value)).unwrap();
            assert_eq!(s.0.len(), 1);
        }
        for unset in [None, Some(SettingValue::Text(" \n".into()))] {
            assert_eq!(
                Schedules::from_setting(unset).unwrap_err().message,
                "SCHEDULES is not set"
            );
        }
        for other in [SettingValue::Number(1.0), SettingValue::Bool(true)] {
            let e = Schedules::from_setting(Some(other)).unwrap_err();
            assert_eq!(e.code, ErrorCode::Misconfigured);
            assert!(e.message.starts_with("SCHEDULES: must be a JSON object"));
        }
    }

    #[test]
    fn problems_list_unlisted_crons_empty_lists_and_bad_jobs() {
        let s = Schedules::parse(DOC).unwrap();
        let crons = vec![
            "0 3 * * *".to_owned(),
            "15 * * * *".to_owned(),
            "30 2 * * 1".to_owned(),
        ];
        let problems = s.problems(&crons);
        let text = problems.join("\n");
        assert!(
            text.contains(r#"SCHEDULES["*/5 * * * *"]: this cron is not among [triggers] crons"#),
            "{text}"
        );
        assert!(text.contains(r#"SCHEDULES["*/5 * * * *"]: has no jobs"#));
        assert!(text.contains(r#"SCHEDULES["0 0 1 * *"]: must be a list of jobs"#));
        assert!(text.contains(r#"[triggers] crons: "30 2 * * 1" has no jobs in SCHEDULES"#));
        assert!(text.contains(r#"[1].import_id: is required"#));
        assert_eq!(problems.len(), 10, "{text}");
        let ok = Schedules::parse(r#"{"0 3 * * *": [{"import_id": "a", "path": "/x/{date}"}]}"#)
            .unwrap();
        assert!(ok.problems(&["0 3 * * *".to_owned()]).is_empty());
    }
}
