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
//!   **in progress** with the seconds left, or **accepted** with the start's entry id
//!   when it was begun by a start accepted with `Prefer: respond-async`
//!   ([`begin_accepted`]);
//! - *pending* past that: the worker that held it stopped mid-start, so the start may
//!   or may not have reached Bloomreach; a `begin` answers **outcome unknown**, and
//!   nothing is started again until the record expires, its time to live counted from
//!   that moment, so it is read as unknown for as long as any record is kept;
//! - *done*, with the answer that was given: a `begin` answers **replay**;
//! - a `finish` whose outcome proves nothing started deletes the record (released), so
//!   a later `begin` proceeds; any other outcome makes it *done*, expiring when the
//!   pending record would have.
//!
//! A `begin` with another fingerprint than the record's answers **reused**. Time is
//! passed in; nothing here reads a clock. Calls, records and answers are JSON objects
//! (the types below); the field names are those of earlier versions, so records
//! stored before a deploy are read after it.

use crate::attempts::{Evidence, StartResult};
use crate::error::{ErrorCode, TriggerError};
use crate::history::Written;
use crate::json_text::to_text;
use crate::reply::Reply;
use crate::upstream_request::UpstreamRequest;
use serde::{Deserialize, Deserializer, Serialize};

/// The Durable Object binding of the worker.
pub use crate::setting_names::START_LEDGER as BINDING;

/// Time allowed past a start's deadline for its record to be written, so a start that
/// ends just at its deadline is not taken for a stopped one.
pub const WRITE_GRACE_MS: u64 = 3_000;

/// What a finished start leaves in its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// A start accepted with `Prefer: respond-async` at `started_at_ms` is under way:
    /// its `202` names `start_id`.
    Accepted {
        started_at_ms: u64,
        start_id: String,
    },
    /// A start began at `started_at_ms` and its outcome was never recorded.
    OutcomeUnknown { started_at_ms: u64 },
    /// A cron job that began at `started_at_ms` was pushed back and is held: the ledger
    /// object tries it again ([`crate::hold`]); a redelivery does not start it.
    Held { started_at_ms: u64 },
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

/// A call of the worker on the object.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Call {
    Begin {
        record: String,
        fingerprint: String,
        deadline_ms: u64,
        ttl_ms: u64,
        /// The start's history entry, written by the object with the decision
        /// ([`crate::store`]); [`apply`] ignores it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        history: Option<Written>,
        /// The entry id of a start accepted with `Prefer: respond-async`, kept in the
        /// pending record so a repeat is answered with the same `202`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        accepted: Option<String>,
    },
    /// Either `release` (the outcome proves nothing started) or `kept`.
    Finish {
        record: String,
        fingerprint: String,
        #[serde(default, skip_serializing_if = "is_false")]
        release: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept: Option<Kept>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        history: Option<Written>,
    },
    /// A pending record whose start is held ([`crate::hold`]), or whose held try's
    /// outcome was never written: it turns "outcome unknown" at `until` (until then
    /// a repeat is answered as before, the same `202` for an accepted start).
    Hold {
        record: String,
        fingerprint: String,
        until: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        history: Option<Written>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held: Option<crate::hold::HeldStart>,
    },
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// A stored record.
#[derive(Serialize, Deserialize)]
struct Record {
    state: State,
    fingerprint: String,
    #[serde(default)]
    started_at: u64,
    /// When a pending record turns "outcome unknown".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<u64>,
    expires_at: u64,
    /// A done record's answer; `None` when it cannot be read, and then what happened
    /// is unknown (the record is never taken for absent).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "readable_kept"
    )]
    kept: Option<Kept>,
    /// A pending record of an accepted start: its entry's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accepted: Option<String>,
    /// A pending record of a held start.
    #[serde(default, skip_serializing_if = "is_false")]
    held: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    Pending,
    Done,
}

fn readable_kept<'de, D: Deserializer<'de>>(value: D) -> Result<Option<Kept>, D::Error> {
    let value = serde_json::Value::deserialize(value)?;
    Ok(Kept::deserialize(value).ok())
}

