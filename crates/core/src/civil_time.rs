//! UTC calendar arithmetic: unix seconds to year/month/day/hour/minute and back,
//! HTTP-dates (for `Retry-After`), and RFC 3339 instants (the start history's times
//! and its `since`/`until` filters).
//!
//! Hand-written instead of `chrono`/`time`: templates need only UTC fields and one
//! date format, which is about forty lines of well-known civil-date arithmetic
//! (Howard Hinnant's days-from-civil), while a date library adds tens of KB to wasm.

/// A UTC moment broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl UtcDateTime {
    /// The calendar fields of a unix time in seconds (negative is before 1970).
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        UtcDateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    pub fn to_unix(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110) into unix
/// seconds. The obsolete formats are not accepted; `Retry-After` senders use this one.
pub fn parse_http_date(value: &str) -> Option<i64> {
    let mut parts = value.trim().split(' ');
    let weekday = parts.next()?;
    if weekday.len() != 4 || !weekday.ends_with(',') {
        return None;
    }
    let day: u32 = two_digits(parts.next()?)?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year_text = parts.next()?;
    if year_text.len() != 4 || !year_text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i64 = year_text.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let hour = two_digits(clock.next()?)?;
    let minute = two_digits(clock.next()?)?;
    let second = two_digits(clock.next()?)?;
    if clock.next().is_some() || parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(
        UtcDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second: second.min(59),
        }
        .to_unix(),
    )
}

/// `2026-12-01T03:00:00.120Z` for a unix time in milliseconds: RFC 3339 in UTC with
/// milliseconds, as the start history writes every time.
pub fn rfc3339_ms(ms: i64) -> String {
    let t = UtcDateTime::from_unix(ms.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        ms.rem_euclid(1000)
    )
}

/// The latest unix time (ms) [`parse_rfc3339_ms`] reads: the end of year 9999.
pub const MAX_RFC3339_MS: i64 = 253_402_300_799_999;

/// Reads an RFC 3339 instant (`2026-12-01T03:00:00Z`, `2026-12-01t04:00:00.5+01:00`)
/// as unix milliseconds, a fraction of a millisecond rounded up: the history's times
/// are whole milliseconds, so `started_at >= since` and `started_at < until` keep
/// their meaning. Years 0000..=9999; a leap second (`:60`) is read as `:59.999`.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize| b.get(i).copied();
    if at(4) != Some(b'-') || at(7) != Some(b'-') || !matches!(at(10), Some(b'T' | b't')) {
        return None;
    }
    if at(13) != Some(b':') || at(16) != Some(b':') {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > i64::from(days_in_month(year, month as u32))
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    // The fraction, in units of 10^-9 s (digits past the ninth only round up).
    let mut nanos: i64 = 0;
    let mut beyond = false;
    if at(i) == Some(b'.') {
        i += 1;
        let start = i;
        while let Some(d) = at(i).filter(u8::is_ascii_digit) {
            let place = i - start;
            if place < 9 {
                nanos += i64::from(d - b'0') * 10_i64.pow(8 - place as u32);
            } else if d != b'0' {
                beyond = true;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs = match at(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3) == Some(b':') => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let (second, nanos, beyond) = if second == 60 {
        (59, 999_000_000, false)
    } else {
        (second, nanos, beyond)
    };
    let secs = UtcDateTime {
        year,
        month: month as u32,
        day: day as u32,
        hour: hour as u32,
        minute: minute as u32,
        second: second as u32,
    }
    .to_unix()
        - offset_secs;
    let sub_ms = nanos.div_euclid(1_000_000);
    let round_up = nanos % 1_000_000 != 0 || beyond;
    Some(secs * 1000 + sub_ms + i64::from(round_up))
}

fn two_digits(text: &str) -> Option<u32> {
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_and_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        let t = UtcDateTime::from_unix(1_709_164_800); // 2024-02-29 00:00:00
        assert_eq!((t.year, t.month, t.day, t.hour), (2024, 2, 29, 0));
        let t = UtcDateTime::from_unix(-1);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (1969, 12, 31, 23, 59, 59)
        );
    }

    #[test]
    fn every_day_for_800_years_round_trips() {
        let start = days_from_civil(1800, 1, 1);
        let end = days_from_civil(2600, 1, 1);
        let mut expected = (1800, 1, 1);
        for days in start..end {
            let got = civil_from_days(days);
            assert_eq!(got, expected);
            assert_eq!(days_from_civil(got.0, got.1, got.2), days);
            expected = if got.2 < days_in_month(got.0, got.1) {
                (got.0, got.1, got.2 + 1)
            } else if got.1 < 12 {
                (got.0, got.1 + 1, 1)
            } else {
                (got.0 + 1, 1, 1)
            };
        }
    }

    #[test]
    fn rfc3339_is_written_in_utc_with_milliseconds_and_read_back() {
        assert_eq!(rfc3339_ms(1_795_834_800_120), "2026-11-28T03:00:00.120Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        for ms in [0, 1, 999, 1_795_834_800_120, MAX_RFC3339_MS] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms), "{ms}");
        }
        let base = 1_795_834_800_000; // 2026-11-28T03:00:00Z
        for (text, ms) in [
            ("2026-11-28T03:00:00Z", base),
            ("2026-11-28t03:00:00z", base),
            ("2026-11-28T04:30:00+01:30", base),
            ("2026-11-27T22:00:00-05:00", base),
            ("2026-11-28T03:00:00.1Z", base + 100),
            ("2026-11-28T03:00:00.120Z", base + 120),
            ("2026-11-28T03:00:00.1201Z", base + 121),
            ("2026-11-28T03:00:00.120000000001Z", base + 121),
            ("2026-11-28T03:00:00.120000000000Z", base + 120),
            ("2026-11-28T02:59:60Z", base - 1),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("0000-01-01T00:00:00Z", -62_167_219_200_000),
        ] {
            assert_eq!(parse_rfc3339_ms(text), Some(ms), "{text}");
        }
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T03:00:00",
            "2026-11-28 03:00:00Z",
            "2026-11-28T03:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T03:60:00Z",
            "2026-11-28T03:00:61Z",
            "2026-11-28T03:00:00.Z",
            "2026-11-28T03:00:00+0100",
            "2026-11-28T03:00:00+24:00",
            "2026-11-28T03:00:00Zx",
            "+2026-11-28T03:00:00Z",
            "2026-11-28T03:00:00 Z",
            "２026-11-28T03:00:00Z",
            "1776203755",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_date_imf_fixdate_parses() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(1_709_164_800)
        );
        for bad in [
            "",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Thu, 30 Feb 2024 00:00:00 GMT",
            "Thu, 01 Feb 2024 24:00:00 GMT",
            "Thu, 01 Feb 2024 00:00:00 GMT x",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
