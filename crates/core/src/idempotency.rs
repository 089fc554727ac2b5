//! `Idempotency-Key`: a repeat of a start with the same key and the same request gets
//! the first answer again instead of a second run in Bloomreach (docs/behaviour.md,
//! "Idempotency-Key").
//!
//! The ledger ([`crate::ledger`]) keeps the records and decides their states; this
//! module decides what is HTTP about them: whether a key is valid, what identifies
//! "the same request", which object holds a key, how long records live, and how each
//! ledger decision is answered.

use crate::error::{ErrorCode, TriggerError};
use crate::ids::ApiKind;
use crate::json_text::to_text;
use crate::ledger::{Begin, Kept};
use crate::reply::Reply;
use crate::settings::{whole_number, Lookup};
use crate::upstream_request::StartRequest;
use serde::{Deserialize, Serialize};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long a record is kept, in seconds (a setting).
pub use crate::setting_names::IDEMPOTENCY_TTL_SECONDS as TTL_SETTING;
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

    /// The name of this key's record in the ledger object of the deployment's
    /// Bloomreach target ([`crate::ledger::object_name`]): keys are scoped to that
    /// target, so one key used against two projects is two records.
    pub fn record_name(&self) -> String {
        format!("idempotency\n{}", self.0)
    }
}

/// The error for a key sent to a worker without the ledger binding.
pub fn unavailable() -> TriggerError {
    TriggerError::invalid(
        "Idempotency-Key",
        "this worker has no START_LEDGER binding, so it cannot keep the key; send the request without it, or add the binding",
    )
}

/// The records' time to live in milliseconds, from the setting (a number, or numeric
/// text): 60..=2592000 seconds (default a day), and longer than `deadline_ms`, the
/// longest a start may take, so no record expires while its start is under way.
pub fn ttl_ms(lookup: &dyn Lookup, deadline_ms: u64) -> Result<u64, TriggerError> {
    let secs = whole_number(lookup, TTL_SETTING, DEFAULT_TTL_SECS, 60..=2_592_000)?;
    let ms = secs * 1000;
    if ms <= deadline_ms {
        return Err(TriggerError::misconfigured(format!(
            "{TTL_SETTING}: must be longer than UPSTREAM_DEADLINE_MS ({deadline_ms} ms)"
        )));
    }
    Ok(ms)
}

/// The fields of a fingerprint. Their order (sorted, as earlier versions wrote every
/// object) is part of it: the fingerprints of records stored before a deploy must
/// compare equal after it.
#[derive(Serialize)]
struct Fingerprint<'a> {
    api: ApiKind,
    import_id: &'a str,
    path: Option<&'a str>,
    test_connection: Option<bool>,
}

/// What identifies "the same request": the start's fields after defaults, not the
/// body's bytes, so `{}` and an empty body, or the same fields in another order, are
/// the same.
pub fn fingerprint(start: &StartRequest) -> String {
    to_text(&Fingerprint {
        api: start.api(),
        import_id: start.import_id.as_str(),
        path: start.path.as_ref().map(|p| p.as_str()),
        test_connection: start.test_connection,
    })
}

/// What the endpoint does with the ledger's decision on a key.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyAnswer {
    /// Start, then `finish` the record.
    Proceed,
    /// Answer with the first request's reply, calling nothing. The error is the one
    /// that reply carried, if any, for the log line.
    Replay(Reply, Option<TriggerError>),
    /// Refuse with this error (reused key, start under way, outcome unknown).
    Refuse(TriggerError),
}

fn in_progress(retry_after_secs: u64) -> TriggerError {
    let mut e = TriggerError::new(
        ErrorCode::IdempotencyKeyInProgress,
        "Idempotency-Key: a request with this key is under way; try again shortly",
    );
    e.retry_after_secs = Some(retry_after_secs);
    e
}

