//! Holding a start Bloomreach pushed back (docs/behaviour.md, "Holding"): a start
//! accepted with `Prefer: respond-async` whose outcome is still retryable (429, 503,
//! refused before sending) when its attempts or deadline run out is *held* in the
//! ledger object, which tries it again from its alarm until an outcome that is not
//! retryable, or until `HOLD_MAX_SECONDS` after the start began.
//!
//! Exactly once: a held start is tried again only after an outcome that proves
//! nothing started. Its row is *held* (with the time of its next try) or *trying*
//! (with the moment its try's outcome must be written by); only a held row whose time
//! has come is taken, and it is marked trying before anything is sent, so a repeated
//! or late alarm never sends a second try. A trying row past its time was cut off
//! mid-try (the object was reset): it ends as `upstream_outcome_unknown`, never sent
//! again. This module decides; [`crate::store`] runs the statements.

use crate::attempts::{Evidence, StartResult};
use crate::endpoint::{self, Prepared};
use crate::error::{ErrorCode, TriggerError};
use crate::ids::ApiKind;
use crate::json_text::to_text;
use crate::settings::Lookup;
use crate::upstream_request::StartRequest;
use serde::{Deserialize, Serialize};

/// The setting: the most seconds a start is held, counted from when it began.
pub use crate::setting_names::HOLD_MAX_SECONDS as SETTING;
/// `HOLD_MAX_SECONDS` when unset: six hours.
pub const DEFAULT_HOLD_MAX_SECONDS: u64 = 21_600;
/// Its largest value: a day.
pub const MAX_HOLD_MAX_SECONDS: u64 = 86_400;
/// The first wait when Bloomreach gave no `Retry-After`; it doubles with each try.
pub const FIRST_BACKOFF_MS: u64 = 30_000;
/// The longest wait between two tries.
pub const MAX_BACKOFF_MS: u64 = 900_000;
/// The most tries one alarm makes; the rest are due at once (the next alarm).
pub const TRIES_PER_ALARM: usize = 10;
/// A held row's states.
pub const HELD: &str = "held";
pub const TRYING: &str = "trying";

/// `HOLD_MAX_SECONDS` in milliseconds: a whole number from 1 to 86400 (a number or
/// numeric text), 21600 when unset; an error naming it when malformed.
pub fn max_ms(lookup: &dyn Lookup) -> Result<u64, TriggerError> {
    let secs = crate::settings::whole_number(
        lookup,
        SETTING,
        DEFAULT_HOLD_MAX_SECONDS,
        1..=MAX_HOLD_MAX_SECONDS,
    )?;
    Ok(secs * 1000)
}

/// A held start, as the ledger object keeps it: what it needs to build the request
/// again (never a credential: the object reads those from its own environment), its
/// ledger record and history entry, and its clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldStart {
    /// Its history entry's id.
    pub id: String,
    /// Its ledger record and the request's fingerprint.
    pub record: String,
    pub fingerprint: String,
    pub import_id: String,
    pub api: ApiKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_connection: Option<bool>,
    /// The log line's cause of the start (`http:<caller>`).
    pub cause: String,
    /// When the start began, and when no try may start any more.
    pub began_ms: u64,
    pub give_up_ms: u64,
    /// Tries made (the first, by the worker, included), and their attempts.
    pub tries: u32,
    pub attempts: u32,
    /// The last try's Bloomreach status (none: nothing could be sent) and message,
    /// for a start that gives up without another try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default)]
    pub last_message: String,
    /// When the next try is due.
    pub next_ms: u64,
}

#[derive(Serialize)]
struct Body<'a> {
    api: ApiKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_connection: Option<bool>,
}

/// What a start sent: enough to build its request again.
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    pub import_id: &'a str,
    pub api: ApiKind,
    pub path: Option<&'a str>,
    pub test_connection: Option<bool>,
}