/// The object's answer to a call.
#[derive(Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
enum Decision {
    Proceed,
    Reused,
    InProgress {
        #[serde(default)]
        started_at: u64,
        #[serde(default = "one")]
        retry_after_secs: u64,
    },
    OutcomeUnknown {
        #[serde(default)]
        started_at: u64,
    },
    Accepted {
        #[serde(default)]
        started_at: u64,
        start_id: String,
    },
    Replay {
        #[serde(default)]
        started_at: u64,
        kept: Kept,
    },
    Held {
        #[serde(default)]
        started_at: u64,
    },
    /// The answer to every `finish` the object could read.
    Finished,
}

fn one() -> u64 {
    1
}

/// The object's answer to a call it cannot read.
#[derive(Serialize)]
struct Refused<'a> {
    error: &'a str,
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
    #[derive(Deserialize)]
    struct Named {
        record: String,
    }
    serde_json::from_str::<Named>(call).ok().map(|c| c.record)
}

/// When a pending record written at `now_ms` for a start of at most `deadline_ms`
/// turns "outcome unknown" (and so does its history entry).
pub fn unknown_at(now_ms: u64, deadline_ms: u64) -> u64 {
    now_ms
        .saturating_add(deadline_ms)
        .saturating_add(WRITE_GRACE_MS)
}

/// The `begin` call on `record` for a start of at most `deadline_ms`, the record kept
/// `ttl_ms`; with the start's history entry when it has one.
pub fn begin(
    record: &str,
    fingerprint: &str,
    deadline_ms: u64,
    ttl_ms: u64,
    history: Option<Written>,
) -> String {
    to_text(&Call::Begin {
        record: record.to_owned(),
        fingerprint: fingerprint.to_owned(),
        deadline_ms,
        ttl_ms,
        history,
        accepted: None,
    })
}

/// The `begin` call of a start accepted with `Prefer: respond-async`: as [`begin`],
/// its entry written in progress, and its id kept in the pending record, so a repeat
/// while it runs is answered [`Begin::Accepted`] with that id.
pub fn begin_accepted(
    record: &str,
    fingerprint: &str,
    deadline_ms: u64,
    ttl_ms: u64,
    history: Written,
) -> String {
    let accepted = Some(history.entry.id.clone());
    to_text(&Call::Begin {
        record: record.to_owned(),
        fingerprint: fingerprint.to_owned(),
        deadline_ms,
        ttl_ms,
        history: Some(history),
        accepted,
    })
}

/// The `finish` call after a start: releases the record when the outcome proves
/// nothing started, else keeps `reply` as the record's answer; with the start's
/// ended history entry when it has one.
pub fn finish(
    record: &str,
    fingerprint: &str,
    result: &StartResult,
    reply: &Reply,
    history: Option<Written>,
) -> String {
    let release = result.evidence.proves_nothing_started();
    let kept = (!release).then(|| Kept {
        outcome: result
            .outcome
            .as_ref()
            .err()
            .map_or("ok", |e| e.code.as_str())
            .to_owned(),
        evidence: result.evidence,
        status: reply.status,
        body: reply.body.clone(),
        retry_after: reply
            .headers
            .iter()
            .find(|(name, _)| *name == "retry-after")
            .map(|(_, v)| v.clone()),
    });
    to_text(&Call::Finish {
        record: record.to_owned(),
        fingerprint: fingerprint.to_owned(),
        release,
        kept,
        history,
    })
}

/// Runs one call on the object: `stored` is its record (if any), `call` what the
/// worker sent, `now_ms` the object's clock (unix ms). A call it cannot read changes
/// nothing and answers an error, which the worker reads as "ledger unavailable".
pub fn apply(stored: Option<&str>, call: &str, now_ms: u64) -> Applied {
    let call: Call = match serde_json::from_str(call) {
        Ok(call) => call,
        Err(e) => {
            return Applied {
                write: Write::Nothing,
                answer: to_text(&Refused {
                    error: &format!("the call cannot be read: {e}"),
                }),
            }
        }
    };
    // A record past its time to live, or one that cannot be read, counts as absent.
    let record = stored
        .and_then(|s| serde_json::from_str::<Record>(s).ok())
        .filter(|r| now_ms < r.expires_at);
    match call {
        Call::Begin {
            fingerprint,
            deadline_ms,
            ttl_ms,
            accepted,
            ..
        } => apply_begin(record, (fingerprint, accepted), deadline_ms, ttl_ms, now_ms),
        Call::Finish {
            fingerprint,
            release,
            kept,
            ..
        } => apply_finish(record, &fingerprint, release, kept),
        Call::Hold {
            fingerprint,
            until,
            held,
            ..
        } => apply_hold(record, &fingerprint, until, held.is_some()),
    }
}

