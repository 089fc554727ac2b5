//! When to try a start again, as a pure decision.
//!
//! A start is not idempotent: a run Bloomreach began and whose answer was lost must
//! not be started twice. So only outcomes where no run can have started are retried:
//! 429, 503 and a connection refused before anything was sent. Timeouts and other
//! 5xx are ambiguous and end the attempt.

use crate::civil_time::parse_http_date;

/// Bounds on one start's attempts. All times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryLimits {
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// How long one attempt may wait for Bloomreach's answer.
    pub attempt_timeout_ms: u64,
    /// How long the whole start may take, waits included.
    pub deadline_ms: u64,
    /// The first backoff; it doubles with each attempt.
    pub base_delay_ms: u64,
    /// The longest backoff (a longer `Retry-After` is still honoured within the deadline).
    pub max_delay_ms: u64,
}

impl Default for RetryLimits {
    fn default() -> Self {
        RetryLimits {
            max_attempts: 4,
            attempt_timeout_ms: 10_000,
            deadline_ms: 25_000,
            base_delay_ms: 500,
            max_delay_ms: 8_000,
        }
    }
}

/// The longest `Retry-After` passed on to a caller, in seconds: a day. Bloomreach may
/// say more; no caller should be told to wait years.
pub const MAX_PASSED_ON_RETRY_AFTER_SECS: u64 = 86_400;

/// The `Retry-After` to pass on, in whole seconds, for a wait of `ms`.
pub fn passed_on_retry_after_secs(ms: u64) -> u64 {
    ms.div_ceil(1000).min(MAX_PASSED_ON_RETRY_AFTER_SECS)
}

/// The upper bounds of the limits a user may set, as settings
/// (`UPSTREAM_MAX_ATTEMPTS`, ...) or npm options (`maxAttempts`, ...); the lower is 1.
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;
pub const MAX_ATTEMPT_TIMEOUT_MS: u64 = 120_000;
pub const MAX_DEADLINE_MS: u64 = 600_000;

/// The least time worth starting another attempt with.
const MIN_ATTEMPT_MS: u64 = 100;

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this many milliseconds, then try again.
    RetryIn(u64),
    Stop,
}

/// Reads `Retry-After` as delay-seconds or an HTTP-date, into milliseconds from `now_ms`.
/// A date in the past means "now"; anything unreadable is ignored.
pub fn parse_retry_after(value: &str, now_unix_ms: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Any all-digit value is seconds, however long: saturate rather than ignore it,
        // so a huge value still means "not soon" instead of the default backoff.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(secs.saturating_mul(1000));
    }
    let at_secs = parse_http_date(value)?;
    let at_ms = u64::try_from(at_secs).ok()?.saturating_mul(1000);
    Some(at_ms.saturating_sub(now_unix_ms))
}

/// Decides after attempt number `attempts_made` (1 for the first) whether to retry.
///
/// `retryable` says whether the outcome proves no run started; `jitter` is a number in
/// `[0, 1)` from the caller's randomness; `elapsed_ms` counts from the first attempt.
pub fn decide(
    attempts_made: u32,
    retryable: bool,
    retry_after_ms: Option<u64>,
    elapsed_ms: u64,
    jitter: f64,
    limits: &RetryLimits,
) -> RetryDecision {
    if !retryable || attempts_made >= limits.max_attempts {
        return RetryDecision::Stop;
    }
    let exponent = attempts_made.saturating_sub(1).min(32);
    let backoff = limits
        .base_delay_ms
        .saturating_mul(1u64 << exponent)
        .min(limits.max_delay_ms);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // "Equal jitter": half the backoff fixed, half random, so waits never collapse to 0.
    let jittered = backoff / 2 + (((backoff / 2) as f64) * jitter) as u64;
    let delay = match retry_after_ms {
        Some(server_says) => server_says.max(jittered),
        None => jittered,
    };
    let needed = elapsed_ms
        .saturating_add(delay)
        .saturating_add(MIN_ATTEMPT_MS);
    if needed > limits.deadline_ms {
        RetryDecision::Stop
    } else {
        RetryDecision::RetryIn(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: RetryLimits = RetryLimits {
        max_attempts: 4,
        attempt_timeout_ms: 10_000,
        deadline_ms: 25_000,
        base_delay_ms: 500,
        max_delay_ms: 8_000,
    };

    #[test]
    fn ambiguous_outcomes_are_never_retried() {
        assert_eq!(decide(1, false, None, 0, 0.5, &L), RetryDecision::Stop);
        assert_eq!(
            decide(1, false, Some(1000), 0, 0.5, &L),
            RetryDecision::Stop
        );
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_is_capped() {
        assert_eq!(
            decide(1, true, None, 0, 0.0, &L),
            RetryDecision::RetryIn(250)
        );
        assert_eq!(
            decide(1, true, None, 0, 0.999_999, &L),
            RetryDecision::RetryIn(499)
        );
        assert_eq!(
            decide(2, true, None, 0, 0.0, &L),
            RetryDecision::RetryIn(500)
        );
        assert_eq!(
            decide(3, true, None, 0, 0.0, &L),
            RetryDecision::RetryIn(1000)
        );
        let capped = RetryLimits {
            max_attempts: 40,
            ..L
        };
        assert_eq!(
            decide(30, true, None, 0, 1.0, &capped),
            RetryDecision::RetryIn(8000)
        );
    }

    #[test]
    fn attempts_are_bounded() {
        assert_eq!(decide(4, true, None, 0, 0.0, &L), RetryDecision::Stop);
        assert_eq!(
            decide(u32::MAX, true, None, 0, 0.0, &L),
            RetryDecision::Stop
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_deadline() {
        assert_eq!(
            decide(1, true, Some(3000), 0, 0.0, &L),
            RetryDecision::RetryIn(3000)
        );
        assert_eq!(
            decide(1, true, Some(10), 0, 0.0, &L),
            RetryDecision::RetryIn(250)
        );
        assert_eq!(
            decide(1, true, Some(30_000), 0, 0.0, &L),
            RetryDecision::Stop
        );
        assert_eq!(
            decide(2, true, Some(3000), 22_000, 0.0, &L),
            RetryDecision::Stop
        );
    }

    #[test]
    fn bad_jitter_values_are_clamped() {
        assert_eq!(
            decide(1, true, None, 0, f64::NAN, &L),
            RetryDecision::RetryIn(250)
        );
        assert_eq!(
            decide(1, true, None, 0, -3.0, &L),
            RetryDecision::RetryIn(250)
        );
        assert_eq!(
            decide(1, true, None, 0, 7.0, &L),
            RetryDecision::RetryIn(500)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("3", 0), Some(3000));
        assert_eq!(parse_retry_after(" 0 ", 0), Some(0));
        let now = 784_111_777_000;
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
            Some(3000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(0)
        );
        assert_eq!(
            parse_retry_after("99999999999", now),
            Some(99_999_999_999_000)
        );
        assert_eq!(
            parse_retry_after("999999999999999999999999", now),
            Some(u64::MAX)
        );
        assert_eq!(passed_on_retry_after_secs(u64::MAX), 86_400);
        assert_eq!(passed_on_retry_after_secs(1_001), 2);
        for bad in ["", "-1", "1.5", "soon", "+5"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