impl<'a> Sent<'a> {
    pub fn of(start: &'a StartRequest) -> Sent<'a> {
        Sent {
            import_id: start.import_id.as_str(),
            api: start.api(),
            path: start.path.as_ref().map(|p| p.as_str()),
            test_connection: start.test_connection,
        }
    }
}

impl HeldStart {
    /// A start to hold after its first try ended with `result` at `now_ms`, when
    /// [`after_try`] says so; `None` when it is not to be held.
    pub fn after_first_try(
        start: Sent<'_>,
        (id, record, fingerprint): (&str, &str, &str),
        (cause, began_ms, max_ms): (&str, u64, u64),
        result: &StartResult,
        now_ms: u64,
    ) -> Option<HeldStart> {
        let give_up_ms = began_ms.saturating_add(max_ms);
        let AfterTry::HoldUntil(next_ms) = after_try(result, 1, now_ms, give_up_ms) else {
            return None;
        };
        let error = result.outcome.as_ref().err()?;
        Some(HeldStart {
            id: id.to_owned(),
            record: record.to_owned(),
            fingerprint: fingerprint.to_owned(),
            import_id: start.import_id.to_owned(),
            api: start.api,
            path: start.path.map(str::to_owned),
            test_connection: start.test_connection,
            cause: cause.to_owned(),
            began_ms,
            give_up_ms,
            tries: 1,
            attempts: result.attempts,
            last_status: error.upstream_status,
            last_message: error.message.clone(),
            next_ms,
        })
    }

    /// The start's request, built again from the settings as they are now (the
    /// credentials, the base, `ALLOWED_PATH_PREFIXES`, the retry limits); an error
    /// when they no longer allow it.
    pub fn prepare(&self, lookup: &dyn Lookup) -> Result<Prepared, TriggerError> {
        let body = to_text(&Body {
            api: self.api,
            path: self.path.as_deref(),
            test_connection: self.test_connection,
        });
        endpoint::prepare(&self.import_id, None, body.as_bytes(), lookup)
    }

    /// The log line's cause of a try: `held:<the start's cause>`.
    pub fn try_cause(&self) -> String {
        format!("held:{}", self.cause)
    }

    /// After a try that ended with `result` at `now_ms`, the start held again (`Some`,
    /// with its next time) or ended (`None`).
    pub fn after(&self, result: &StartResult, now_ms: u64) -> Option<HeldStart> {
        let tries = self.tries.saturating_add(1);
        let AfterTry::HoldUntil(next_ms) = after_try(result, tries, now_ms, self.give_up_ms) else {
            return None;
        };
        let error = result.outcome.as_ref().err()?;
        Some(HeldStart {
            tries,
            attempts: self.attempts.saturating_add(result.attempts),
            last_status: error.upstream_status,
            last_message: error.message.clone(),
            next_ms,
            ..self.clone()
        })
    }

    /// The outcome of a held start that gives up (its time ran out before another try
    /// could start): `upstream_rate_limited` when Bloomreach answered, else
    /// `upstream_unreachable` (nothing could be sent). Nothing started.
    pub fn given_up(&self, now_ms: u64) -> StartResult {
        let (code, what) = match self.last_status {
            Some(_) => (
                ErrorCode::UpstreamRateLimited,
                "Bloomreach still pushed back",
            ),
            None => (
                ErrorCode::UpstreamUnreachable,
                "Bloomreach could not be reached",
            ),
        };
        let mut error = TriggerError::new(
            code,
            format!(
                "{what} after {} tries over {} s; the start was held as long as HOLD_MAX_SECONDS allows and was not started",
                self.tries,
                now_ms.saturating_sub(self.began_ms) / 1000
            ),
        );
        error.upstream_status = self.last_status;
        StartResult {
            outcome: Err(error),
            attempts: self.attempts,
            attempts_ms: now_ms.saturating_sub(self.began_ms),
            evidence: Evidence::Retryable,
        }
    }

    /// The whole held start's result after a final try: its attempts counted over all
    /// tries, its time from when it began; a retryable outcome reads as a give-up.
    pub fn final_result(&self, result: &StartResult, now_ms: u64) -> StartResult {
        if result.evidence.is_retryable() {
            let ended = HeldStart {
                tries: self.tries.saturating_add(1),
                attempts: self.attempts.saturating_add(result.attempts),
                last_status: result
                    .outcome
                    .as_ref()
                    .err()
                    .and_then(|e| e.upstream_status),
                ..self.clone()
            };
            return ended.given_up(now_ms);
        }
        StartResult {
            attempts: self.attempts.saturating_add(result.attempts),
            attempts_ms: now_ms.saturating_sub(self.began_ms),
            ..result.clone()
        }
    }
}

/// The result of a try the settings no longer allow (a credential removed, a path
/// now outside `ALLOWED_PATH_PREFIXES`): nothing was sent, and trying again would be
/// refused again, so the start ends with that error.
pub fn not_tried(error: TriggerError) -> StartResult {
    StartResult {
        outcome: Err(error),
        attempts: 0,
        attempts_ms: 0,
        evidence: Evidence::Refused,
    }
}

/// What follows a try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterTry {
    /// Held: try again at this time (unix ms).
    HoldUntil(u64),
    /// The start is over.
    End,
}

