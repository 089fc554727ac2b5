//! Path templates for scheduled starts: `{date}`, `{year}`, `{month}`, `{day}`,
//! `{hour}`, `{minute}` (zero-padded, UTC) and `{timestamp}` (unix seconds).
//! `{{` and `}}` stand for literal braces.

use crate::civil_time::UtcDateTime;
use crate::error::TriggerError;

/// The placeholders, as written in templates.
pub const PLACEHOLDERS: [&str; 7] = [
    "date",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "timestamp",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Date,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A parsed template, ready to render at any time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate(Vec<Piece>);

impl PathTemplate {
    /// Parses `text`; errors name `field` and the offending placeholder.
    pub fn parse_as(field: &str, text: &str) -> Result<Self, TriggerError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(TriggerError::invalid(
                            field,
                            "has a '{' that is never closed",
                        ));
                    }
                    let f = match name.as_str() {
                        "date" => Field::Date,
                        "year" => Field::Year,
                        "month" => Field::Month,
                        "day" => Field::Day,
                        "hour" => Field::Hour,
                        "minute" => Field::Minute,
                        "timestamp" => Field::Timestamp,
                        _ => {
                            let shown: String = name.chars().take(40).collect();
                            return Err(TriggerError::invalid(
                                field,
                                &format!(
                                    "unknown placeholder {{{shown}}} (known: {})",
                                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                                ),
                            ));
                        }
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(f));
                }
                '}' => {
                    return Err(TriggerError::invalid(
                        field,
                        "has a '}' without '{' (write '}}' for a literal brace)",
                    ))
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(PathTemplate(pieces))
    }

    /// The text at unix time `secs` (UTC).
    pub fn render(&self, secs: i64) -> String {
        let t = UtcDateTime::from_unix(secs);
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(s) => out.push_str(s),
                Piece::Field(Field::Date) => {
                    out.push_str(&format!("{:04}-{:02}-{:02}", t.year, t.month, t.day))
                }
                Piece::Field(Field::Year) => out.push_str(&format!("{:04}", t.year)),
                Piece::Field(Field::Month) => out.push_str(&format!("{:02}", t.month)),
                Piece::Field(Field::Day) => out.push_str(&format!("{:02}", t.day)),
                Piece::Field(Field::Hour) => out.push_str(&format!("{:02}", t.hour)),
                Piece::Field(Field::Minute) => out.push_str(&format!("{:02}", t.minute)),
                Piece::Field(Field::Timestamp) => out.push_str(&secs.to_string()),
            }
        }
        out
    }
}

/// A `time_offset` such as `-1d`, `-6h` or `+30m`, in seconds. A missing sign means `+`.
pub fn parse_offset(field: &str, text: &str) -> Result<i64, TriggerError> {
    const MAX_SECS: i64 = 3660 * 86_400; // about ten years either way
    let bad = || {
        TriggerError::invalid(
            field,
            "must be a signed whole number of days, hours or minutes, such as \"-1d\", \"-6h\" or \"+30m\"",
        )
    };
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let unit = rest.chars().last().ok_or_else(bad)?;
    let digits = &rest[..rest.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    if secs > MAX_SECS {
        return Err(TriggerError::invalid(
            field,
            "must be at most about ten years",
        ));
    }
    Ok(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil_time::days_from_civil;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    fn render(template: &str, secs: i64) -> String {
        PathTemplate::parse_as("path", template)
            .unwrap()
            .render(secs)
    }

    #[test]
    fn every_placeholder_renders_zero_padded_utc() {
        let t = at(2024, 3, 5, 7, 9);
        assert_eq!(
            render(
                "s3/{date}/{year}/{month}/{day}/{hour}{minute}-{timestamp}.csv",
                t
            ),
            format!("s3/2024-03-05/2024/03/05/0709-{t}.csv")
        );
        assert_eq!(render("{hour}:{minute}", at(2024, 12, 31, 23, 59)), "23:59");
        assert_eq!(render("{date}", 0), "1970-01-01");
    }

    #[test]
    fn literal_braces_are_doubled() {
        assert_eq!(render("a{{b}}c{day}", at(2024, 1, 2, 0, 0)), "a{b}c02");
    }

    #[test]
    fn leap_days_and_month_ends_render() {
        assert_eq!(render("{date}", at(2024, 2, 29, 12, 0)), "2024-02-29");
        assert_eq!(
            render("{date}", at(2024, 2, 29, 12, 0) + 86_400),
            "2024-03-01"
        );
        assert_eq!(
            render("{date}", at(2023, 3, 1, 0, 0) - 86_400),
            "2023-02-28"
        );
        assert_eq!(render("{date}", at(2000, 3, 1, 0, 0) - 1), "2000-02-29");
        assert_eq!(render("{date}", at(2100, 3, 1, 0, 0) - 1), "2100-02-28");
        assert_eq!(render("{date}", at(2024, 5, 1, 0, 0) - 1), "2024-04-30");
    }

    #[test]
    fn unknown_or_unbalanced_placeholders_are_errors_naming_the_field() {
        for (bad, needle) in [
            ("/x/{dat}.csv", "unknown placeholder {dat}"),
            ("/x/{DATE}", "unknown placeholder {DATE}"),
            ("/x/{}", "unknown placeholder {}"),
            ("/x/{date", "never closed"),
            ("/x/date}", "without '{'"),
        ] {
            let e = PathTemplate::parse_as("SCHEDULES[\"0 3 * * *\"][0].path", bad).unwrap_err();
            assert!(
                e.message.starts_with("SCHEDULES[\"0 3 * * *\"][0].path:"),
                "{}",
                e.message
            );
            assert!(e.message.contains(needle), "{} / {needle}", e.message);
        }
    }

    #[test]
    fn offsets_are_days_hours_or_minutes_with_a_sign() {
        assert_eq!(parse_offset("o", "-1d").unwrap(), -86_400);
        assert_eq!(parse_offset("o", "-6h").unwrap(), -21_600);
        assert_eq!(parse_offset("o", "+30m").unwrap(), 1_800);
        assert_eq!(parse_offset("o", "15m").unwrap(), 900);
        assert_eq!(parse_offset("o", "+0d").unwrap(), 0);
        for bad in [
            "",
            "-",
            "d",
            "-1",
            "1s",
            "1 d",
            "- 1d",
            "+-1d",
            "1.5h",
            "99999999d",
            "3661d",
            "-1dd",
            "１d",
        ] {
            assert!(
                parse_offset("o", bad)
                    .unwrap_err()
                    .message
                    .starts_with("o:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn negative_offsets_cross_year_boundaries() {
        let new_year = at(2025, 1, 1, 0, 30);
        assert_eq!(
            render("{date}", new_year + parse_offset("o", "-1d").unwrap()),
            "2024-12-31"
        );
        assert_eq!(
            render(
                "{year}/{month}",
                new_year + parse_offset("o", "-1h").unwrap()
            ),
            "2024/12"
        );
        assert_eq!(
            render(
                "{date} {hour}",
                at(2024, 12, 31, 23, 0) + parse_offset("o", "+90m").unwrap()
            ),
            "2025-01-01 00"
        );
    }
}