/// The `hold` call: the pending record of a held start (`held`, with its entry as
/// it now reads, `history`) turns "outcome unknown" only at `until`.
pub fn hold(
    record: &str,
    fingerprint: &str,
    until: u64,
    history: Option<Written>,
    held: Option<crate::hold::HeldStart>,
) -> String {
    to_text(&Call::Hold {
        record: record.to_owned(),
        fingerprint: fingerprint.to_owned(),
        until,
        history,
        held,
    })
}

fn apply_hold(record: Option<Record>, fingerprint: &str, until: u64, held: bool) -> Applied {
    let Some(record) = record.filter(|r| r.fingerprint == fingerprint && r.state == State::Pending)
    else {
        return nothing(&Decision::Finished);
    };
    // Kept as long past `until` as it was past its first one.
    let ttl = record
        .expires_at
        .saturating_sub(record.until.unwrap_or(record.expires_at));
    let expires_at_ms = record.expires_at.max(until.saturating_add(ttl));
    let updated = Record {
        until: Some(until),
        expires_at: expires_at_ms,
        held,
        ..record
    };
    Applied {
        write: Write::Put {
            record: to_text(&updated),
            expires_at_ms,
        },
        answer: to_text(&Decision::Finished),
    }
}

fn nothing(decision: &Decision) -> Applied {
    Applied {
        write: Write::Nothing,
        answer: to_text(decision),
    }
}

fn apply_begin(
    record: Option<Record>,
    (fingerprint, accepted): (String, Option<String>),
    deadline_ms: u64,
    ttl_ms: u64,
    now_ms: u64,
) -> Applied {
    let Some(record) = record else {
        let until = unknown_at(now_ms, deadline_ms);
        // Counted from `until`, when the record turns "outcome unknown": one expiring
        // sooner would then be taken for absent, and a redelivered event would start
        // the job again.
        let expires_at_ms = until.saturating_add(ttl_ms);
        let pending = Record {
            state: State::Pending,
            fingerprint,
            started_at: now_ms,
            until: Some(until),
            expires_at: expires_at_ms,
            kept: None,
            accepted,
            held: false,
        };
        return Applied {
            write: Write::Put {
                record: to_text(&pending),
                expires_at_ms,
            },
            answer: to_text(&Decision::Proceed),
        };
    };
    if record.fingerprint != fingerprint {
        return nothing(&Decision::Reused);
    }
    let started_at = record.started_at;
    let until = record.until.unwrap_or(0);
    nothing(&match (record.state, record.kept) {
        (State::Done, Some(kept)) => Decision::Replay { started_at, kept },
        // A done record that cannot be read: what happened is unknown.
        (State::Done, None) => Decision::OutcomeUnknown { started_at },
        (State::Pending, _) if now_ms < until => match record.accepted {
            // An accepted start: a repeat gets its `202` again.
            Some(start_id) => Decision::Accepted {
                started_at,
                start_id,
            },
            None if record.held => Decision::Held { started_at },
            None => Decision::InProgress {
                started_at,
                retry_after_secs: (until - now_ms).div_ceil(1000).max(1),
            },
        },
        (State::Pending, _) => Decision::OutcomeUnknown { started_at },
    })
}