/// The wait before the next try after try number `tries` (1 for the first):
/// Bloomreach's `Retry-After` when it gave one, else 30 s doubling; at most 15 min.
pub fn wait_ms(tries: u32, retry_after_ms: Option<u64>) -> u64 {
    let backoff = FIRST_BACKOFF_MS.saturating_mul(1u64 << tries.saturating_sub(1).min(20));
    retry_after_ms.unwrap_or(backoff).min(MAX_BACKOFF_MS)
}

/// After try number `tries` ended with `result` at `now_ms`: held again when its
/// outcome is retryable (it proves nothing started) and the next try can start
/// before `give_up_ms`; else over. An ambiguous outcome (timeout, 5xx other than 503,
/// 3xx) is never tried again.
pub fn after_try(result: &StartResult, tries: u32, now_ms: u64, give_up_ms: u64) -> AfterTry {
    if !result.evidence.is_retryable() {
        return AfterTry::End;
    }
    let retry_after_ms = result
        .outcome
        .as_ref()
        .err()
        .and_then(|e| e.retry_after_secs)
        .map(|s| s.saturating_mul(1000));
    let next = now_ms.saturating_add(wait_ms(tries, retry_after_ms));
    if next <= give_up_ms {
        AfterTry::HoldUntil(next)
    } else {
        AfterTry::End
    }
}

/// What an alarm does with a held row in `state`, due at `due_ms`, at `now_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Not yet its time, or a try under way: leave it.
    Leave,
    /// Mark it trying (before anything is sent) and try it.
    Try,
    /// Its time ran out before this try could start: it gives up.
    GiveUp,
    /// A try whose outcome was never written by its time: outcome unknown.
    Unknown,
}

/// The decision of an alarm on one row.
pub fn pick(state: &str, due_ms: u64, give_up_ms: u64, now_ms: u64) -> Pick {
    match state {
        HELD if now_ms < due_ms => Pick::Leave,
        HELD if now_ms > give_up_ms => Pick::GiveUp,
        HELD => Pick::Try,
        TRYING if now_ms >= due_ms => Pick::Unknown,
        _ => Pick::Leave,
    }
}

/// When a try taken at `now_ms` must have its outcome written by (its deadline plus
/// the ledger's grace); past it, it reads as outcome unknown.
pub fn try_until(now_ms: u64, deadline_ms: u64) -> u64 {
    crate::ledger::unknown_at(now_ms, deadline_ms)
}

/// A first try whose outcome is still retryable, as the HTTP and cron flows hand it
/// over: what was sent, its entry, and the key's record it holds.
pub(crate) struct FirstTry<'a> {
    pub(crate) sent: Sent<'a>,
    pub(crate) entry: &'a crate::history::Entry,
    /// The ledger object, and the record with its fingerprint.
    pub(crate) object: &'a str,
    pub(crate) held: &'a crate::http_flow::Held,
    pub(crate) cause: &'a str,
    pub(crate) started_ms: u64,
    /// `HOLD_MAX_SECONDS`, in ms.
    pub(crate) max_ms: u64,
    /// The start's deadline, in ms.
    pub(crate) deadline_ms: u64,
}

