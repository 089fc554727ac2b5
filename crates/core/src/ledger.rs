//! The start ledger: what the `START_LEDGER` Durable Object decides, as pure code
//! (docs/behaviour.md, "Exactly once"; docs/architecture.md, "The ledger").
//!
//! Every `Idempotency-Key` and every cron job of a scheduled event has its own record,
//! kept in the one object of the deployment's Bloomreach target ([`object_name`]). The
//! worker sends the object one call, [`begin`] before a start and [`finish`] after it,
//! each naming its record; the object reads that record, runs
//! [`apply`] and writes what it returns, all inside that one call, with no `await`
//! between the read and the write. A Durable Object runs one call at a time and is
//! the only instance for its name in the world
//! (<https://developers.cloudflare.com/durable-objects/concepts/what-are-durable-objects/>),
//! so two requests can never both find "no record". KV could not do this: it takes
//! one write per second to a key and is eventually consistent across locations
//! (<https://developers.cloudflare.com/kv/platform/limits/>,
//! <https://developers.cloudflare.com/kv/concepts/how-kv-works/>).
//!
//! A record is, in order of its life:
//! - absent (never used, released, or past its time to live): a `begin` writes
//!   *pending* and answers **proceed**;
//! - *pending*, within its start's deadline plus [`WRITE_GRACE_MS`]: a `begin` answers
//!   **in progress** with the seconds left;
//! - *pending* past that: the worker that held it stopped mid-start, so the start may
//!   or may not have reached Bloomreach; a `begin` answers **outcome unknown**, and
//!   nothing is started again until the record expires;
//! - *done*, with the answer that was given: a `begin` answers **replay**;
//! - a `finish` whose outcome proves nothing started deletes the record (released), so
//!   a later `begin` proceeds; any other outcome makes it *done*.
//!
//! A `begin` with another fingerprint than the record's answers **reused**. Time is
//! passed in; nothing here reads a clock.

use crate::attempts::{Evidence, StartResult};
use crate::error::{ErrorCode, TriggerError};
use crate::json::{self, Value};
use crate::json_object;
use crate::reply::Reply;
use crate::upstream_request::UpstreamRequest;

/// The Durable Object binding of the worker.
pub use crate::settings::START_LEDGER as BINDING;

/// Time allowed past a start's deadline for its record to be written, so a start that
/// ends just at its deadline is not taken for a stopped one.
pub const WRITE_GRACE_MS: u64 = 3_000;

/// What a finished start leaves in its record.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    /// `ok`, or the error code it ended with.
    pub outcome: String,
    /// What the start proved, for cron redeliveries and `noRetry()`.
    pub evidence: Evidence,
    /// The HTTP answer that was given (cron jobs keep theirs too).
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
}

/// What a `begin` answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Begin {
    /// No record: one is now pending for this caller, who must start and `finish`.
    Proceed,
    /// Done before, at `started_at_ms`: answer with what was kept, start nothing.
    Replay { started_at_ms: u64, kept: Kept },
    /// The record is another request's.
    Reused,
    /// A start that began at `started_at_ms` is under way; try again in this many
    /// seconds (at least 1).
    InProgress {
        started_at_ms: u64,
        retry_after_secs: u64,
    },
    /// A start began at `started_at_ms` and its outcome was never recorded.
    OutcomeUnknown { started_at_ms: u64 },
}

/// What the object does to its storage after [`apply`].
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Nothing,
    /// Store `record`, which expires at `expires_at_ms` (unix ms).
    Put {
        record: String,
        expires_at_ms: u64,
    },
    Delete,
}

/// The result of one call on the object: what to store, and what to answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub write: Write,
    pub answer: String,
}

/// The error when the ledger cannot be used (the object threw, was overloaded, or
/// answered something unreadable). Nothing is started after it.
pub fn unavailable() -> TriggerError {
    TriggerError::new(
        ErrorCode::LedgerUnavailable,
        "the start ledger (START_LEDGER) could not be reached; nothing was started, try again",
    )
}

