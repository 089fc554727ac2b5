//! The one JSON log line each trigger writes (docs/behaviour.md, "The HTTP endpoint"). Built here so the
//! HTTP endpoint and the cron handler log alike, and so no secret can reach it: its
//! fields are ids, codes, numbers and messages that never hold one.

use crate::error::TriggerError;
use crate::ids::ApiKind;
use crate::json_text::to_text;
use serde::Serialize;

/// What one trigger did.
#[derive(Clone, Debug)]
pub struct TriggerLog<'a> {
    /// The import id as given (may be invalid; JSON-escaped and cut to 128 characters).
    pub import_id: Option<&'a str>,
    pub api: ApiKind,
    /// Who caused it: `http:token#1`, `cron:0 3 * * *`, ...
    pub cause: &'a str,
    /// The cron job's name, for scheduled starts.
    pub job: Option<&'a str>,
    /// `None` on success.
    pub error: Option<&'a TriggerError>,
    pub upstream_status: Option<u16>,
    pub attempts: u32,
    /// The whole trigger, from the request (or the job's turn) to the log line: the
    /// line's `duration_ms`.
    pub total_ms: u64,
    pub dry_run: bool,
    /// Answered from an `Idempotency-Key` record, without calling Bloomreach.
    pub replayed: bool,
    /// A cron job a redelivered event did not start again, and why.
    pub skipped: Option<Skipped<'a>>,
}

/// A cron job skipped by a redelivery of its event: it first ran at
/// `first_ran_at_ms` (unix ms) and ended in `recorded_outcome` (`ok`, an error code,
/// or `idempotency_key_in_progress` / `upstream_outcome_unknown` while unrecorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skipped<'a> {
    pub first_ran_at_ms: u64,
    pub recorded_outcome: &'a str,
}

impl<'a> TriggerLog<'a> {
    /// A line for a trigger caused by `cause`, before anything happened: no error, no
    /// attempt, the default API. The shells fill in the rest as the trigger goes on.
    pub fn new(import_id: Option<&'a str>, cause: &'a str) -> Self {
        TriggerLog {
            import_id,
            api: ApiKind::default(),
            cause,
            job: None,
            error: None,
            upstream_status: None,
            attempts: 0,
            total_ms: 0,
            dry_run: false,
            replayed: false,
            skipped: None,
        }
    }

    /// Records a finished start: its outcome, Bloomreach's status and the attempts.
    pub fn record_run(&mut self, result: &'a crate::attempts::StartResult) {
        self.error = result.outcome.as_ref().err();
        self.upstream_status = result.outcome.as_ref().ok().map(|a| a.status);
        self.attempts = result.attempts;
    }

    /// The line, as compact JSON.
    pub fn to_line(&self) -> String {
        let outcome = match (self.skipped, self.error) {
            (Some(_), _) => "skipped",
            (None, Some(e)) => e.code.as_str(),
            (None, None) => "ok",
        };
        to_text(&Line {
            event: "import_trigger",
            import_id: self.import_id.map(|id| id.chars().take(128).collect()),
            api: self.api,
            outcome,
            first_ran_at: self.skipped.map(|s| iso_time(s.first_ran_at_ms)),
            recorded_outcome: self.skipped.map(|s| s.recorded_outcome),
            message: self.error.map(|e| e.message.as_str()),
            upstream_status: self
                .upstream_status
                .or(self.error.and_then(|e| e.upstream_status)),
            attempts: self.attempts,
            duration_ms: self.total_ms,
            cause: self.cause,
            job: self.job,
            dry_run: self.dry_run,
            idempotent_replay: self.replayed,
        })
    }
}

/// The fields of a trigger's line (docs/behaviour.md, "Logs").
#[derive(Serialize)]
struct Line<'a> {
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    import_id: Option<String>,
    api: ApiKind,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_ran_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_status: Option<u16>,
    attempts: u32,
    duration_ms: u64,
    cause: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    dry_run: bool,
    #[serde(skip_serializing_if = "is_false")]
    idempotent_replay: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// A line of an `event` and at most a message.
