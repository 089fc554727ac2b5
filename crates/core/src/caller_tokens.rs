//! `TRIGGER_TOKENS` and the `Authorization: Bearer` check of callers.
//!
//! An entry is a token, or `name:token` (docs/behaviour.md, "Callers"): the name is
//! the caller in log lines and in the start history; an unnamed token's caller is
//! `token#N`, its 1-based position in the list.

use crate::error::{ErrorCode, TriggerError};
use crate::secret::Secret;
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The shortest caller token accepted: guessing one must be hopeless.
pub(crate) const MIN_TOKEN_CHARS: usize = 16;

/// The longest caller name.
pub(crate) const MAX_NAME_CHARS: usize = 64;

/// Whether `name` is a caller's name: 1..=64 characters of `A-Z a-z 0-9 _ . -`.
pub(crate) fn is_caller_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Whether `caller` is how a caller can be named: a name, or `token#N`.
pub(crate) fn is_caller(caller: &str) -> bool {
    is_caller_name(caller)
        || caller
            .strip_prefix("token#")
            .is_some_and(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// One configured token and the caller it names.
#[derive(Clone, Debug)]
struct Entry {
    /// The name, or `token#N`.
    caller: String,
    token: Secret,
}

/// The callers' tokens. Several may be valid at once, so one can be rotated out
/// without downtime.
#[derive(Clone, Debug)]
pub struct CallerTokens(Vec<Entry>);

impl CallerTokens {
    /// Reads the comma-separated setting; errors name `field` and the entry's
    /// position, never an entry's text (it holds a token).
    pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (i, entry) in value.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let position = i + 1;
            let malformed =
                |why: &str| TriggerError::misconfigured(format!("{field}: entry {position} {why}"));
            // A token holds no ':' before the name's end: the part before the first
            // ':' is a name, or the entry is malformed.
            let (caller, token) = match entry.split_once(':') {
                None => (format!("token#{position}"), entry),
                Some((name, token)) => {
                    if !is_caller_name(name) {
                        return Err(malformed(&format!(
                            "has a name (the part before ':') that is not 1 to {MAX_NAME_CHARS} characters of A-Z a-z 0-9 _ . -"
                        )));
                    }
                    if entries.iter().any(|e| e.caller == name) {
                        return Err(malformed("repeats the name of an earlier entry"));
                    }
                    (name.to_owned(), token)
                }
            };
            if token.chars().count() < MIN_TOKEN_CHARS
                || token.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(malformed(&format!(
                    "has a token that is not at least {MIN_TOKEN_CHARS} characters without white space"
                )));
            }
            entries.push(Entry {
                caller,
                token: Secret::new(token),
            });
        }
        if entries.is_empty() {
            return Err(TriggerError::misconfigured(format!(
                "{field}: lists no token"
            )));
        }
        Ok(CallerTokens(entries))
    }

    /// Checks an `Authorization` header. On success, the caller: the matching entry's
    /// name, or `token#N` for an unnamed one (never the token).
    ///
    /// Neither a token's content nor its length leaks through timing: the presented
    /// token and every configured one are padded to the longest configured token and
    /// compared in full, lengths are compared in constant time too, and every token is
    /// compared whatever matched. (`subtle`'s slice comparison alone returns early when
    /// lengths differ; a digest crate would do as well but costs wasm bytes.)
    pub fn check(&self, authorization: Option<&str>) -> Result<&str, TriggerError> {
        let presented = authorization
            .and_then(bearer_token)
            .ok_or_else(unauthorized)?
            .as_bytes();
        let width = self
            .0
            .iter()
            .map(|e| e.token.expose().len())
            .max()
            .unwrap_or(0);
        let presented_padded = padded(presented, width);
        let presented_len = presented.len() as u64;
        let mut found = 0u64;
        for (i, entry) in self.0.iter().enumerate() {
            let token = entry.token.expose().as_bytes();
            let same = padded(token, width)
                .as_slice()
                .ct_eq(presented_padded.as_slice())
                & (token.len() as u64).ct_eq(&presented_len);
            let first = same & found.ct_eq(&0);
            found = u64::conditional_select(&found, &(i as u64 + 1), first);
        }
        match found.checked_sub(1).and_then(|i| self.0.get(i as usize)) {
            Some(entry) => Ok(&entry.caller),
            None => Err(unauthorized()),
        }
    }
}