/// The endpoint's answer to the ledger's decision.
pub fn answer(begin: Begin) -> KeyAnswer {
    match begin {
        Begin::Proceed => KeyAnswer::Proceed,
        Begin::Replay { kept, .. } => {
            let reply = replayed_reply(&kept);
            let error = stored_error(&kept, &reply);
            KeyAnswer::Replay(reply, error)
        }
        Begin::Reused => KeyAnswer::Refuse(TriggerError::new(
            ErrorCode::IdempotencyKeyReused,
            "Idempotency-Key: was used with another request; use a new key",
        )),
        // (`Held` is a cron job's: no key's record is held without its `202`.)
        Begin::Held { .. } => KeyAnswer::Refuse(in_progress(1)),
        Begin::InProgress {
            retry_after_secs, ..
        } => KeyAnswer::Refuse(in_progress(retry_after_secs)),
        // A start accepted with `Prefer: respond-async` still under way: its `202`.
        Begin::Accepted { start_id, .. } => {
            KeyAnswer::Replay(crate::respond_async::accepted_reply(&start_id, true), None)
        }
        Begin::OutcomeUnknown { .. } => KeyAnswer::Refuse(TriggerError::new(
            ErrorCode::UpstreamOutcomeUnknown,
            "Idempotency-Key: a start with this key began and its outcome was never recorded (the worker was stopped mid-start); it may have started, so it is not started again",
        )),
    }
}

fn replayed_reply(kept: &Kept) -> Reply {
    let mut headers = vec![("idempotent-replayed", "true".to_owned())];
    if let Some(retry_after) = &kept.retry_after {
        headers.push(("retry-after", retry_after.clone()));
    }
    Reply {
        status: kept.status,
        headers,
        body: kept.body.clone(),
    }
}

