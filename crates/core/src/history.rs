//! The start history (docs/behaviour.md, "Start history and schedules"): what an
//! entry holds, how paths are redacted, how `GET /starts` reads its filters and its
//! cursor, and the calls the worker sends the ledger object about entries.
//!
//! Entries live in the ledger object's SQLite, beside the ledger's records
//! ([`crate::store`] holds the SQL). A keyed start and a cron job write theirs inside
//! the ledger calls they already make; an unkeyed HTTP start adds one call after its
//! answer. Nothing here reads a clock or draws a random number: both are passed in.

use crate::civil_time::{parse_rfc3339_ms, rfc3339_ms};
use crate::error::{ErrorCode, TriggerError};
use crate::ids::{ApiKind, ImportId};
use crate::json_text::{quoted, to_text};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// At most this many entries are kept per deployment target, the oldest ended first.
pub const MAX_ENTRIES: u64 = 100_000;
/// The longest message an entry keeps, in characters.
pub const MESSAGE_CHARS: usize = 200;
/// The longest entry id.
pub const MAX_ID_CHARS: usize = 64;
/// How long an ended entry is kept when `HISTORY_RETENTION_DAYS` is not set.
pub const DEFAULT_RETENTION_DAYS: u64 = 30;

/// `HISTORY_RETENTION_DAYS` in milliseconds: a whole number of days from 1 to 365 (a
/// number or numeric text), 30 when unset; an error naming it when malformed.
pub fn retention_ms(lookup: &dyn crate::settings::Lookup) -> Result<u64, TriggerError> {
    let days = crate::settings::whole_number(
        lookup,
        crate::setting_names::HISTORY_RETENTION_DAYS,
        DEFAULT_RETENTION_DAYS,
        1..=365,
    )?;
    Ok(days * 86_400_000)
}

/// Whether `HISTORY_TEST_HOOKS` is the text `enabled` (tests only).
pub fn test_hooks_enabled(lookup: &dyn crate::settings::Lookup) -> bool {
    matches!(
        lookup.get(crate::setting_names::HISTORY_TEST_HOOKS),
        Some(crate::settings::SettingValue::Text(t)) if t == "enabled"
    )
}

/// `GET /starts`' page size when `limit` is not given, and its largest.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// How a start was caused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Http,
    Cron,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Http => "http",
            Cause::Cron => "cron",
        }
    }
}

/// The outcome of a start under way (or held).
pub const IN_PROGRESS: &str = "in_progress";
/// The outcome of a cron job that a redelivery of its event did not start again.
pub const SKIPPED: &str = "skipped";

/// One entry, as stored and as answered. Field order is the answer's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// Absent only for a cron job whose configuration has no valid import id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    pub api: ApiKind,
    pub cause: Cause,
    /// HTTP: the caller's name, or `token#N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Cron: the `SCHEDULES` key, the event's scheduled time and the job's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<u32>,
    /// The path sent, redacted ([`redact_path`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_connection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// `ok`, an error code, `skipped`, or `in_progress`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    #[serde(default)]
    pub attempts: u32,
    /// Absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A held start's next try (written by held starts, a later version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// A skipped job: the outcome its first run recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_outcome: Option<String>,
}

impl Entry {
    /// An entry of a start that began at `started_ms`, still in progress.
    pub fn begun(id: String, started_ms: i64, api: ApiKind, cause: Cause) -> Entry {
        Entry {
            id,
            started_at: rfc3339_ms(started_ms),
            import_id: None,
            api,
            cause,
            caller: None,
            cron: None,
            scheduled_time: None,
            job: None,
            path: None,
            test_connection: None,
            idempotency_key: None,
            outcome: IN_PROGRESS.to_owned(),
            upstream_status: None,
            attempts: 0,
            duration_ms: None,
            message: None,
            next_attempt_at: None,
            recorded_outcome: None,
        }
    }

