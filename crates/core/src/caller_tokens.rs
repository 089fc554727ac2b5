//! `TRIGGER_TOKENS` and the `Authorization: Bearer` check of callers.

use crate::error::{ErrorCode, TriggerError};
use crate::secret::Secret;
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The shortest caller token accepted: guessing one must be hopeless.
pub(crate) const MIN_TOKEN_CHARS: usize = 16;

/// The callers' tokens. Several may be valid at once, so one can be rotated out
/// without downtime.
#[derive(Clone, Debug)]
pub struct CallerTokens(Vec<Secret>);

impl CallerTokens {
    /// Reads the comma-separated setting; errors name `field`, never a token.
    pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
        let mut tokens = Vec::new();
        for (i, token) in value.split(',').map(str::trim).enumerate() {
            if token.is_empty() {
                continue;
            }
            if token.chars().count() < MIN_TOKEN_CHARS
                || token.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(TriggerError::misconfigured(format!(
                    "{field}: token {} must be at least {MIN_TOKEN_CHARS} characters without white space",
                    i + 1
                )));
            }
            tokens.push(Secret::new(token));
        }
        if tokens.is_empty() {
            return Err(TriggerError::misconfigured(format!(
                "{field}: lists no token"
            )));
        }
        Ok(CallerTokens(tokens))
    }

    /// Checks an `Authorization` header. On success, the 1-based position of the
    /// matching token, which names the caller in logs without showing the token.
    ///
    /// Neither a token's content nor its length leaks through timing: the presented
    /// token and every configured one are padded to the longest configured token and
    /// compared in full, lengths are compared in constant time too, and every token is
    /// compared whatever matched. (`subtle`'s slice comparison alone returns early when
    /// lengths differ; a digest crate would do as well but costs wasm bytes.)
    pub fn check(&self, authorization: Option<&str>) -> Result<usize, TriggerError> {
        let presented = authorization
            .and_then(bearer_token)
            .ok_or_else(unauthorized)?
            .as_bytes();
        let width = self.0.iter().map(|t| t.expose().len()).max().unwrap_or(0);
        let presented_padded = padded(presented, width);
        let presented_len = presented.len() as u64;
        let mut found = 0u64;
        for (i, token) in self.0.iter().enumerate() {
            let token = token.expose().as_bytes();
            let same = padded(token, width)
                .as_slice()
                .ct_eq(presented_padded.as_slice())
                & (token.len() as u64).ct_eq(&presented_len);
            let first = same & found.ct_eq(&0);
            found = u64::conditional_select(&found, &(i as u64 + 1), first);
        }
        if found == 0 {
            Err(unauthorized())
        } else {
            Ok(found as usize)
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
        assert_eq!(tokens().check(Some(&format!("Bearer {A}"))).unwrap(), 1);
        assert_eq!(tokens().check(Some(&format!("bearer {B}"))).unwrap(), 2);
        assert_eq!(tokens().check(Some(&format!("BEARER   {B}"))).unwrap(), 2);
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
        assert_eq!(t.check(Some(&format!("Bearer {B}x"))).unwrap(), 2);
        assert_eq!(t.check(Some(&format!("Bearer {A}"))).unwrap(), 1);
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
