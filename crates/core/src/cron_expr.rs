//! Cron expressions as Cloudflare reads them: the next time one fires (`GET
//! /schedules`' `next_run`) and whether one is valid (`bloomreach-import-check`).
//!
//! Read with `saffron`, the parser behind Cloudflare's Cron Triggers, rather than a
//! general cron crate, so the syntax is exactly the platform's: five fields in UTC,
//! `*` `,` `-` `/`, month and weekday names, weekdays numbered 1-7 for SUN-SAT, `L`,
//! `W` and `#` (<https://developers.cloudflare.com/workers/configuration/cron-triggers/#supported-cron-expressions>).
//! A general parser would number weekdays 0-6 from Sunday and move every weekday job
//! by a day. Time is passed in; nothing here reads a clock.

use crate::civil_time::MAX_RFC3339_MS;
use chrono::{DateTime, Utc};
use saffron::Cron;

/// Reads `expression` (surrounding white space ignored, as the platform lists it).
fn parse(expression: &str) -> Option<Cron> {
    expression.trim().parse::<Cron>().ok()
}

/// Whether Cloudflare accepts `expression` as a cron trigger.
pub fn is_valid(expression: &str) -> bool {
    parse(expression).is_some()
}

/// The next time after `after_ms` (unix milliseconds) that `expression` fires, in unix
/// milliseconds; `None` when it does not parse, never fires (`0 0 31 2 *`), or not
/// before the year 10000.
pub fn next_run(expression: &str, after_ms: i64) -> Option<i64> {
    let cron = parse(expression)?;
    let after = DateTime::<Utc>::from_timestamp_millis(after_ms.clamp(0, MAX_RFC3339_MS))?;
    let next = cron.next_after(after)?.timestamp_millis();
    (next <= MAX_RFC3339_MS).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil_time::{parse_rfc3339_ms, rfc3339_ms};

    /// 2026-11-28 03:00:00 UTC, a Saturday.
    const NOW: &str = "2026-11-28T03:00:00.000Z";

    fn next(expression: &str, now: &str) -> Option<String> {
        next_run(expression, parse_rfc3339_ms(now).unwrap()).map(rfc3339_ms)
    }

    #[test]
    fn next_runs_of_cloudflare_expressions_against_a_fixed_clock() {
        for (expression, expected) in [
            // The same minute is not "after": the next day's.
            ("0 3 * * *", Some("2026-11-29T03:00:00.000Z")),
            ("0  3 * * * ", Some("2026-11-29T03:00:00.000Z")),
            ("*/15 * * * *", Some("2026-11-28T03:15:00.000Z")),
            ("15 * * * *", Some("2026-11-28T03:15:00.000Z")),
            // Weekdays are 1-7 for SUN-SAT: 1 is Sunday the 29th, 2 Monday the 30th.
            ("0 12 * * 1", Some("2026-11-29T12:00:00.000Z")),
            ("0 12 * * 2", Some("2026-11-30T12:00:00.000Z")),
            ("0 12 * * 7", Some("2026-11-28T12:00:00.000Z")),
            ("0 12 * * SUN", Some("2026-11-29T12:00:00.000Z")),
            ("0 12 * * MON-FRI", Some("2026-11-30T12:00:00.000Z")),
            ("0 0 1 JAN *", Some("2027-01-01T00:00:00.000Z")),
            // L: the last day of the month; 7L the last Saturday; W the nearest weekday.
            ("0 0 L * *", Some("2026-11-30T00:00:00.000Z")),
            ("0 0 L-2 * *", Some("2026-12-29T00:00:00.000Z")),
            ("0 0 * * 7L", Some("2026-12-26T00:00:00.000Z")),
            ("0 0 15W * *", Some("2026-12-15T00:00:00.000Z")),
            ("0 0 LW * *", Some("2026-11-30T00:00:00.000Z")),
            // #: the second Friday (6) of the month.
            ("0 0 * * 6#2", Some("2026-12-11T00:00:00.000Z")),
            ("0 0 29 2 *", Some("2028-02-29T00:00:00.000Z")),
            // Never fires, or not a Cloudflare expression.
            ("0 0 31 2 *", None),
            ("0 0 * * 0", None),
            ("0 3 * * * *", None),
            ("0 0 ? * 1", None),
            ("", None),
            ("nonsense", None),
        ] {
            assert_eq!(next(expression, NOW).as_deref(), expected, "{expression}");
            // `0 0 31 2 *` is valid, and never fires.
            let valid = expected.is_some() || expression == "0 0 31 2 *";
            assert_eq!(is_valid(expression), valid, "{expression}");
        }
    }

    #[test]
    fn seconds_into_a_minute_still_give_the_next_minute_and_the_far_future_is_none() {
        assert_eq!(
            next("* * * * *", "2026-11-28T03:00:59.999Z").as_deref(),
            Some("2026-11-28T03:01:00.000Z")
        );
        assert_eq!(next("0 0 1 1 *", "9999-06-01T00:00:00Z"), None);
        assert_eq!(next_run("* * * * *", i64::MIN), Some(60_000));
        assert_eq!(next_run("* * * * *", i64::MAX), None);
    }
}