    /// Sets how the start ended: `ok` or the error's code and message, Bloomreach's
    /// last status, the attempts and their time.
    pub fn end(&mut self, result: &crate::attempts::StartResult) {
        match &result.outcome {
            Ok(accepted) => {
                self.outcome = "ok".to_owned();
                self.upstream_status = Some(accepted.status);
                self.message = None;
            }
            Err(error) => self.fail(error),
        }
        self.attempts = result.attempts;
        self.duration_ms = Some(result.attempts_ms);
    }

    /// Sets a failure before or instead of a start: its code and message.
    pub fn fail(&mut self, error: &TriggerError) {
        self.outcome = error.code.as_str().to_owned();
        self.upstream_status = error.upstream_status;
        self.message = Some(short_message(&redact_text(&error.message)));
        self.duration_ms.get_or_insert(0);
    }

    /// Whether the outcome is an error code (what `outcome=failed` selects).
    pub fn failed(&self) -> bool {
        ErrorCode::from_name(&self.outcome).is_some()
    }

    /// The entry of a start whose worker was stopped mid-start: its ledger record
    /// reads "outcome unknown", and so does the entry.
    pub fn settle_unknown(&mut self) {
        self.outcome = ErrorCode::UpstreamOutcomeUnknown.as_str().to_owned();
        self.message = Some(
            "the start began and its outcome was never recorded (the worker was stopped mid-start); it may have started".to_owned(),
        );
        self.next_attempt_at = None;
    }
}

/// A message as an entry keeps it: at most [`MESSAGE_CHARS`] characters.
pub fn short_message(message: &str) -> String {
    message.chars().take(MESSAGE_CHARS).collect()
}

/// What the worker sends the object about one entry: the entry, when it started and
/// (once over) ended, in unix ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Written {
    pub started_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    pub entry: Entry,
    /// On a `begin` that finds its record (a redelivered cron event): record the job
    /// as `skipped` instead.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_if_found: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// An entry id: opaque, unique, at most 64 characters of `A-Z a-z 0-9 _ -`. Made of
/// the start time and 64 random bits the shell draws, so two starts in the same
/// millisecond differ.
pub fn entry_id(started_ms: i64, random: u64) -> String {
    format!("{:x}-{random:016x}", started_ms.max(0))
}

/// Whether `id` could be an entry's id (anything else is not found without a lookup).
pub fn is_entry_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A path as the history keeps it (and `GET /schedules` and the page show it): the
/// user info of a `scheme://` path replaced by `***`, and for `http(s)` its query too
/// (a signed URL carries its credentials there), so no secret is ever recorded:
/// `https://u:p@files.example.com/a.csv?sig=x` is `https://***@files.example.com/a.csv?***`.
/// Other paths are kept as sent.
pub fn redact_path(path: &str) -> String {
    let Some(scheme_end) = path.find("://") else {
        return path.to_owned();
    };
    let scheme = &path[..scheme_end];
    let is_scheme = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !is_scheme {
        return path.to_owned();
    }
    let rest = &path[scheme_end + 3..];
    let (host, tail) = match user_info_end(rest) {
        Some(at) => {
            let after = &rest[at + 1..];
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            (format!("***@{}", &after[..end]), &after[end..])
        }
        None => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        }
    };
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let tail = match tail.find('?') {
        Some(q) if web => format!("{}?***", &tail[..q]),
        _ => tail.to_owned(),
    };
    format!("{scheme}://{host}{tail}")
}

/// Where the user info of what follows `scheme://` ends (its `@`), if it has one: in the
/// authority as RFC 3986 reads it (up to the first `/`, `?` or `#`), or, since passwords
/// are often written raw and may hold those characters (`user:pa/ss@host`), at the
/// first `@` after an authority of the form `user:password` whose password is not a
/// port number (`host:8443/a@b.csv` keeps its `@`).
fn user_info_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some(at) = rest[..authority_end].rfind('@') {
        return Some(at);
    }
    let (_, after_colon) = rest[..authority_end].split_once(':')?;
    if after_colon.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at = authority_end + rest[authority_end..].find('@')?;
    let path_after = rest[at..].find('/').map_or(rest.len(), |i| at + i);
    rest[..path_after].rfind('@')
}

