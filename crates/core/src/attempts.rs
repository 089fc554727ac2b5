//! One start from first attempt to final outcome, as a state machine the I/O shells
//! drive: the worker with the runtime's `fetch` and timers, the npm package with
//! JavaScript's. The machine never reads a clock or draws a random number; the shell
//! passes the time and the jitter in, so every path is testable on the host.

use crate::error::{ErrorCode, TriggerError};
use crate::retry::{
    decide, parse_retry_after, passed_on_retry_after_secs, RetryDecision, RetryLimits,
};
use crate::upstream_answer::{read_answer, Accepted};

/// What happened to one attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// Bloomreach answered (any status).
    Answered {
        status: u16,
        retry_after: Option<String>,
        body: Vec<u8>,
    },
    /// The connection failed before the request was sent (refused, DNS): no run started.
    NotSent { reason: String },
    /// No answer within the attempt's timeout: a run may have started.
    TimedOut,
    /// The connection failed after the request may have left: a run may have started.
    Failed { reason: String },
}

/// What an outcome proves about Bloomreach's side. The two sets the behaviour rests
/// on are defined here once (docs/behaviour.md, "Retries"): **retryable** (429, 503,
/// refused before sending) and **proves nothing started** (retryable, plus any other
/// 4xx: Bloomreach refused the request). The retry policy, the ledger and the npm
/// package all ask these two methods. The ledger's records keep it by its snake_case
/// name (`may_have_started`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Bloomreach accepted the start (2xx).
    Started,
    /// Nothing started, and trying again may succeed: 429, 503, refused before sending.
    Retryable,
    /// Bloomreach refused the request (any other 4xx): nothing started, and trying
    /// again would be refused again.
    Refused,
    /// A run may have started: timeouts, resets, 3xx, 500, 502, 504 and the rest.
    MayHaveStarted,
}

impl Evidence {
    /// The retryable set: trying again may change the outcome and cannot start twice.
    pub fn is_retryable(self) -> bool {
        self == Evidence::Retryable
    }

    /// The "proves nothing started" set: an `Idempotency-Key` is released, and a cron
    /// redelivery may start the job again.
    pub fn proves_nothing_started(self) -> bool {
        matches!(self, Evidence::Retryable | Evidence::Refused)
    }

    /// What Bloomreach's answer with `status` proves.
    pub fn of_status(status: u16) -> Evidence {
        match status {
            200..=299 => Evidence::Started,
            429 | 503 => Evidence::Retryable,
            400..=499 => Evidence::Refused,
            _ => Evidence::MayHaveStarted,
        }
    }
}

/// How much of a failed connection's description is kept in an error message.
pub(crate) const MAX_REASON_CHARS: usize = 200;

/// Connection error codes that prove the request never left (Node's `cause.code`).
const NOT_SENT_CODES: [&str; 5] = [
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "EHOSTUNREACH",
    "ENETUNREACH",
];

impl AttemptOutcome {
    /// What this attempt proves (see [`Evidence`]).
    pub fn evidence(&self) -> Evidence {
        match self {
            AttemptOutcome::Answered { status, .. } => Evidence::of_status(*status),
            AttemptOutcome::NotSent { .. } => Evidence::Retryable,
            AttemptOutcome::TimedOut | AttemptOutcome::Failed { .. } => Evidence::MayHaveStarted,
        }
    }

    /// A failure before anything was sent (the runtime refused to build the request),
    /// its description cut to 200 characters (as every failed connection's is).
    pub fn not_sent(reason: &str) -> AttemptOutcome {
        AttemptOutcome::NotSent {
            reason: reason.chars().take(MAX_REASON_CHARS).collect(),
        }
    }

