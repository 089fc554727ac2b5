//! `Idempotency-Key`: a repeat of a start with the same key and the same request gets
//! the first answer again instead of a second run in Bloomreach.
//!
//! The shell keeps records in a KV namespace and holds an in-memory lock per key while
//! a start is under way; this module decides everything else: whether a key is valid,
//! what identifies "the same request", what a stored record means for a new request,
//! and which outcomes are worth remembering.

use crate::error::{ErrorCode, TriggerError};
use crate::reply::Reply;
use crate::run::RunResult;
use crate::upstream_request::StartRequest;
use serde_json::{json, Value};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The KV namespace binding that holds the records.
pub const KV_BINDING: &str = "IDEMPOTENCY_KV";
/// How long a record is kept, in seconds (a setting).
pub const TTL_SETTING: &str = "IDEMPOTENCY_TTL_SECONDS";
/// The default: a day, longer than any pipeline's retries.
pub const DEFAULT_TTL_SECS: u64 = 86_400;

/// A validated key: 1..=255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, TriggerError> {
        if value.is_empty()
            || value.len() > 255
            || !value.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(TriggerError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(IdempotencyKey(value.to_owned()))
    }

    /// The KV key of its record.
    pub fn record_key(&self) -> String {
        format!("idempotency:{}", self.0)
    }
}

/// The error for a key sent to a worker without the KV binding.
pub fn unavailable() -> TriggerError {
    TriggerError::invalid(
        "Idempotency-Key",
        "this worker has no IDEMPOTENCY_KV binding, so it cannot keep the key; send the request without it, or add the binding",
    )
}

/// The record's time to live from the setting (KV's minimum is 60 s).
pub fn ttl_secs(setting: Option<&str>) -> Result<u64, TriggerError> {
    match setting.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_TTL_SECS),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (60..=2_592_000).contains(n))
            .ok_or_else(|| {
                TriggerError::misconfigured(format!(
                    "{TTL_SETTING}: must be a whole number from 60 to 2592000"
                ))
            }),
    }
}

/// What identifies "the same request": the start's fields, not the body's bytes, so
/// `{}` and an empty body, or the same fields in another order, are the same.
pub fn fingerprint(start: &StartRequest) -> String {
    json!({
        "import_id": start.import_id.as_str(),
        "api": start.api.as_str(),
        "path": start.path.as_ref().map(|p| p.as_str()),
        "test_connection": start.test_connection,
    })
    .to_string()
}

/// What to do with a request, given the record found under its key.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// No record: write [`pending_record`], start, then store the outcome.
    Proceed,
    /// Answer with the first request's reply, calling nothing. The error is the one
    /// that reply carried, if any, for the log line.
    Replay(Reply, Option<TriggerError>),
    /// Refuse: the key was used with another request, or its start is under way.
    Refuse(TriggerError),
}

/// Decides from the stored record (if any) and the new request's fingerprint.
pub fn decide(stored: Option<&str>, fingerprint: &str) -> Decision {
    let Some(record) = stored.and_then(|s| serde_json::from_str::<Value>(s).ok()) else {
        return Decision::Proceed;
    };
    if record.get("fingerprint").and_then(Value::as_str) != Some(fingerprint) {
        return Decision::Refuse(TriggerError::new(
            ErrorCode::IdempotencyKeyReused,
            "Idempotency-Key: was used with another request; use a new key",
        ));
    }
    match record.get("state").and_then(Value::as_str) {
        Some("done") => match stored_reply(&record) {
            Some(reply) => {
                let error = stored_error(&reply);
                Decision::Replay(reply, error)
            }
            None => Decision::Proceed,
        },
        _ => Decision::Refuse(in_progress()),
    }
}

/// The refusal while another request with the key is under way.
pub fn in_progress() -> TriggerError {
    TriggerError::new(
        ErrorCode::IdempotencyKeyInProgress,
        "Idempotency-Key: a request with this key is under way; try again shortly",
    )
}

/// The error a stored reply carried (`{"error": {"code", "message"}}`), if any.
fn stored_error(reply: &Reply) -> Option<TriggerError> {
    let body: Value = serde_json::from_str(&reply.body).ok()?;
    let error = body.get("error")?;
    let code = ErrorCode::from_name(error.get("code")?.as_str()?)?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(TriggerError::new(code, format!("replayed: {message}")))
}