fn apply_finish(
    record: Option<Record>,
    fingerprint: &str,
    release: bool,
    kept: Option<Kept>,
) -> Applied {
    // Only the pending record of this request is finished; a record that is another
    // request's (the first expired and a new one began) is left alone.
    let Some(record) = record.filter(|r| r.fingerprint == fingerprint && r.state == State::Pending)
    else {
        return nothing(&Decision::Finished);
    };
    if release {
        return Applied {
            write: Write::Delete,
            answer: to_text(&Decision::Finished),
        };
    }
    let Some(kept) = kept else {
        return Applied {
            write: Write::Nothing,
            answer: to_text(&Refused {
                error: "a finish needs release or kept",
            }),
        };
    };
    let expires_at_ms = record.expires_at;
    let done = Record {
        state: State::Done,
        until: None,
        kept: Some(kept),
        accepted: None,
        held: false,
        ..record
    };
    Applied {
        write: Write::Put {
            record: to_text(&done),
            expires_at_ms,
        },
        answer: to_text(&Decision::Finished),
    }
}

/// Reads the object's answer to a `begin`; anything unreadable is
/// [`unavailable`], so nothing starts on a garbled answer.
pub fn read_begin(answer: &str) -> Result<Begin, TriggerError> {
    match serde_json::from_str::<Decision>(answer).map_err(|_| unavailable())? {
        Decision::Proceed => Ok(Begin::Proceed),
        Decision::Reused => Ok(Begin::Reused),
        Decision::InProgress {
            started_at,
            retry_after_secs,
        } => Ok(Begin::InProgress {
            started_at_ms: started_at,
            retry_after_secs: retry_after_secs.max(1),
        }),
        Decision::OutcomeUnknown { started_at } => Ok(Begin::OutcomeUnknown {
            started_at_ms: started_at,
        }),
        Decision::Accepted {
            started_at,
            start_id,
        } => Ok(Begin::Accepted {
            started_at_ms: started_at,
            start_id,
        }),
        Decision::Replay { started_at, kept } => Ok(Begin::Replay {
            started_at_ms: started_at,
            kept,
        }),
        Decision::Held { started_at } => Ok(Begin::Held {
            started_at_ms: started_at,
        }),
        Decision::Finished => Err(unavailable()),
    }
}