/// `message` with every `scheme://` address in it redacted like a path: Bloomreach's
/// own error text may quote the file address it could not fetch, signed query and all.
pub fn redact_text(message: &str) -> String {
    if !message.contains("://") {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(found) = rest.find("://") {
        // The address starts after the last separator before `://`.
        let start = rest[..found]
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '<' | '[' | ','))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = rest[found..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | ']' | ','))
            .map_or(rest.len(), |i| found + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_path(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `GET /starts`' `outcome` filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeFilter {
    Ok,
    /// Any error code.
    Failed,
    Skipped,
    InProgress,
    /// One error code, by name.
    Code(String),
}

/// `GET /starts`' filters. Part of the cursor, so a cursor serves only the filters it
/// was made with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Inclusive, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Exclusive, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
}

/// Where a page ended: the last entry's start time and id (the list's order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub started_ms: i64,
    pub id: String,
}

/// One page's query, as the worker sends it to the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub filters: Filters,
    pub limit: u32,
    /// Entries strictly after this position in the list's order (newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Position>,
}

/// What a cursor holds: the filters it serves and the position to go on from.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorState {
    f: Filters,
    p: Position,
}

fn cursor_of(filters: &Filters, position: &Position) -> String {
    let text = to_text(&CursorState {
        f: filters.clone(),
        p: position.clone(),
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn read_cursor(cursor: &str) -> Option<CursorState> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

const PARAMETERS: [&str; 8] = [
    "import_id",
    "outcome",
    "cause",
    "caller",
    "since",
    "until",
    "limit",
    "cursor",
];

/// Reads `GET /starts`' query (without `?`). Each parameter at most once; an unknown
/// or repeated one, or a bad value, is `400 invalid_request` naming it. Values are
/// percent-decoded (`+` is a plus: RFC 3339 offsets hold one).
pub fn parse_list_query(query: Option<&str>) -> Result<ListQuery, TriggerError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut filters = Filters::default();
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key).unwrap_or_default();
        let Some(&name) = PARAMETERS.iter().find(|p| **p == key) else {
            let shown: String = key.chars().take(40).collect();
            return Err(TriggerError::invalid(
                "query",
                &format!(
                    "unknown parameter {} (known: {})",
                    quoted(&shown),
                    PARAMETERS.join(", ")
                ),
            ));
        };
        if seen.contains(&name) {
            return Err(TriggerError::invalid(name, "is given more than once"));
        }
        seen.push(name);
        let value = decode(raw_value)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TriggerError::invalid(name, "needs a value"))?;
        match name {
            "import_id" => {
                ImportId::parse_as(name, &value)?;
                filters.import_id = Some(value);
            }
            "outcome" => filters.outcome = Some(outcome_filter(&value)?),
            "cause" => {
                filters.cause = Some(match value.as_str() {
                    "http" => Cause::Http,
                    "cron" => Cause::Cron,
                    _ => return Err(TriggerError::invalid(name, "must be http or cron")),
                })
            }
            "caller" => {
                if !crate::caller_tokens::is_caller(&value) {
                    return Err(TriggerError::invalid(
                        name,
                        "must be a caller's name (1 to 64 characters of A-Z a-z 0-9 _ . -) or token#N",
                    ));
                }
                filters.caller = Some(value);
            }
            "since" | "until" => {
                let ms = parse_rfc3339_ms(&value).ok_or_else(|| {
                    TriggerError::invalid(
                        name,
                        "must be an RFC 3339 instant, such as 2026-12-01T03:00:00Z",
                    )
                })?;
                if name == "since" {
                    filters.since_ms = Some(ms);
                } else {
                    filters.until_ms = Some(ms);
                }
            }
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        TriggerError::invalid(
                            name,
                            &format!("must be a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            _ => cursor = Some(value),
        }
    }
    let after = match cursor {
        None => None,
        Some(text) => {
            let state = read_cursor(&text).ok_or_else(|| {
                TriggerError::invalid("cursor", "is not a next_cursor of this worker")
            })?;
            if state.f != filters {
                return Err(TriggerError::invalid(
                    "cursor",
                    "was made for other filters; give the same filters as the request that returned it",
                ));
            }
            Some(state.p)
        }
    };
    Ok(ListQuery {
        filters,
        limit,
        after,
    })
}

fn decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|v| v.into_owned())
}