fn stored_reply(record: &Value) -> Option<Reply> {
    let status = u16::try_from(record.get("status")?.as_u64()?).ok()?;
    let body = record.get("body")?.as_str()?.to_owned();
    let mut headers = vec![("idempotent-replayed", "true".to_owned())];
    if let Some(retry_after) = record.get("retry_after").and_then(Value::as_str) {
        headers.push(("retry-after", retry_after.to_owned()));
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// The record written before the start: it marks the key as under way.
pub fn pending_record(fingerprint: &str) -> String {
    json!({"state": "pending", "fingerprint": fingerprint}).to_string()
}

/// The record of a finished start, or `None` when the key should be freed instead:
/// when Bloomreach said it started nothing (429 or 503 to the end), a retry with the
/// same key must be able to start it.
pub fn done_record(fingerprint: &str, result: &RunResult, reply: &Reply) -> Option<String> {
    if let Err(e) = &result.outcome {
        if matches!(e.upstream_status, Some(429 | 503)) {
            return None;
        }
    }
    let retry_after = reply
        .headers
        .iter()
        .find(|(name, _)| *name == "retry-after")
        .map(|(_, v)| v.clone());
    Some(
        json!({
            "state": "done",
            "fingerprint": fingerprint,
            "status": reply.status,
            "body": reply.body,
            "retry_after": retry_after,
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ApiKind, ImportId, PathOverride, ProjectToken};
    use crate::Accepted;

    fn start(path: Option<&str>) -> StartRequest {
        StartRequest {
            project: ProjectToken::parse("p").unwrap(),
            import_id: ImportId::parse("i").unwrap(),
            api: ApiKind::DataV1,
            path: path.map(|p| PathOverride::parse(p).unwrap()),
            test_connection: None,
        }
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("2026-11-28/customers#1").is_ok());
        assert_eq!(
            IdempotencyKey::parse("k").unwrap().record_key(),
            "idempotency:k"
        );
        for bad in ["", "a b", "é", &"k".repeat(256), "a\n"] {
            assert!(IdempotencyKey::parse(bad)
                .unwrap_err()
                .message
                .starts_with("Idempotency-Key:"));
        }
    }

    #[test]
    fn no_record_proceeds_and_a_pending_record_is_in_progress() {
        let f = fingerprint(&start(None));
        assert_eq!(decide(None, &f), Decision::Proceed);
        assert_eq!(decide(Some("garbage"), &f), Decision::Proceed);
        let Decision::Refuse(e) = decide(Some(&pending_record(&f)), &f) else {
            panic!("a pending record must refuse")
        };
        assert_eq!(e.code, ErrorCode::IdempotencyKeyInProgress);
        assert_eq!(e.code.http_status(), 409);
    }

    #[test]
    fn a_done_record_is_replayed_for_the_same_request_only() {
        let f = fingerprint(&start(Some("/a")));
        let result = RunResult {
            outcome: Ok(Accepted { status: 200 }),
            attempts: 1,
            elapsed_ms: 3,
        };
        let reply = Reply::json(200, &json!({"ok": true}));
        let record = done_record(&f, &result, &reply).unwrap();
        let Decision::Replay(replayed, error) = decide(Some(&record), &f) else {
            panic!("a done record must replay")
        };
        assert_eq!(
            (replayed.status, replayed.body.as_str()),
            (200, r#"{"ok":true}"#)
        );
        assert!(replayed
            .headers
            .contains(&("idempotent-replayed", "true".into())));
        assert_eq!(error, None);
        let other = fingerprint(&start(Some("/b")));
        let Decision::Refuse(refused) = decide(Some(&record), &other) else {
            panic!("another request must be refused")
        };
        assert_eq!(refused.code, ErrorCode::IdempotencyKeyReused);
        assert_eq!(refused.code.http_status(), 422);
    }

    #[test]
    fn a_replayed_failure_keeps_its_code_for_the_log() {
        let f = fingerprint(&start(None));
        let failed = TriggerError::new(ErrorCode::ImportNotFound, "Bloomreach answered 404: gone");
        let reply = crate::endpoint::refusal_reply(&failed);
        let result = RunResult {
            outcome: Err(failed),
            attempts: 1,
            elapsed_ms: 3,
        };
        let record = done_record(&f, &result, &reply).unwrap();
        let Decision::Replay(replayed, error) = decide(Some(&record), &f) else {
            panic!("a done record must replay")
        };
        assert_eq!(replayed.status, 404);
        assert_eq!(error.map(|e| e.code), Some(ErrorCode::ImportNotFound));
    }

    #[test]
    fn outcomes_that_started_nothing_free_the_key() {
        let f = fingerprint(&start(None));
        let mut limited = TriggerError::new(ErrorCode::UpstreamRateLimited, "429");
        limited.upstream_status = Some(429);
        let result = RunResult {
            outcome: Err(limited),
            attempts: 4,
            elapsed_ms: 9,
        };
        assert_eq!(
            done_record(&f, &result, &Reply::json(503, &json!({}))),
            None
        );
        let timed_out = RunResult {
            outcome: Err(TriggerError::new(ErrorCode::UpstreamUnreachable, "timeout")),
            attempts: 1,
            elapsed_ms: 9,
        };
        assert!(done_record(&f, &timed_out, &Reply::json(504, &json!({}))).is_some());
    }

    #[test]
    fn the_fingerprint_ignores_how_the_body_was_written() {
        assert_eq!(fingerprint(&start(None)), fingerprint(&start(None)));
        assert_ne!(fingerprint(&start(None)), fingerprint(&start(Some("/a"))));
    }

    #[test]
    fn ttl_defaults_to_a_day_and_is_bounded() {
        assert_eq!(ttl_secs(None), Ok(86_400));
        assert_eq!(ttl_secs(Some("3600")), Ok(3600));
        assert!(ttl_secs(Some("10")).is_err());
        assert!(ttl_secs(Some("x"))
            .unwrap_err()
            .message
            .starts_with(TTL_SETTING));
    }
}