/// `bytes` cut or zero-padded to exactly `width` bytes.
fn padded(bytes: &[u8], width: usize) -> Vec<u8> {
    let mut out = vec![0u8; width];
    let n = bytes.len().min(width);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

fn unauthorized() -> TriggerError {
    TriggerError::new(
        ErrorCode::Unauthorized,
        "a valid 'Authorization: Bearer <token>' header is required",
    )
}

/// The token of a `Bearer` header (scheme case-insensitive, RFC 9110), if well formed.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() || token.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaa-first";
    const B: &str = "bbbbbbbbbbbbbbbb-second";

    fn tokens() -> CallerTokens {
        CallerTokens::parse_as("TRIGGER_TOKENS", &format!(" {A} ,{B},")).unwrap()
    }

    #[test]
    fn any_listed_token_is_accepted_and_named_by_position() {
        assert_eq!(
            tokens().check(Some(&format!("Bearer {A}"))).unwrap(),
            "token#1"
        );
        assert_eq!(
            tokens().check(Some(&format!("bearer {B}"))).unwrap(),
            "token#2"
        );
        assert_eq!(
            tokens().check(Some(&format!("BEARER   {B}"))).unwrap(),
            "token#2"
        );
    }

    #[test]
    fn named_entries_name_their_caller_and_unnamed_ones_keep_their_position() {
        let t = CallerTokens::parse_as(
            "TRIGGER_TOKENS",
            &format!("ci-2026-12:{A}, {B} ,ops.team_1:{B}:with-colon"),
        )
        .unwrap();
        assert_eq!(t.check(Some(&format!("Bearer {A}"))).unwrap(), "ci-2026-12");
        assert_eq!(t.check(Some(&format!("Bearer {B}"))).unwrap(), "token#2");
        // Only the first ':' splits: the token may hold more.
        assert_eq!(
            t.check(Some(&format!("Bearer {B}:with-colon"))).unwrap(),
            "ops.team_1"
        );
        // The name is not part of the token.
        assert!(t.check(Some(&format!("Bearer ci-2026-12:{A}"))).is_err());
        let long = "n".repeat(64);
        assert!(CallerTokens::parse_as("T", &format!("{long}:{A}")).is_ok());
    }

    #[test]
    fn malformed_and_repeated_names_name_the_entry_by_position_never_its_text() {
        for (value, position) in [
            (format!("{A},:{B}"), 2),
            (format!("bad name:{A}"), 1),
            (format!("{}:{A}", "n".repeat(65)), 1),
            (format!("{A},é:{B}"), 2),
            (format!("x/y:{A}"), 1),
            (format!("same:{A},other:{B},same:{B}x"), 3),
            ("ok:short".to_owned(), 1),
            (format!("{A},,ok:"), 3),
        ] {
            let e = CallerTokens::parse_as("TRIGGER_TOKENS", &value).unwrap_err();
            assert_eq!(e.code, ErrorCode::Misconfigured);
            assert!(
                e.message
                    .starts_with(&format!("TRIGGER_TOKENS: entry {position} ")),
                "{value}: {}",
                e.message
            );
            for part in value.split([',', ':']).filter(|p| p.len() > 3) {
                assert!(!e.message.contains(part), "{}", e.message);
            }
        }
        assert!(
            CallerTokens::parse_as("TRIGGER_TOKENS", &format!("same:{A},same:{B}"))
                .unwrap_err()
                .message
                .contains("repeats the name")
        );
    }

    #[test]
    fn callers_are_names_or_token_positions() {
        for ok in ["ci", "ci-2026-12", "a.b_c", "token#1", "token#12"] {
            assert!(is_caller(ok), "{ok}");
        }
        for bad in ["", "token#", "token#x", "a b", "a:b", "token#1234567", "é"] {
            assert!(!is_caller(bad), "{bad}");
        }
    }

    #[test]
    fn wrong_missing_or_malformed_credentials_are_unauthorized() {
        for header in [
            None,
            Some(String::new()),
            Some(A.to_owned()),
            Some(format!("Basic {A}")),
            Some(format!("Token {A}")),
            Some(format!("Bearer{A}")),
            Some(format!("Bearer {A}x")),
            Some(format!("Bearer {}", &A[..A.len() - 1])),
            Some(format!("Bearer {A} {B}")),
            Some(format!("Bearer {A}\t")),
            Some("Bearer ".to_owned()),
        ] {
            let e = tokens().check(header.as_deref()).unwrap_err();
            assert_eq!(e.code, ErrorCode::Unauthorized, "{header:?}");
            assert!(!e.message.contains(A) && !e.message.contains(B));
        }
    }

    #[test]
    fn tokens_of_other_lengths_and_padding_never_match() {
        let t = CallerTokens::parse_as("TRIGGER_TOKENS", &format!("{A},{B}x")).unwrap();
        assert_eq!(t.check(Some(&format!("Bearer {B}x"))).unwrap(), "token#2");
        assert_eq!(t.check(Some(&format!("Bearer {A}"))).unwrap(), "token#1");
        // A prefix of a longer token, the token with NUL padding, a longer token.
        for header in [
            format!("Bearer {B}"),
            format!("Bearer {A}\0"),
            format!("Bearer {B}xx"),
            format!("Bearer {A}{A}"),
        ] {
            assert_eq!(
                t.check(Some(&header)).unwrap_err().code,
                ErrorCode::Unauthorized,
                "{header:?}"
            );
        }
    }

    #[test]
    fn short_or_missing_tokens_are_a_misconfiguration_without_the_value() {
        for bad in ["", " , ", "short", "aaaaaaaaaaaaaaaa b"] {
            let e = CallerTokens::parse_as("TRIGGER_TOKENS", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::Misconfigured);
            assert!(e.message.starts_with("TRIGGER_TOKENS:"));
            assert!(bad.trim().is_empty() || bad.contains(',') || !e.message.contains(bad));
        }
        assert!(!format!("{:?}", tokens()).contains(A));
    }
}