/// The `hold` ledger call of a start still pushed back after its first try (an
/// accepted HTTP start or a cron job alike), or `None` when it is not to be held (its
/// outcome is final, or no try fits before `HOLD_MAX_SECONDS`): its entry stays in progress with the
/// attempts so far, Bloomreach's last answer and the next try's time, and its record
/// answers as held until the last try could end.
pub(crate) fn first_hold_call(
    first: FirstTry<'_>,
    result: &StartResult,
    now_ms: u64,
) -> Option<crate::http_flow::LedgerCall> {
    let FirstTry {
        sent,
        entry,
        object,
        held,
        cause,
        started_ms,
        max_ms,
        deadline_ms,
    } = first;
    let (record, fingerprint) = (held.record.as_str(), held.fingerprint.as_str());
    let start = HeldStart::after_first_try(
        sent,
        (&entry.id, record, fingerprint),
        (cause, started_ms, max_ms),
        result,
        now_ms,
    )?;
    let mut entry = entry.clone();
    entry.attempts = result.attempts;
    entry.upstream_status = start.last_status;
    entry.message = Some(crate::history::short_message(&crate::history::redact_text(
        &start.last_message,
    )));
    entry.next_attempt_at = Some(crate::civil_time::rfc3339_ms(start.next_ms as i64));
    let written = crate::history::Written {
        started_ms: started_ms as i64,
        ended_ms: None,
        entry,
        skip_if_found: false,
    };
    // The record answers as it does now until the last try could end.
    let until = crate::ledger::unknown_at(start.give_up_ms, deadline_ms);
    Some(crate::http_flow::LedgerCall {
        object: object.to_owned(),
        call: crate::ledger::hold(record, fingerprint, until, Some(written), Some(start)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream_answer::Accepted;

    fn failed(code: ErrorCode, status: Option<u16>, evidence: Evidence) -> StartResult {
        let mut e = TriggerError::new(code, "x");
        e.upstream_status = status;
        StartResult {
            outcome: Err(e),
            attempts: 1,
            attempts_ms: 10,
            evidence,
        }
    }

    fn limited(retry_after_secs: Option<u64>) -> StartResult {
        let mut r = failed(
            ErrorCode::UpstreamRateLimited,
            Some(429),
            Evidence::Retryable,
        );
        if let Err(e) = &mut r.outcome {
            e.retry_after_secs = retry_after_secs;
        }
        r
    }

    fn ok() -> StartResult {
        StartResult {
            outcome: Ok(Accepted { status: 200 }),
            attempts: 1,
            attempts_ms: 10,
            evidence: Evidence::Started,
        }
    }

    fn held(next_ms: u64, give_up_ms: u64) -> HeldStart {
        HeldStart {
            id: "e".into(),
            record: "r".into(),
            fingerprint: "f".into(),
            import_id: "imp".into(),
            api: ApiKind::DataV1,
            path: Some("/x.csv".into()),
            test_connection: None,
            cause: "http:ci".into(),
            began_ms: 0,
            give_up_ms,
            tries: 1,
            attempts: 4,
            last_status: Some(429),
            last_message: "x".into(),
            next_ms,
        }
    }

    #[test]
    fn the_wait_is_retry_after_else_30_s_doubling_at_most_15_min() {
        assert_eq!(wait_ms(1, None), 30_000);
        assert_eq!(wait_ms(2, None), 60_000);
        assert_eq!(wait_ms(5, None), 480_000);
        assert_eq!(wait_ms(6, None), 900_000);
        assert_eq!(wait_ms(60, None), 900_000);
        assert_eq!(wait_ms(3, Some(1_000)), 1_000);
        assert_eq!(wait_ms(1, Some(3_600_000)), 900_000);
    }

    #[test]
    fn only_a_retryable_outcome_is_held_and_only_before_the_give_up() {
        assert_eq!(
            after_try(&limited(Some(1)), 1, 1_000, 10_000),
            AfterTry::HoldUntil(2_000)
        );
        assert_eq!(
            after_try(&limited(None), 1, 1_000, 100_000),
            AfterTry::HoldUntil(31_000)
        );
        // The next try would start past the give-up: over.
        assert_eq!(after_try(&limited(None), 1, 1_000, 30_999), AfterTry::End);
        assert_eq!(
            after_try(&limited(None), 1, 1_000, 31_000),
            AfterTry::HoldUntil(31_000)
        );
        let not_sent = failed(ErrorCode::UpstreamUnreachable, None, Evidence::Retryable);
        assert!(matches!(
            after_try(&not_sent, 1, 0, 1_000_000),
            AfterTry::HoldUntil(30_000)
        ));
        // Ambiguous, refused or started: never held.
        for r in [
            failed(
                ErrorCode::UpstreamError,
                Some(500),
                Evidence::MayHaveStarted,
            ),
            failed(
                ErrorCode::UpstreamUnreachable,
                None,
                Evidence::MayHaveStarted,
            ),
            failed(ErrorCode::ImportNotFound, Some(404), Evidence::Refused),
            ok(),
        ] {
            assert_eq!(after_try(&r, 1, 0, u64::MAX), AfterTry::End);
        }
    }

    #[test]
    fn an_alarm_picks_only_a_held_row_whose_time_has_come() {
        // Clocks past each boundary.
        assert_eq!(pick(HELD, 1_000, 5_000, 999), Pick::Leave);
        assert_eq!(pick(HELD, 1_000, 5_000, 1_000), Pick::Try);
        assert_eq!(pick(HELD, 1_000, 5_000, 5_000), Pick::Try);
        assert_eq!(pick(HELD, 1_000, 5_000, 5_001), Pick::GiveUp);
        // A try under way is never taken again (an alarm during a try, or twice).
        assert_eq!(pick(TRYING, 9_000, 5_000, 8_999), Pick::Leave);
        // Its outcome never written by its time: unknown, never sent again.
        assert_eq!(pick(TRYING, 9_000, 5_000, 9_000), Pick::Unknown);
        assert_eq!(pick("other", 0, 0, 1), Pick::Leave);
    }

    #[test]
    fn a_held_start_counts_its_tries_and_attempts() {
        let h = held(1_000, 100_000);
        let again = h.after(&limited(Some(2)), 1_000).expect("held again");
        assert_eq!((again.tries, again.attempts, again.next_ms), (2, 5, 3_000));
        assert!(h.after(&ok(), 1_000).is_none());
        let fin = h.final_result(&ok(), 2_000);
        assert_eq!((fin.attempts, fin.attempts_ms), (5, 2_000));
        assert!(fin.outcome.is_ok());
        // A retryable final try is a give-up.
        let gave = h.final_result(&limited(None), 99_000);
        assert_eq!(
            gave.outcome.unwrap_err().code,
            ErrorCode::UpstreamRateLimited
        );
        assert!(gave.evidence.proves_nothing_started());
        assert_eq!(h.try_cause(), "held:http:ci");
    }

    #[test]
    fn giving_up_reads_rate_limited_or_unreachable() {
        let h = held(0, 10);
        assert_eq!(
            h.given_up(20).outcome.unwrap_err().code,
            ErrorCode::UpstreamRateLimited
        );
        let never_sent = HeldStart {
            last_status: None,
            ..h
        };
        let r = never_sent.given_up(20);
        assert_eq!(r.evidence, Evidence::Retryable);
        assert_eq!(r.outcome.unwrap_err().code, ErrorCode::UpstreamUnreachable);
    }

    #[test]
    fn the_request_is_built_again_from_the_settings() {
        let env = crate::test_support::deployment(&[]);
        let h = held(0, 10);
        let prepared = h.prepare(&env).expect("prepared");
        assert_eq!(prepared.start.import_id.as_str(), "imp");
        assert!(prepared
            .upstream
            .body
            .as_deref()
            .unwrap()
            .contains("/x.csv"));
        // No credential is kept.
        let text = to_text(&h);
        assert!(!text.contains("secret") && !text.contains("authorization"));
        let back: HeldStart = serde_json::from_str(&text).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn hold_max_seconds_is_read_as_the_other_numbers() {
        use crate::settings::SettingValue;
        use crate::test_support::Values;
        let with = |v: SettingValue| Values(vec![(SETTING, v)]);
        assert_eq!(max_ms(&Values(vec![])).unwrap(), 21_600_000);
        assert_eq!(max_ms(&with(SettingValue::Number(5.0))).unwrap(), 5_000);
        assert_eq!(
            max_ms(&with(SettingValue::Text("86400".into()))).unwrap(),
            86_400_000
        );
        for bad in ["0", "86401", "x", "1.5"] {
            let e = max_ms(&with(SettingValue::Text(bad.into()))).unwrap_err();
            assert!(e.message.contains(SETTING), "{bad}: {}", e.message);
        }
    }
}