/// The object that holds every record of a deployment's Bloomreach target (`scope`):
/// one object, so no start waits for a new object to be created (a new object for
/// each key cost about 130 ms a start locally), and one place that decides for every
/// key. One object serves about a thousand calls a second
/// (<https://developers.cloudflare.com/durable-objects/platform/limits/>), far beyond
/// how often imports are started; it lives where it was first called from.
pub fn object_name(scope: &str) -> String {
    format!("ledger\n{scope}")
}

/// The record a call is about (its `record` field), for the object to read before
/// [`apply`].
pub fn record_of(call: &str) -> Option<String> {
    let call = json::parse(call.as_bytes()).ok()?;
    text(&call, "record").map(str::to_owned)
}

/// The `begin` call on `record` for a start of at most `deadline_ms`, the record kept
/// `ttl_ms`.
pub fn begin(record: &str, fingerprint: &str, deadline_ms: u64, ttl_ms: u64) -> String {
    json_object([
        ("op", Value::from("begin")),
        ("record", Value::from(record)),
        ("fingerprint", Value::from(fingerprint)),
        ("deadline_ms", Value::from(deadline_ms)),
        ("ttl_ms", Value::from(ttl_ms)),
    ])
    .to_string()
}

/// The `finish` call after a start: releases the record when the outcome proves
/// nothing started, else keeps `reply` as the record's answer.
pub fn finish(record: &str, fingerprint: &str, result: &StartResult, reply: &Reply) -> String {
    if result.evidence.proves_nothing_started() {
        return json_object([
            ("op", Value::from("finish")),
            ("record", Value::from(record)),
            ("fingerprint", Value::from(fingerprint)),
            ("release", Value::from(true)),
        ])
        .to_string();
    }
    let outcome = result
        .outcome
        .as_ref()
        .err()
        .map_or("ok", |e| e.code.as_str());
    let retry_after = reply
        .headers
        .iter()
        .find(|(name, _)| *name == "retry-after")
        .map(|(_, v)| v.clone());
    json_object([
        ("op", Value::from("finish")),
        ("record", Value::from(record)),
        ("fingerprint", Value::from(fingerprint)),
        (
            "kept",
            json_object([
                ("outcome", Value::from(outcome)),
                ("evidence", Value::from(evidence_name(result.evidence))),
                ("status", Value::from(reply.status)),
                ("body", Value::from(reply.body.as_str())),
                ("retry_after", Value::from(retry_after)),
            ]),
        ),
    ])
    .to_string()
}

fn evidence_name(evidence: Evidence) -> &'static str {
    match evidence {
        Evidence::Started => "started",
        Evidence::Retryable => "retryable",
        Evidence::Refused => "refused",
        Evidence::MayHaveStarted => "may_have_started",
    }
}

fn evidence_of(name: &str) -> Option<Evidence> {
    [
        Evidence::Started,
        Evidence::Retryable,
        Evidence::Refused,
        Evidence::MayHaveStarted,
    ]
    .into_iter()
    .find(|e| evidence_name(*e) == name)
}