    /// Reads a failed `fetch` (a rejected promise) from its error code, when the runtime
    /// gives one, and its message. Only a failure that proves nothing was sent (refused,
    /// name not resolved, no route) is `NotSent` and so may be retried; anything else
    /// may have reached Bloomreach. Both shells ask this one place.
    pub fn from_fetch_error(code: Option<&str>, message: &str) -> AttemptOutcome {
        let reason: String = code
            .unwrap_or(message)
            .chars()
            .take(MAX_REASON_CHARS)
            .collect();
        let lower = message.to_ascii_lowercase();
        let not_sent = code.is_some_and(|c| NOT_SENT_CODES.contains(&c))
            || lower.contains("connection refused")
            || lower.contains("could not resolve");
        if not_sent {
            AttemptOutcome::NotSent { reason }
        } else {
            AttemptOutcome::Failed { reason }
        }
    }
}

/// What the shell does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Wait `after_ms`, then send the request, aborting it after `timeout_ms`.
    Send { after_ms: u64, timeout_ms: u64 },
    /// The start is over.
    Done(StartResult),
}

/// The final outcome of a start.
#[derive(Clone, Debug, PartialEq)]
pub struct StartResult {
    pub outcome: Result<Accepted, TriggerError>,
    pub attempts: u32,
    /// Time from the first attempt to the last answer, waits included: what an answer's
    /// `duration_ms` says (a log line's `duration_ms` is the whole trigger's).
    pub attempts_ms: u64,
    /// What the last attempt proves. Earlier attempts were all retryable (else no
    /// retry would have followed), so this is what the whole start proves.
    pub evidence: Evidence,
}

/// The state of one start.
#[derive(Clone, Debug)]
pub struct Attempts {
    limits: RetryLimits,
    started_ms: u64,
    attempts: u32,
}

impl Attempts {
    /// Starts the clock at `now_ms` and asks for the first attempt.
    pub fn begin(limits: RetryLimits, now_ms: u64) -> (Self, Step) {
        let run = Attempts {
            limits,
            started_ms: now_ms,
            attempts: 0,
        };
        let step = Step::Send {
            after_ms: 0,
            timeout_ms: run.attempt_timeout(0),
        };
        (run, step)
    }

    fn attempt_timeout(&self, elapsed_at_send: u64) -> u64 {
        let left = self.limits.deadline_ms.saturating_sub(elapsed_at_send);
        self.limits.attempt_timeout_ms.min(left).max(1)
    }

    /// Takes the outcome of the attempt just made and says what comes next.
    /// `jitter` is a number in `[0, 1)`; `now_unix_ms` is also used for `Retry-After`
    /// dates, so pass wall-clock time.
    pub fn on_outcome(&mut self, outcome: AttemptOutcome, now_unix_ms: u64, jitter: f64) -> Step {
        self.attempts = self.attempts.saturating_add(1);
        let elapsed = now_unix_ms.saturating_sub(self.started_ms);
        let evidence = outcome.evidence();
        let (result, retry_after_ms) = match outcome {
            AttemptOutcome::Answered {
                status,
                retry_after,
                body,
            } => {
                let retry_after_ms = retry_after
                    .as_deref()
                    .and_then(|v| parse_retry_after(v, now_unix_ms));
                let mut result = read_answer(status, &body);
                if let Err(e) = &mut result {
                    if e.code == ErrorCode::UpstreamRateLimited {
                        e.retry_after_secs = retry_after_ms.map(passed_on_retry_after_secs);
                    }
                }
                (result, retry_after_ms)
            }
            AttemptOutcome::NotSent { reason } => (
                Err(TriggerError::new(
                    ErrorCode::UpstreamUnreachable,
                    format!("could not connect to Bloomreach: {reason}"),
                )),
                None,
            ),
            AttemptOutcome::TimedOut => (
                Err(TriggerError::new(
                    ErrorCode::UpstreamUnreachable,
                    "Bloomreach did not answer in time; the import may or may not have started",
                )),
                None,
            ),
            AttemptOutcome::Failed { reason } => (
                Err(TriggerError::new(
                    ErrorCode::UpstreamUnreachable,
                    format!(
                        "the connection to Bloomreach failed ({reason}); the import may or may not have started"
                    ),
                )),
                None,
            ),
        };
        if result.is_ok() {
            return self.done(result, elapsed, evidence);
        }
        match decide(
            self.attempts,
            evidence.is_retryable(),
            retry_after_ms,
            elapsed,
            jitter,
            &self.limits,
        ) {
            RetryDecision::RetryIn(after_ms) => Step::Send {
                after_ms,
                timeout_ms: self.attempt_timeout(elapsed.saturating_add(after_ms)),
            },
            RetryDecision::Stop => self.done(result, elapsed, evidence),
        }
    }