fn outcome_filter(value: &str) -> Result<OutcomeFilter, TriggerError> {
    Ok(match value {
        "ok" => OutcomeFilter::Ok,
        "failed" => OutcomeFilter::Failed,
        SKIPPED => OutcomeFilter::Skipped,
        IN_PROGRESS => OutcomeFilter::InProgress,
        code if ErrorCode::from_name(code).is_some() => OutcomeFilter::Code(code.to_owned()),
        _ => {
            return Err(TriggerError::invalid(
                "outcome",
                "must be ok, failed, skipped, in_progress or an error code",
            ))
        }
    })
}

/// The calls on the ledger object that are not the ledger's own (`begin` and
/// `finish` carry their entries themselves).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum HistoryCall {
    /// Write an ended entry (an unkeyed HTTP start, a cron job that failed before its
    /// `begin`).
    Record { history: Box<Written> },
    /// One page of `GET /starts`.
    List { query: ListQuery },
    /// One entry by id.
    Get { id: String },
    /// The newest entry that is not `skipped` of each (cron, job index).
    Last { jobs: Vec<(String, u32)> },
    /// Tests only (`HISTORY_TEST_HOOKS`): the clean-up as if it were `now_ms`.
    Cleanup { now_ms: u64 },
    /// Tests and benchmarks only (`HISTORY_TEST_HOOKS`): `count` ended entries of
    /// `import_id`, one a millisecond from `started_ms`.
    Fill {
        count: u32,
        started_ms: i64,
        import_id: String,
    },
}

/// The call that writes an ended entry.
pub fn record_call(written: &Written) -> String {
    to_text(&HistoryCall::Record {
        history: Box::new(written.clone()),
    })
}

/// The call for one page of `GET /starts`.
pub fn list_call(query: &ListQuery) -> String {
    to_text(&HistoryCall::List {
        query: query.clone(),
    })
}

/// The call for one entry.
pub fn get_call(id: &str) -> String {
    to_text(&HistoryCall::Get { id: id.to_owned() })
}

/// The call for the newest entries of cron jobs.
pub fn last_call(jobs: Vec<(String, u32)>) -> String {
    to_text(&HistoryCall::Last { jobs })
}

/// The id of the entry a call carries (for the log line of a failed write).
pub fn written_id(call: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Carrying {
        history: Written,
    }
    serde_json::from_str::<Carrying>(call)
        .ok()
        .map(|c| c.history.entry.id)
}

/// Whether the object's answer to a `record` says it was written.
pub fn read_recorded(answer: &str) -> bool {
    #[derive(Deserialize)]
    struct Recorded {
        recorded: bool,
    }
    serde_json::from_str::<Recorded>(answer).is_ok_and(|r| r.recorded)
}

/// The object's answer to a `list`: the entries as stored, and where to go on from
/// when there may be more.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page {
    pub starts: Vec<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub next: Option<Position>,
}

/// `GET /starts`' answer.
#[derive(Serialize)]
struct ListAnswer<'a> {
    ok: bool,
    starts: &'a [Box<serde_json::value::RawValue>],
    next_cursor: Option<String>,
}