/// Whether the object's answer to a `finish` says it was recorded.
pub fn read_finish(answer: &str) -> bool {
    matches!(
        serde_json::from_str::<Decision>(answer),
        Ok(Decision::Finished)
    )
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

    /// The calls without a history entry (the ledger ignores it).
    fn begin(record: &str, fingerprint: &str, deadline_ms: u64, ttl_ms: u64) -> String {
        super::begin(record, fingerprint, deadline_ms, ttl_ms, None)
    }

    fn finish(record: &str, fingerprint: &str, result: &StartResult, reply: &Reply) -> String {
        super::finish(record, fingerprint, result, reply, None)
    }
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
        Reply::json(status, &serde_json::json!({"ok": status == 200}))
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

    fn held_start() -> crate::hold::HeldStart {
        serde_json::from_value(serde_json::json!({
            "id": "e", "record": "r", "fingerprint": F, "import_id": "i", "api": "data-v1",
            "cause": "cron:0 3 * * *", "began_ms": 0, "give_up_ms": 10, "tries": 1,
            "attempts": 1, "next_ms": 5
        }))
        .unwrap()
    }

    #[test]
    fn a_held_record_answers_its_202_until_then_reads_unknown() {
        let mut o = Object { stored: None };
        let accepted = |o: &mut Object, now| {
            read_begin(&o.call(
                &begin_accepted("r", F, DEADLINE, TTL, crate::test_support::written("e1")),
                now,
            ))
            .unwrap()
        };
        assert_eq!(accepted(&mut o, 0), Begin::Proceed);
        let until = 1_000_000;
        assert!(read_finish(
            &o.call(&hold("r", F, until, None, None), 20_000)
        ));
        // Past the start's own deadline, still the same 202.
        assert!(
            matches!(accepted(&mut o, until - 1), Begin::Accepted { start_id, .. } if start_id == "e1")
        );
        assert_eq!(
            accepted(&mut o, until),
            Begin::OutcomeUnknown { started_at_ms: 0 }
        );
        assert!(matches!(
            accepted(&mut o, until + TTL - 1),
            Begin::OutcomeUnknown { .. }
        ));
        // Another request's record, or a done one, is left alone.
        let before = o.stored.clone();
        o.call(&hold("r", "other", 5, None, None), until + 1);
        assert_eq!(o.stored, before);
        // A held cron job's record (no 202 to give) answers "held" until then.
        let mut c = Object { stored: None };
        assert_eq!(c.begin(F, 0), Begin::Proceed);
        c.call(&hold("r", F, until, None, Some(held_start())), 1);
        assert_eq!(c.begin(F, until - 1), Begin::Held { started_at_ms: 0 });
        assert!(matches!(c.begin(F, until), Begin::OutcomeUnknown { .. }));
        // A held try cut off: the record reads unknown from now.
        let mut o = Object { stored: None };
        accepted(&mut o, 0);
        o.call(&hold("r", F, 500, None, None), 400);
        assert!(matches!(
            accepted(&mut o, 500),
            Begin::OutcomeUnknown { .. }
        ));
        // Released once the held start gives up: a repeat starts anew.
        o.call(
            &finish(
                "r",
                F,
                &result(
                    Err((ErrorCode::UpstreamRateLimited, 429)),
                    Evidence::Retryable,
                ),
                &reply(503),
            ),
            600,
        );
        assert_eq!(accepted(&mut o, 700), Begin::Proceed);
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
        // Kept for the time to live counted from the start's deadline plus the grace.
        let expiry = DEADLINE + WRITE_GRACE_MS + TTL;
        let mut o = Object { stored: None };
        o.begin(F, 0);
        o.call(
            &finish("r", F, &result(Ok(200), Evidence::Started), &reply(200)),
            1,
        );
        assert!(matches!(o.begin(F, expiry - 1), Begin::Replay { .. }));
        assert_eq!(o.begin(F, expiry), Begin::Proceed);
        // Another request may take an expired key too.
        let mut o = Object { stored: None };
        o.begin(F, 0);
        assert_eq!(
            o.begin("other", expiry - 1),
            Begin::Reused,
            "not yet expired"
        );
        assert_eq!(o.begin("other", expiry), Begin::Proceed);
    }

    #[test]
    fn a_pending_record_reads_as_unknown_before_it_expires_however_short_the_ttl() {
        // A time to live barely longer than the deadline (as the settings allow): the
        // record once expired exactly when it turned "outcome unknown", so a
        // redelivered cron event found no record and started the job again.
        for ttl in [DEADLINE + 1, DEADLINE + WRITE_GRACE_MS, DEADLINE + 60_000] {
            let mut o = Object { stored: None };
            let call = |fingerprint| begin("r", fingerprint, DEADLINE, ttl);
            let begin_at = |o: &mut Object, now| read_begin(&o.call(&call(F), now)).unwrap();
            assert_eq!(begin_at(&mut o, 0), Begin::Proceed);
            let until = DEADLINE + WRITE_GRACE_MS;
            for now in [until, until + 1, until + ttl - 1] {
                assert_eq!(
                    begin_at(&mut o, now),
                    Begin::OutcomeUnknown { started_at_ms: 0 },
                    "ttl {ttl}, at {now}"
                );
            }
            assert_eq!(begin_at(&mut o, until + ttl), Begin::Proceed, "ttl {ttl}");
        }
    }

    #[test]
    fn records_stored_by_the_previous_version_are_read() {
        // Written with sorted keys by the hand-written JSON of earlier versions.
        let pending = r#"{"expires_at":86428000,"fingerprint":"f","started_at":1000,"state":"pending","until":29000}"#;
        assert_eq!(
            read_begin(&apply(Some(pending), &begin("r", "f", DEADLINE, TTL), 2_000).answer),
            Ok(Begin::InProgress {
                started_at_ms: 1000,
                retry_after_secs: 27
            })
        );
        let done = r#"{"expires_at":86428000,"fingerprint":"f","kept":{"body":"{\"ok\":true}","evidence":"started","outcome":"ok","retry_after":null,"status":200},"started_at":1000,"state":"done"}"#;
        let Ok(Begin::Replay { kept, .. }) =
            read_begin(&apply(Some(done), &begin("r", "f", DEADLINE, TTL), 2_000).answer)
        else {
            panic!("a replay")
        };
        assert_eq!((kept.status, kept.body.as_str()), (200, r#"{"ok":true}"#));
        // A done record whose answer cannot be read is unknown, never absent.
        let garbled = done.replace(r#""status":200"#, r#""status":"x""#);
        assert_eq!(
            read_begin(&apply(Some(&garbled), &begin("r", "f", DEADLINE, TTL), 2_000).answer),
            Ok(Begin::OutcomeUnknown {
                started_at_ms: 1000
            })
        );
    }

    #[test]
    fn calls_records_and_answers_keep_their_field_names() {
        let v: serde_json::Value = serde_json::from_str(&begin("r", "f", 1, 2)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"op": "begin", "record": "r", "fingerprint": "f", "deadline_ms": 1, "ttl_ms": 2})
        );
        let applied = apply(None, &begin("r", "f", 1_000, 60_000), 5);
        let Write::Put { record, .. } = &applied.write else {
            panic!("a pending record")
        };
        let v: serde_json::Value = serde_json::from_str(record).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"state": "pending", "fingerprint": "f", "started_at": 5, "until": 4_005, "expires_at": 64_005})
        );
        assert_eq!(applied.answer, r#"{"decision":"proceed"}"#);
        let released = finish(
            "r",
            "f",
            &result(Err((ErrorCode::ImportNotFound, 404)), Evidence::Refused),
            &reply(404),
        );
        let v: serde_json::Value = serde_json::from_str(&released).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"op": "finish", "record": "r", "fingerprint": "f", "release": true})
        );
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
    fn an_accepted_start_is_answered_accepted_while_it_runs_then_as_any_other() {
        use crate::history::{Cause, Entry};
        let entry = Entry::begun("s-1".into(), 0, crate::ids::ApiKind::DataV1, Cause::Http);
        let written = Written {
            started_ms: 0,
            ended_ms: None,
            entry,
            skip_if_found: false,
        };
        let call = begin_accepted("r", F, DEADLINE, TTL, written);
        let v: serde_json::Value = serde_json::from_str(&call).unwrap();
        assert_eq!(v["accepted"], "s-1");
        assert_eq!(v["history"]["entry"]["id"], "s-1");
        let mut o = Object { stored: None };
        assert_eq!(read_begin(&o.call(&call, 0)), Ok(Begin::Proceed));
        let accepted = Begin::Accepted {
            started_at_ms: 0,
            start_id: "s-1".into(),
        };
        assert_eq!(o.begin(F, 1), accepted);
        assert_eq!(read_begin(&o.call(&call, 2)), Ok(accepted));
        assert_eq!(o.begin("other", 3), Begin::Reused);
        let until = DEADLINE + WRITE_GRACE_MS;
        assert_eq!(
            o.begin(F, until),
            Begin::OutcomeUnknown { started_at_ms: 0 },
            "a worker stopped mid-start leaves it unknown"
        );
        // Once ended, its kept answer is replayed; a release frees the record.
        let mut o = Object { stored: None };
        o.call(&call, 0);
        o.call(
            &finish("r", F, &result(Ok(200), Evidence::Started), &reply(200)),
            5,
        );
        assert!(matches!(o.begin(F, 6), Begin::Replay { .. }));
        let mut o = Object { stored: None };
        o.call(&call, 0);
        o.call(
            &finish(
                "r",
                F,
                &result(Err((ErrorCode::ImportNotFound, 404)), Evidence::Refused),
                &reply(404),
            ),
            5,
        );
        assert_eq!(o.begin(F, 6), Begin::Proceed);
    }

    #[test]
    fn a_pending_record_outlives_its_deadline_even_with_a_short_ttl() {
        let applied = apply(None, &begin("r", F, 600_000, 60_000), 0);
        let Write::Put { expires_at_ms, .. } = applied.write else {
            panic!("a begin writes a pending record")
        };
        assert_eq!(expires_at_ms, 600_000 + WRITE_GRACE_MS + 60_000);
    }
}