    fn done(
        &self,
        outcome: Result<Accepted, TriggerError>,
        attempts_ms: u64,
        evidence: Evidence,
    ) -> Step {
        Step::Done(StartResult {
            outcome,
            attempts: self.attempts,
            attempts_ms,
            evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, retry_after: Option<&str>) -> AttemptOutcome {
        AttemptOutcome::Answered {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: b"{}".to_vec(),
        }
    }

    fn drive(outcomes: Vec<AttemptOutcome>) -> (StartResult, Vec<u64>) {
        let (mut run, mut step) = Attempts::begin(RetryLimits::default(), 1_000);
        let mut now = 1_000;
        let mut waits = Vec::new();
        let mut outcomes = outcomes.into_iter();
        loop {
            match step {
                Step::Send { after_ms, .. } => {
                    now += after_ms;
                    waits.push(after_ms);
                    let outcome = outcomes.next().expect("more attempts than outcomes");
                    now += 10;
                    step = run.on_outcome(outcome, now, 0.0);
                }
                Step::Done(result) => return (result, waits),
            }
        }
    }

    #[test]
    fn only_fetch_errors_that_prove_nothing_was_sent_are_not_sent() {
        for (code, message) in [
            (Some("ECONNREFUSED"), "fetch failed"),
            (Some("ENOTFOUND"), "fetch failed"),
            (None, "connect: Connection refused"),
            (None, "Could not resolve host"),
        ] {
            assert!(
                matches!(
                    AttemptOutcome::from_fetch_error(code, message),
                    AttemptOutcome::NotSent { .. }
                ),
                "{message}"
            );
        }
        for (code, message) in [
            (Some("ECONNRESET"), "fetch failed"),
            (None, "Network connection lost."),
            (None, ""),
        ] {
            assert!(
                matches!(
                    AttemptOutcome::from_fetch_error(code, message),
                    AttemptOutcome::Failed { .. }
                ),
                "{message}"
            );
        }
        let AttemptOutcome::NotSent { reason } =
            AttemptOutcome::from_fetch_error(Some("ECONNREFUSED"), "x")
        else {
            panic!("refused is not sent")
        };
        assert_eq!(reason, "ECONNREFUSED");
    }

    #[test]
    fn the_two_sets_are_as_documented() {
        use Evidence::*;
        for (status, want) in [
            (200, Started),
            (204, Started),
            (0, MayHaveStarted),
            (302, MayHaveStarted),
            (400, Refused),
            (401, Refused),
            (403, Refused),
            (404, Refused),
            (409, Refused),
            (429, Retryable),
            (500, MayHaveStarted),
            (502, MayHaveStarted),
            (503, Retryable),
            (504, MayHaveStarted),
        ] {
            assert_eq!(Evidence::of_status(status), want, "{status}");
        }
        assert!(Retryable.is_retryable() && Retryable.proves_nothing_started());
        assert!(!Refused.is_retryable() && Refused.proves_nothing_started());
        assert!(!MayHaveStarted.proves_nothing_started() && !Started.proves_nothing_started());
        let refused = AttemptOutcome::NotSent { reason: "x".into() };
        assert_eq!(refused.evidence(), Retryable);
        assert_eq!(AttemptOutcome::TimedOut.evidence(), MayHaveStarted);
        let (r, _) = drive(vec![answered(404, None)]);
        assert_eq!((r.attempts, r.evidence), (1, Refused));
        let (r, _) = drive(vec![answered(429, Some("1")); 4]);
        assert_eq!(r.evidence, Retryable);
    }

    #[test]
    fn success_on_first_attempt() {
        let (r, waits) = drive(vec![answered(200, None)]);
        assert_eq!(r.outcome, Ok(Accepted { status: 200 }));
        assert_eq!((r.attempts, r.attempts_ms), (1, 10));
        assert_eq!(waits, vec![0]);
    }

    #[test]
    fn a_429_then_200_retries_after_retry_after() {
        let (r, waits) = drive(vec![answered(429, Some("2")), answered(200, None)]);
        assert!(r.outcome.is_ok());
        assert_eq!(r.attempts, 2);
        assert_eq!(waits, vec![0, 2000]);
    }

    #[test]
    fn still_429_after_all_attempts_is_rate_limited_with_retry_after() {
        let (r, _) = drive(vec![answered(429, Some("1")); 4]);
        let e = r.outcome.unwrap_err();
        assert_eq!(e.code, ErrorCode::UpstreamRateLimited);
        assert_eq!(e.retry_after_secs, Some(1));
        assert_eq!(r.attempts, 4);
    }

    #[test]
    fn a_503_and_refused_connections_are_retried() {
        let (r, _) = drive(vec![
            answered(503, None),
            AttemptOutcome::NotSent {
                reason: "refused".into(),
            },
            answered(200, None),
        ]);
        assert!(r.outcome.is_ok());
        assert_eq!(r.attempts, 3);
    }

    #[test]
    fn timeouts_and_other_5xx_are_tried_once() {
        for outcome in [
            AttemptOutcome::TimedOut,
            AttemptOutcome::Failed {
                reason: "reset".into(),
            },
            answered(500, None),
            answered(302, None),
            answered(0, None),
            answered(502, None),
            answered(504, None),
        ] {
            let (r, _) = drive(vec![outcome.clone()]);
            assert_eq!(r.attempts, 1, "{outcome:?}");
            assert!(r.outcome.is_err());
        }
        let (r, _) = drive(vec![AttemptOutcome::TimedOut]);
        assert_eq!(r.outcome.unwrap_err().code, ErrorCode::UpstreamUnreachable);
    }

    #[test]
    fn a_retry_after_beyond_the_deadline_stops_at_once() {
        let (r, _) = drive(vec![answered(429, Some("60"))]);
        assert_eq!(r.attempts, 1);
        assert_eq!(r.outcome.unwrap_err().retry_after_secs, Some(60));
    }

    #[test]
    fn a_huge_retry_after_is_passed_on_capped_at_a_day() {
        for (value, passed_on) in [
            ("9999999999", 86_400),
            ("99999999999999999999999", 86_400),
            ("86401", 86_400),
            ("3600", 3_600),
        ] {
            let (r, waits) = drive(vec![answered(429, Some(value))]);
            assert_eq!(waits, vec![0], "{value}: no retry within the deadline");
            assert_eq!(
                r.outcome.unwrap_err().retry_after_secs,
                Some(passed_on),
                "{value}"
            );
        }
    }

    #[test]
    fn the_attempt_timeout_shrinks_to_the_time_left() {
        let limits = RetryLimits {
            deadline_ms: 3_000,
            attempt_timeout_ms: 10_000,
            ..RetryLimits::default()
        };
        let (mut run, step) = Attempts::begin(limits, 0);
        assert_eq!(
            step,
            Step::Send {
                after_ms: 0,
                timeout_ms: 3_000
            }
        );
        let step = run.on_outcome(answered(429, Some("1")), 1_500, 0.0);
        assert_eq!(
            step,
            Step::Send {
                after_ms: 1_000,
                timeout_ms: 500
            }
        );
    }
}