/// The answer to `GET /starts` from the object's page.
pub fn list_answer(query: &ListQuery, page: &Page) -> String {
    to_text(&ListAnswer {
        ok: true,
        starts: &page.starts,
        next_cursor: page.next.as_ref().map(|p| cursor_of(&query.filters, p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_user_info_and_web_queries() {
        for (path, kept) in [
            (
                "https://u:p@files.example.com/a.csv?sig=x",
                "https://***@files.example.com/a.csv?***",
            ),
            (
                "https://files.example.com/a.csv?X-Amz-Signature=abc&b=c#frag",
                "https://files.example.com/a.csv?***",
            ),
            ("HTTP://h/x?q", "HTTP://h/x?***"),
            ("sftp://user:pass@host/x.csv", "sftp://***@host/x.csv"),
            ("sftp://user@host:22/x.csv?y", "sftp://***@host:22/x.csv?y"),
            (
                "s3://bucket/x.csv?versionId=1",
                "s3://bucket/x.csv?versionId=1",
            ),
            ("gs://a@b/x", "gs://***@b/x"),
            ("https://a@b@host/x", "https://***@host/x"),
            ("https://host?q@x", "https://host?***"),
            ("/upload/a.csv", "/upload/a.csv"),
            ("/upload/a.csv?x=1", "/upload/a.csv?x=1"),
            ("not a url://x@y", "not a url://x@y"),
            ("://x@y", "://x@y"),
            ("https://", "https://"),
        ] {
            assert_eq!(redact_path(path), kept, "{path}");
        }
    }

    #[test]
    fn ids_are_short_safe_and_distinct() {
        let a = entry_id(1_795_834_800_120, 7);
        let b = entry_id(1_795_834_800_120, 8);
        assert_ne!(a, b);
        assert!(is_entry_id(&a) && a.len() <= MAX_ID_CHARS, "{a}");
        assert!(is_entry_id(&entry_id(i64::MAX, u64::MAX)));
        assert!(is_entry_id(&entry_id(-5, 0)));
        for bad in ["", "a/b", "a b", &"x".repeat(65), "é"] {
            assert!(!is_entry_id(bad), "{bad}");
        }
    }

    #[test]
    fn raw_passwords_and_addresses_in_messages_are_redacted() {
        assert_eq!(
            redact_path("sftp://user:pa#ss@host/x.csv"),
            "sftp://***@host/x.csv"
        );
        assert_eq!(redact_path("sftp://u:p?w@host/"), "sftp://***@host/");
        assert_eq!(
            redact_path("sftp://user:pa/ss@host/x.csv"),
            "sftp://***@host/x.csv"
        );
        assert_eq!(
            redact_path("sftp://user@host/a@b.csv"),
            "sftp://***@host/a@b.csv"
        );
        assert_eq!(
            redact_path("https://host/a@b.csv?sig=1"),
            "https://host/a@b.csv?***"
        );
        assert_eq!(redact_path("/plain/path.csv"), "/plain/path.csv");
        assert_eq!(
            redact_text("Could not fetch https://u:p@files.example.com/a.csv?sig=x (403)"),
            "Could not fetch https://***@files.example.com/a.csv?*** (403)"
        );
        assert_eq!(
            redact_text(r#"{"path": "sftp://a:b@h/x", "other": "gs://b/o?x=1"}"#),
            r#"{"path": "sftp://***@h/x", "other": "gs://b/o?x=1"}"#
        );
        assert_eq!(redact_text("no address here"), "no address here");
        // A separator of several bytes (U+2004) before the address.
        assert_eq!(
            redact_text("fetch\u{2004}sftp://u:p@h/x failed"),
            "fetch\u{2004}sftp://***@h/x failed"
        );
    }

    #[test]
    fn an_entry_ends_with_its_outcome_and_keeps_short_messages() {
        let mut e = Entry::begun("i".into(), 1_000, ApiKind::DataV1, Cause::Http);
        assert_eq!(e.started_at, "1970-01-01T00:00:01.000Z");
        assert_eq!((e.outcome.as_str(), e.duration_ms), ("in_progress", None));
        e.end(&crate::test_support::accepted(40));
        assert_eq!(
            (e.outcome.as_str(), e.upstream_status, e.duration_ms),
            ("ok", Some(200), Some(40))
        );
        assert!(!e.failed());
        let mut error = TriggerError::new(ErrorCode::ImportNotFound, "x".repeat(500));
        error.upstream_status = Some(404);
        e.fail(&error);
        assert_eq!(e.outcome, "import_not_found");
        assert_eq!(e.message.as_ref().map(|m| m.chars().count()), Some(200));
        assert!(e.failed());
        let v: serde_json::Value = serde_json::from_str(&to_text(&e)).unwrap();
        assert_eq!(v["upstream_status"], 404);
        assert_eq!(v.get("caller"), None);
    }

    fn query(q: &str) -> Result<ListQuery, TriggerError> {
        parse_list_query(Some(q))
    }

    #[test]
    fn filters_limit_and_defaults_are_read() {
        let q = parse_list_query(None).unwrap();
        assert_eq!(
            (q.limit, q.after, q.filters),
            (50, None, Filters::default())
        );
        let q = query("import_id=customers-daily&outcome=failed&cause=cron&caller=ci.2026-12&since=2026-11-28T04:00:00%2B01:00&until=2026-11-29T00:00:00Z&limit=200").unwrap();
        assert_eq!(
            q.filters,
            Filters {
                import_id: Some("customers-daily".into()),
                outcome: Some(OutcomeFilter::Failed),
                cause: Some(Cause::Cron),
                caller: Some("ci.2026-12".into()),
                since_ms: Some(1_795_834_800_000),
                until_ms: Some(1_795_910_400_000),
            }
        );
        assert_eq!(q.limit, 200);
        // A literal '+' is a plus, not a space.
        assert_eq!(
            query("since=2026-11-28T04:00:00+01:00")
                .unwrap()
                .filters
                .since_ms,
            Some(1_795_834_800_000)
        );
        for (outcome, expected) in [
            ("ok", OutcomeFilter::Ok),
            ("skipped", OutcomeFilter::Skipped),
            ("in_progress", OutcomeFilter::InProgress),
            (
                "upstream_error",
                OutcomeFilter::Code("upstream_error".into()),
            ),
        ] {
            assert_eq!(
                query(&format!("outcome={outcome}"))
                    .unwrap()
                    .filters
                    .outcome,
                Some(expected)
            );
        }
        assert_eq!(query("&&limit=1&").unwrap().limit, 1);
        assert_eq!(
            query("caller=token%2312")
                .unwrap()
                .filters
                .caller
                .as_deref(),
            Some("token#12")
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (q, name) in [
            ("colour=red", "query"),
            ("import_id=a&import_id=b", "import_id"),
            ("limit=5&limit=5", "limit"),
            ("import_id=a.b", "import_id"),
            ("import_id=", "import_id"),
            ("import_id", "import_id"),
            ("outcome=bad", "outcome"),
            ("outcome=failed&outcome=ok", "outcome"),
            ("cause=mail", "cause"),
            ("caller=a%20b", "caller"),
            ("caller=%FF", "caller"),
            ("since=yesterday", "since"),
            ("until=2026-11-28", "until"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-1", "limit"),
            ("limit=1.5", "limit"),
            ("cursor=nonsense", "cursor"),
            ("cursor=e30", "cursor"),
        ] {
            let e = query(q).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{q}");
            assert!(
                e.message.starts_with(&format!("{name}: ")),
                "{q}: {}",
                e.message
            );
        }
    }

    #[test]
    fn a_cursor_serves_only_its_own_filters_and_any_limit() {
        let q = query("outcome=failed&import_id=a").unwrap();
        let page = Page {
            starts: vec![],
            next: Some(Position {
                started_ms: 5,
                id: "5-x".into(),
            }),
        };
        let answer: serde_json::Value = serde_json::from_str(&list_answer(&q, &page)).unwrap();
        let cursor = answer["next_cursor"].as_str().unwrap();
        assert!(cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let next = query(&format!(
            "import_id=a&outcome=failed&limit=7&cursor={cursor}"
        ))
        .unwrap();
        assert_eq!(next.after, page.next);
        assert_eq!(next.limit, 7);
        for other in [
            "outcome=failed",
            "import_id=a&outcome=ok",
            "import_id=a&outcome=failed&cause=http",
        ] {
            let e = query(&format!("{other}&cursor={cursor}")).unwrap_err();
            assert!(
                e.message.starts_with("cursor: was made for other filters"),
                "{other}"
            );
        }
        let last = list_answer(
            &q,
            &Page {
                starts: vec![],
                next: None,
            },
        );
        assert_eq!(last, r#"{"ok":true,"starts":[],"next_cursor":null}"#);
    }
}