fn read_kept(value: &Value) -> Option<Kept> {
    Some(Kept {
        outcome: value.get("outcome")?.as_str()?.to_owned(),
        evidence: evidence_of(value.get("evidence")?.as_str()?)?,
        status: u16::try_from(value.get("status")?.as_u64()?).ok()?,
        body: value.get("body")?.as_str()?.to_owned(),
        retry_after: value
            .get("retry_after")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn kept_json(kept: &Kept) -> Value {
    json_object([
        ("outcome", Value::from(kept.outcome.as_str())),
        ("evidence", Value::from(evidence_name(kept.evidence))),
        ("status", Value::from(kept.status)),
        ("body", Value::from(kept.body.as_str())),
        ("retry_after", Value::from(kept.retry_after.as_deref())),
    ])
}

fn number(value: &Value, name: &str) -> Option<u64> {
    value.get(name)?.as_u64()
}

fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name)?.as_str()
}

/// Runs one call on the object: `stored` is its record (if any), `call` what the
/// worker sent, `now_ms` the object's clock (unix ms). A call it cannot read changes
/// nothing and answers an error, which the worker reads as "ledger unavailable".
pub fn apply(stored: Option<&str>, call: &str, now_ms: u64) -> Applied {
    let refuse = |why: &str| Applied {
        write: Write::Nothing,
        answer: json_object([("error", Value::from(why))]).to_string(),
    };
    let Ok(call) = json::parse(call.as_bytes()) else {
        return refuse("the call is not JSON");
    };
    let Some(fingerprint) = text(&call, "fingerprint") else {
        return refuse("the call has no fingerprint");
    };
    if text(&call, "record").is_none() {
        return refuse("the call names no record");
    }
    // A record past its time to live, or one that cannot be read, counts as absent.
    let record = stored
        .and_then(|s| json::parse(s.as_bytes()).ok())
        .filter(|r| number(r, "expires_at").is_some_and(|at| now_ms < at));
    match text(&call, "op") {
        Some("begin") => {
            let (Some(deadline_ms), Some(ttl_ms)) =
                (number(&call, "deadline_ms"), number(&call, "ttl_ms"))
            else {
                return refuse("a begin needs deadline_ms and ttl_ms");
            };
            apply_begin(record.as_ref(), fingerprint, deadline_ms, ttl_ms, now_ms)
        }
        Some("finish") => apply_finish(record.as_ref(), fingerprint, &call),
        _ => refuse("unknown op"),
    }
}

fn answer(decision: &str, extra: Value) -> String {
    let mut value = json_object([("decision", Value::from(decision))]);
    if let (Some(map), Value::Object(more)) = (value.as_object_mut(), extra) {
        map.extend(more);
    }
    value.to_string()
}

fn apply_begin(
    record: Option<&Value>,
    fingerprint: &str,
    deadline_ms: u64,
    ttl_ms: u64,
    now_ms: u64,
) -> Applied {
    let Some(record) = record else {
        let until = now_ms
            .saturating_add(deadline_ms)
            .saturating_add(WRITE_GRACE_MS);
        let expires_at_ms = now_ms.saturating_add(ttl_ms).max(until);
        let pending = json_object([
            ("state", Value::from("pending")),
            ("fingerprint", Value::from(fingerprint)),
            ("started_at", Value::from(now_ms)),
            ("until", Value::from(until)),
            ("expires_at", Value::from(expires_at_ms)),
        ]);
        return Applied {
            write: Write::Put {
                record: pending.to_string(),
                expires_at_ms,
            },
            answer: answer("proceed", Value::Null),
        };
    };
    let nothing = |answer| Applied {
        write: Write::Nothing,
        answer,
    };
    if text(record, "fingerprint") != Some(fingerprint) {
        return nothing(answer("reused", Value::Null));
    }
    let started_at = number(record, "started_at").unwrap_or(0);
    match text(record, "state") {
        Some("done") => match record.get("kept").and_then(read_kept) {
            Some(kept) => nothing(answer(
                "replay",
                json_object([
                    ("started_at", Value::from(started_at)),
                    ("kept", kept_json(&kept)),
                ]),
            )),
            // A done record that cannot be read: what happened is unknown.
            None => nothing(answer(
                "outcome_unknown",
                json_object([("started_at", Value::from(started_at))]),
            )),
        },
        _ => {
            let until = number(record, "until").unwrap_or(0);
            if now_ms < until {
                let secs = (until - now_ms).div_ceil(1000).max(1);
                nothing(answer(
                    "in_progress",
                    json_object([
                        ("started_at", Value::from(started_at)),
                        ("retry_after_secs", Value::from(secs)),
                    ]),
                ))
            } else {
                nothing(answer(
                    "outcome_unknown",
                    json_object([("started_at", Value::from(started_at))]),
                ))
            }
        }
    }
}

fn apply_finish(record: Option<&Value>, fingerprint: &str, call: &Value) -> Applied {
    let done = answer("finished", Value::Null);
    // Only the pending record of this request is finished; a record that is another
    // request's (the first expired and a new one began) is left alone.
    let Some(record) = record.filter(|r| {
        text(r, "fingerprint") == Some(fingerprint) && text(r, "state") == Some("pending")
    }) else {
        return Applied {
            write: Write::Nothing,
            answer: done,
        };
    };
    if call.get("release").and_then(Value::as_bool) == Some(true) {
        return Applied {
            write: Write::Delete,
            answer: done,
        };
    }
    let Some(kept) = call.get("kept").and_then(read_kept) else {
        return Applied {
            write: Write::Nothing,
            answer: json_object([("error", Value::from("a finish needs release or kept"))])
                .to_string(),
        };
    };
    let expires_at_ms = number(record, "expires_at").unwrap_or(0);
    let record = json_object([
        ("state", Value::from("done")),
        ("fingerprint", Value::from(fingerprint)),
        (
            "started_at",
            Value::from(number(record, "started_at").unwrap_or(0)),
        ),
        ("expires_at", Value::from(expires_at_ms)),
        ("kept", kept_json(&kept)),
    ]);
    Applied {
        write: Write::Put {
            record: record.to_string(),
            expires_at_ms,
        },
        answer: done,
    }
}

/// Reads the object's answer to a `begin`; anything unreadable is
/// [`unavailable`], so nothing starts on a garbled answer.
pub fn read_begin(answer: &str) -> Result<Begin, TriggerError> {
    let value = json::parse(answer.as_bytes()).map_err(|_| unavailable())?;
    let started_at_ms = number(&value, "started_at").unwrap_or(0);
    match text(&value, "decision") {
        Some("proceed") => Ok(Begin::Proceed),
        Some("reused") => Ok(Begin::Reused),
        Some("in_progress") => Ok(Begin::InProgress {
            started_at_ms,
            retry_after_secs: number(&value, "retry_after_secs").unwrap_or(1).max(1),
        }),
        Some("outcome_unknown") => Ok(Begin::OutcomeUnknown { started_at_ms }),
        Some("replay") => {
            let kept = value
                .get("kept")
                .and_then(read_kept)
                .ok_or_else(unavailable)?;
            Ok(Begin::Replay {
                started_at_ms,
                kept,
            })
        }
        _ => Err(unavailable()),
    }
}

/// Whether the object's answer to a `finish` says it was recorded.
pub fn read_finish(answer: &str) -> bool {
    json::parse(answer.as_bytes())
        .ok()
        .is_some_and(|v| text(&v, "decision") == Some("finished"))
}

/// The record of one cron job of one event: the event is (cron, scheduled time),
/// since a redelivery is the same event, and the job is its position and what it
/// sends, so an edited job is a new record. The request's authorization is not part
/// of it.
pub fn cron_job_record(
    cron: &str,
    scheduled_ms: i64,
    index: usize,
    sends: &UpstreamRequest,
) -> String {
    format!(
        "cron\n{cron}\n{scheduled_ms}\n{index}\n{}",
        cron_job_fingerprint(sends)
    )
}

/// What a cron job sends, as the fingerprint of its record.
pub fn cron_job_fingerprint(sends: &UpstreamRequest) -> String {
    format!(
        "{} {}\n{}",
        sends.method,
        sends.url,
        sends.body.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream_answer::Accepted;

    const F: &str = r#"{"import_id":"i"}"#;
    const DEADLINE: u64 = 25_000;
    const TTL: u64 = 86_400_000;

    /// Runs calls against one object's storage, as the shell does.
    struct Object {
        stored: Option<String>,
    }

    impl Object {
        fn call(&mut self, call: &str, now: u64) -> String {
            let applied = apply(self.stored.as_deref(), call, now);
            match applied.write {
                Write::Nothing => {}
                Write::Put { record, .. } => self.stored = Some(record),
                Write::Delete => self.stored = None,
            }
            applied.answer
        }
        fn begin(&mut self, fingerprint: &str, now: u64) -> Begin {
            read_begin(&self.call(&begin("r", fingerprint, DEADLINE, TTL), now)).unwrap()
        }
    }

    fn result(outcome: Result<u16, (ErrorCode, u16)>, evidence: Evidence) -> StartResult {
        StartResult {
            outcome: outcome
                .map(|status| Accepted { status })
                .map_err(|(code, status)| {
                    let mut e = TriggerError::new(code, "x");
                    e.upstream_status = Some(status);
                    e
                }),
            attempts: 1,
            attempts_ms: 5,
            evidence,
        }
    }

    fn reply(status: u16) -> Reply {
        Reply::json(status, &json_object([("ok", Value::from(status == 200))]))
    }

    #[test]
    fn absent_begins_pending_then_done_replays() {
        let mut o = Object { stored: None };
        assert_eq!(o.begin(F, 1_000), Begin::Proceed);
        let ok = result(Ok(200), Evidence::Started);
        assert!(read_finish(
            &o.call(&finish("r", F, &ok, &reply(200)), 1_200)
        ));
        let Begin::Replay {
            started_at_ms,
            kept,
        } = o.begin(F, 5_000)
        else {
            panic!("a done record replays")
        };
        assert_eq!(started_at_ms, 1_000);
        assert_eq!(
            (kept.outcome.as_str(), kept.status, kept.evidence),
            ("ok", 200, Evidence::Started)
        );
        assert_eq!(kept.body, r#"{"ok":true}"#);
    }

    #[test]
    fn another_fingerprint_is_reused_whatever_the_state() {
        let mut o = Object { stored: None };
        o.begin(F, 0);
        assert_eq!(o.begin("other", 1), Begin::Reused);
        o.call(
            &finish("r", F, &result(Ok(200), Evidence::Started), &reply(200)),
            2,
        );
        assert_eq!(o.begin("other", 3), Begin::Reused);
    }

    #[test]
    fn pending_is_in_progress_until_deadline_and_grace_then_unknown() {
        let mut o = Object { stored: None };
        o.begin(F, 10_000);
        assert_eq!(
            o.begin(F, 10_001),
            Begin::InProgress {
                started_at_ms: 10_000,
                retry_after_secs: 28
            }
        );
        let until = 10_000 + DEADLINE + WRITE_GRACE_MS;
        assert_eq!(
            o.begin(F, until - 1),
            Begin::InProgress {
                started_at_ms: 10_000,
                retry_after_secs: 1
            }
        );
        assert_eq!(
            o.begin(F, until),
            Begin::OutcomeUnknown {
                started_at_ms: 10_000
            }
        );
        // Never started again while the record lives, never in progress for ever.
        assert_eq!(
            o.begin(F, until + TTL / 2),
            Begin::OutcomeUnknown {
                started_at_ms: 10_000
            }
        );
    }

    #[test]
    fn a_record_past_its_ttl_is_absent() {
        let mut o = Object { stored: None };
        o.begin(F, 0);
        o.call(
            &finish("r", F, &result(Ok(200), Evidence::Started), &reply(200)),
            1,
        );
        assert!(matches!(o.begin(F, TTL - 1), Begin::Replay { .. }));
        assert_eq!(o.begin(F, TTL), Begin::Proceed);
        // Another request may take an expired key too.
        let mut o = Object { stored: None };
        o.begin(F, 0);
        assert_eq!(o.begin("other", TTL), Begin::Proceed);
    }

    #[test]
    fn outcomes_that_prove_nothing_started_release_the_key() {
        for (outcome, evidence) in [
            (
                Err((ErrorCode::UpstreamRateLimited, 429)),
                Evidence::Retryable,
            ),
            (Err((ErrorCode::UpstreamError, 503)), Evidence::Retryable),
            (Err((ErrorCode::ImportNotFound, 404)), Evidence::Refused),
            (Err((ErrorCode::UpstreamAuthFailed, 401)), Evidence::Refused),
        ] {
            let mut o = Object { stored: None };
            o.begin(F, 0);
            o.call(&finish("r", F, &result(outcome, evidence), &reply(503)), 10);
            assert_eq!(o.stored, None, "{evidence:?}");
            assert_eq!(o.begin(F, 20), Begin::Proceed);
        }
    }

    #[test]
    fn ambiguous_outcomes_are_kept_and_replayed() {
        for (outcome, evidence) in [
            (
                Err((ErrorCode::UpstreamError, 500)),
                Evidence::MayHaveStarted,
            ),
            (
                Err((ErrorCode::UpstreamError, 302)),
                Evidence::MayHaveStarted,
            ),
            (
                Err((ErrorCode::UpstreamUnreachable, 0)),
                Evidence::MayHaveStarted,
            ),
        ] {
            let mut o = Object { stored: None };
            o.begin(F, 0);
            o.call(&finish("r", F, &result(outcome, evidence), &reply(502)), 10);
            let Begin::Replay { kept, .. } = o.begin(F, 20) else {
                panic!("kept")
            };
            assert_eq!(kept.evidence, Evidence::MayHaveStarted);
            assert_eq!(kept.status, 502);
        }
    }

    #[test]
    fn finish_touches_only_its_own_pending_record() {
        let mut o = Object { stored: None };
        o.begin(F, 0);
        o.call(
            &finish("r", F, &result(Ok(200), Evidence::Started), &reply(200)),
            1,
        );
        let done = o.stored.clone();
        // A second finish (or one of another request) changes nothing.
        o.call(
            &finish(
                "r",
                F,
                &result(Err((ErrorCode::UpstreamError, 429)), Evidence::Retryable),
                &reply(503),
            ),
            2,
        );
        o.call(
            &finish(
                "r",
                "other",
                &result(Err((ErrorCode::UpstreamError, 429)), Evidence::Retryable),
                &reply(503),
            ),
            3,
        );
        assert_eq!(o.stored, done);
        // A finish with no record (expired) writes nothing.
        let mut empty = Object { stored: None };
        empty.call(
            &finish("r", F, &result(Ok(200), Evidence::Started), &reply(200)),
            1,
        );
        assert_eq!(empty.stored, None);
    }

    #[test]
    fn the_retry_after_of_the_answer_is_kept() {
        let mut o = Object { stored: None };
        o.begin(F, 0);
        let mut r = reply(502);
        r.headers.push(("retry-after", "7".into()));
        o.call(
            &finish(
                "r",
                F,
                &result(
                    Err((ErrorCode::UpstreamError, 500)),
                    Evidence::MayHaveStarted,
                ),
                &r,
            ),
            1,
        );
        let Begin::Replay { kept, .. } = o.begin(F, 2) else {
            panic!("kept")
        };
        assert_eq!(kept.retry_after.as_deref(), Some("7"));
    }

    #[test]
    fn garbage_changes_nothing_and_reads_as_unavailable() {
        for call in [
            "",
            "{",
            "[]",
            r#"{"op":"begin"}"#,
            r#"{"op":"x","fingerprint":"f"}"#,
            r#"{"op":"begin","fingerprint":"f"}"#,
            r#"{"op":"finish","fingerprint":"f"}"#,
        ] {
            let mut o = Object { stored: None };
            if call.contains("finish") {
                o.begin("f", 0);
            }
            let before = o.stored.clone();
            let answer = o.call(call, 1);
            assert_eq!(o.stored, before, "{call}");
            assert_eq!(
                read_begin(&answer).unwrap_err().code,
                ErrorCode::LedgerUnavailable,
                "{call}"
            );
        }
        // A stored record that cannot be read counts as absent.
        assert_eq!(
            read_begin(&apply(Some("garbage"), &begin("r", F, 1, 60_000), 5).answer),
            Ok(Begin::Proceed)
        );
        assert_eq!(unavailable().code.http_status(), 503);
    }

    #[test]
    fn calls_name_their_record_and_records_are_independent() {
        assert_eq!(record_of(&begin("k1", F, 1, 2)).as_deref(), Some("k1"));
        assert_eq!(record_of("{}"), None);
        assert_eq!(record_of("nonsense"), None);
        let mut o = Object { stored: None };
        o.begin(F, 0);
        // Another record of the same object: the shell reads it by name, so it starts
        // with nothing stored.
        let other = apply(None, &begin("k2", F, DEADLINE, TTL), 1);
        assert_eq!(read_begin(&other.answer), Ok(Begin::Proceed));
        assert!(object_name("https://a\np\n").starts_with("ledger\n"));
        assert_ne!(object_name("https://a\np\n"), object_name("https://a\nq\n"));
    }

    #[test]
    fn a_pending_record_outlives_its_deadline_even_with_a_short_ttl() {
        let applied = apply(None, &begin("r", F, 600_000, 60_000), 0);
        let Write::Put { expires_at_ms, .. } = applied.write else {
            panic!("a begin writes a pending record")
        };
        assert_eq!(expires_at_ms, 600_000 + WRITE_GRACE_MS);
    }
}