#[derive(Serialize)]
struct EventLine<'a> {
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// The line written when the worker panics (the runtime then reinitialises it). The
/// panic's message holds no request data, so no secret.
pub fn panic_line(message: &str) -> String {
    to_text(&EventLine {
        event: "panic",
        message: Some(message),
    })
}

/// The line written when a start's outcome could not be recorded in the ledger (its
/// pending record then reads as "outcome unknown" once its deadline passes).
pub fn record_not_saved_line() -> String {
    to_text(&EventLine {
        event: "ledger_record_not_saved",
        message: None,
    })
}

/// The line written when the ledger object could not set its clean-up alarm after a
/// call (the call itself stands; the next call sets the alarm again).
pub fn alarm_not_set_line() -> String {
    to_text(&EventLine {
        event: "cleanup_alarm_not_set",
        message: None,
    })
}

/// The line of a history entry that could not be written (the start's answer is not
/// changed by it): the entry's id and why.
pub fn history_write_failed_line(id: Option<&str>, message: &str) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        event: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        message: &'a str,
    }
    to_text(&Line {
        event: "history_write_failed",
        id,
        message,
    })
}

/// `2026-11-28T03:00:00Z` for a unix time in milliseconds.
fn iso_time(ms: u64) -> String {
    let t = crate::civil_time::UtcDateTime::from_unix((ms / 1000) as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::{json, Value};

    #[test]
    fn a_log_line_is_one_json_object_with_the_contract_fields() {
        let e = TriggerError::new(ErrorCode::ImportNotFound, "Bloomreach answered 404: gone");
        let line = TriggerLog {
            import_id: Some("imp\n\"x"),
            api: ApiKind::ImportsV1,
            cause: "cron:0 3 * * *",
            job: Some("SCHEDULES[\"0 3 * * *\"][0]"),
            error: Some(&e),
            upstream_status: Some(404),
            attempts: 1,
            total_ms: 12,
            dry_run: false,
            replayed: false,
            skipped: None,
        }
        .to_line();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "event": "import_trigger",
                "import_id": "imp\n\"x",
                "api": "imports-v1",
                "outcome": "import_not_found",
                "message": "Bloomreach answered 404: gone",
                "upstream_status": 404,
                "attempts": 1,
                "duration_ms": 12,
                "cause": "cron:0 3 * * *",
                "job": "SCHEDULES[\"0 3 * * *\"][0]"
            })
        );
    }

    #[test]
    fn flags_appear_only_when_set_and_event_lines_are_one_object() {
        let long_id = "x".repeat(200);
        let mut entry = TriggerLog::new(Some(&long_id), "http:token#1");
        let v: Value = serde_json::from_str(&entry.to_line()).unwrap();
        assert_eq!(v["import_id"].as_str().map(str::len), Some(128));
        assert_eq!((v.get("dry_run"), v.get("idempotent_replay")), (None, None));
        entry.dry_run = true;
        entry.replayed = true;
        let v: Value = serde_json::from_str(&entry.to_line()).unwrap();
        assert_eq!(
            (&v["dry_run"], &v["idempotent_replay"]),
            (&json!(true), &json!(true))
        );
        let v: Value = serde_json::from_str(&panic_line("boom \"here\"")).unwrap();
        assert_eq!(v, json!({"event": "panic", "message": "boom \"here\""}));
        let v: Value =
            serde_json::from_str(&history_write_failed_line(Some("a-1"), "down")).unwrap();
        assert_eq!(
            v,
            json!({"event": "history_write_failed", "id": "a-1", "message": "down"})
        );
        let v: Value = serde_json::from_str(&record_not_saved_line()).unwrap();
        assert_eq!(v, json!({"event": "ledger_record_not_saved"}));
    }

    #[test]
    fn a_skipped_job_says_when_it_first_ran_and_how_it_ended() {
        let mut entry = TriggerLog::new(Some("customers"), "cron:0 3 * * *");
        entry.skipped = Some(Skipped {
            first_ran_at_ms: 1_795_834_800_123,
            recorded_outcome: "ok",
        });
        let v: Value = serde_json::from_str(&entry.to_line()).unwrap();
        assert_eq!(v["outcome"], "skipped");
        assert_eq!(v["first_ran_at"], "2026-11-28T03:00:00Z");
        assert_eq!(v["recorded_outcome"], "ok");
    }
}