/// The error a kept reply carried (`{"error": {"code", "message"}}`), if any.
fn stored_error(kept: &Kept, reply: &Reply) -> Option<TriggerError> {
    #[derive(Deserialize)]
    struct Failure {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        message: String,
    }
    let code = ErrorCode::from_name(&kept.outcome)?;
    let failure: Failure = serde_json::from_str(&reply.body).ok()?;
    Some(TriggerError::new(
        code,
        format!("replayed: {}", failure.error.message),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempts::Evidence;
    use crate::ids::{ImportId, PathOverride, ProjectToken};

    fn start(path: Option<&str>) -> StartRequest {
        StartRequest {
            target: crate::account::Target::DataV1(ProjectToken::parse("p").unwrap()),
            import_id: ImportId::parse("i").unwrap(),
            path: path.map(|p| PathOverride::parse(p).unwrap()),
            test_connection: None,
        }
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255_and_scoped() {
        let key = IdempotencyKey::parse("2026-11-28/customers#1").unwrap();
        assert_eq!(key.record_name(), "idempotency\n2026-11-28/customers#1");
        assert_ne!(
            crate::ledger::object_name("https://a\np1\n"),
            crate::ledger::object_name("https://a\np2\n")
        );
        for bad in ["", "a b", "é", &"k".repeat(256), "a\n"] {
            assert!(IdempotencyKey::parse(bad)
                .unwrap_err()
                .message
                .starts_with("Idempotency-Key:"));
        }
    }

    #[test]
    fn each_decision_has_its_answer() {
        assert_eq!(answer(Begin::Proceed), KeyAnswer::Proceed);
        let KeyAnswer::Refuse(e) = answer(Begin::Reused) else {
            panic!()
        };
        assert_eq!(
            (e.code, e.code.http_status()),
            (ErrorCode::IdempotencyKeyReused, 422)
        );
        let KeyAnswer::Refuse(e) = answer(Begin::InProgress {
            started_at_ms: 1,
            retry_after_secs: 4,
        }) else {
            panic!()
        };
        assert_eq!(e.code.http_status(), 409);
        let reply = crate::endpoint::refusal_reply(&e);
        assert!(reply.headers.contains(&("retry-after", "4".into())));
        let KeyAnswer::Refuse(e) = answer(Begin::OutcomeUnknown { started_at_ms: 1 }) else {
            panic!()
        };
        assert_eq!(
            (e.code.as_str(), e.code.http_status()),
            ("upstream_outcome_unknown", 502)
        );
        let KeyAnswer::Replay(reply, None) = answer(Begin::Accepted {
            started_at_ms: 1,
            start_id: "s-1".into(),
        }) else {
            panic!("an accepted start's 202 again")
        };
        assert_eq!(reply, crate::respond_async::accepted_reply("s-1", true));
    }

    #[test]
    fn a_replay_is_the_kept_reply_and_its_error_for_the_log() {
        let failed = TriggerError::new(ErrorCode::ImportNotFound, "Bloomreach answered 404: gone");
        let kept_reply = crate::endpoint::refusal_reply(&failed);
        let kept = Kept {
            outcome: "import_not_found".into(),
            evidence: Evidence::MayHaveStarted,
            status: kept_reply.status,
            body: kept_reply.body.clone(),
            retry_after: None,
        };
        let KeyAnswer::Replay(reply, error) = answer(Begin::Replay {
            started_at_ms: 1,
            kept,
        }) else {
            panic!("a replay")
        };
        assert_eq!((reply.status, &reply.body), (404, &kept_reply.body));
        assert!(reply
            .headers
            .contains(&("idempotent-replayed", "true".into())));
        let error = error.unwrap();
        assert_eq!(error.code, ErrorCode::ImportNotFound);
        assert_eq!(error.message, "replayed: Bloomreach answered 404: gone");
    }

    #[test]
    fn the_fingerprint_ignores_how_the_body_was_written() {
        let from_body = |body: &[u8]| {
            let fields = crate::request_body::parse_body(body).unwrap();
            let account = crate::account::Account {
                project: Some(ProjectToken::parse("p").unwrap()),
                ..Default::default()
            };
            fingerprint(&StartRequest {
                target: account
                    .target(fields.api, crate::account::SETTING_NAMES)
                    .unwrap(),
                path: fields.path,
                test_connection: fields.test_connection,
                ..start(None)
            })
        };
        assert_eq!(from_body(b""), from_body(b"{}"));
        assert_eq!(from_body(b""), from_body(br#"{"api":"data-v1"}"#));
        assert_eq!(
            from_body(br#"{"path":"/a","test_connection":false}"#),
            from_body(br#" { "test_connection" : false , "path" : "/a" } "#)
        );
        assert_ne!(from_body(b""), from_body(br#"{"path":"/a"}"#));
        assert_ne!(from_body(b""), from_body(br#"{"test_connection":true}"#));
        assert_eq!(
            from_body(br#"{"path":"/a"}"#),
            fingerprint(&start(Some("/a")))
        );
    }

    #[test]
    fn the_fingerprint_is_what_earlier_versions_wrote() {
        assert_eq!(
            fingerprint(&start(Some("/a"))),
            r#"{"api":"data-v1","import_id":"i","path":"/a","test_connection":null}"#
        );
    }

    #[test]
    fn ttl_defaults_to_a_day_is_bounded_and_outlives_the_deadline() {
        use crate::settings::SettingValue;
        let ttl = |value: Option<SettingValue>, deadline_ms| {
            let pairs = value.map(|v| (TTL_SETTING, v)).into_iter().collect();
            ttl_ms(&crate::test_support::Values(pairs), deadline_ms)
        };
        let text = |t: &str| Some(SettingValue::Text(t.to_owned()));
        assert_eq!(ttl(None, 25_000), Ok(86_400_000));
        assert_eq!(ttl(text("3600"), 25_000), Ok(3_600_000));
        assert_eq!(
            ttl(Some(SettingValue::Number(3600.0)), 25_000),
            Ok(3_600_000)
        );
        assert!(ttl(text("10"), 25_000).is_err());
        assert!(ttl(text("x"), 25_000)
            .unwrap_err()
            .message
            .starts_with(TTL_SETTING));
        for malformed in [
            SettingValue::Bool(true),
            SettingValue::Number(3600.5),
            SettingValue::Structured("{}".into()),
        ] {
            assert_eq!(
                ttl(Some(malformed), 25_000).unwrap_err().message,
                "IDEMPOTENCY_TTL_SECONDS: must be a whole number from 60 to 2592000"
            );
        }
        let e = ttl(text("60"), 60_000).unwrap_err();
        assert_eq!(e.code, ErrorCode::Misconfigured);
        assert!(e.message.contains("UPSTREAM_DEADLINE_MS"));
        assert_eq!(ttl(text("61"), 60_000), Ok(61_000));
    }
}
