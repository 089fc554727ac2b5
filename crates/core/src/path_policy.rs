//! `ALLOWED_PATH_PREFIXES`: which path overrides a caller may ask for.
//!
//! A plain string prefix is easy to fool (`https://files.example.com.evil.test/`,
//! `https://files.example.com@evil.test/`, `/exports/../secret`, `%2e%2e`, `%2F`).
//! So both the prefix and the path are read into parts (scheme, host and port, and
//! percent-decoded path segments) and compared part by part. Whatever cannot be read
//! unambiguously (user info, backslashes, encoded slashes, dot segments, relative
//! paths) is refused rather than guessed at.

use crate::error::{ErrorCode, TriggerError};
use percent_encoding::percent_decode_str;

/// A location read into comparable parts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Location {
    /// Lower-cased scheme and authority (`https://files.example.com`), or `None` for an
    /// absolute file path (`/upload/x.csv`, SFTP style).
    origin: Option<String>,
    /// Decoded, non-empty path segments.
    segments: Vec<String>,
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "https" => Some("443"),
        "http" => Some("80"),
        "sftp" => Some("22"),
        _ => None,
    }
}

/// Reads `text` into a [`Location`]; `None` when it cannot be read unambiguously.
fn read_location(text: &str) -> Option<Location> {
    if text.contains('\\') || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let (origin, rest) = match text.split_once("://") {
        Some((scheme, rest)) => {
            let mut chars = scheme.chars();
            let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
                return None;
            }
            let scheme = scheme.to_ascii_lowercase();
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            if authority.is_empty() || authority.contains(['@', '%']) {
                return None;
            }
            let mut authority = authority.to_ascii_lowercase();
            if let Some(port) = default_port(&scheme) {
                if let Some(stripped) = authority.strip_suffix(&format!(":{port}")) {
                    authority = stripped.to_owned();
                }
            }
            (Some(format!("{scheme}://{authority}")), path)
        }
        None => {
            if !text.starts_with('/') || text.starts_with("//") {
                return None;
            }
            (None, text)
        }
    };
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let mut segments = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode_str(raw).decode_utf8().ok()?;
        if decoded == "." || decoded == ".." || decoded.contains(['/', '\\', '%']) {
            return None;
        }
        if decoded.chars().any(char::is_control) {
            return None;
        }
        segments.push(decoded.into_owned());
    }
    Some(Location { origin, segments })
}

/// The allowed prefixes, read once from the setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPrefixes(Vec<Location>);

impl PathPrefixes {
    /// Reads the comma-separated setting; `field` names it in errors.
    pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
        let mut prefixes = Vec::new();
        for (i, entry) in value.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let location = read_location(entry).ok_or_else(|| {
                TriggerError::invalid(
                    field,
                    &format!("entry {} is not an absolute URL or absolute path", i + 1),
                )
            })?;
            prefixes.push(location);
        }
        if prefixes.is_empty() {
            return Err(TriggerError::invalid(field, "lists no prefix"));
        }
        Ok(PathPrefixes(prefixes))
    }

    /// Whether `path` lies under one of the prefixes, compared part by part.
    pub fn allows(&self, path: &str) -> bool {
        let Some(location) = read_location(path) else {
            return false;
        };
        self.0.iter().any(|prefix| {
            prefix.origin == location.origin
                && location.segments.len() >= prefix.segments.len()
                && prefix
                    .segments
                    .iter()
                    .zip(&location.segments)
                    .all(|(a, b)| a == b)
        })
    }

    /// `Ok` when allowed, else the contract's `path_not_allowed`.
    pub fn check(&self, field: &str, path: &str) -> Result<(), TriggerError> {
        if self.allows(path) {
            Ok(())
        } else {
            Err(TriggerError::new(
                ErrorCode::PathNotAllowed,
                format!("{field}: is not under any of ALLOWED_PATH_PREFIXES"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(value: &str) -> PathPrefixes {
        PathPrefixes::parse_as("ALLOWED_PATH_PREFIXES", value).unwrap()
    }

    #[test]
    fn paths_under_a_prefix_are_allowed() {
        let p = prefixes("https://files.example.com/exports/, gs://bucket/daily, /upload");
        for ok in [
            "https://files.example.com/exports/a.csv",
            "https://files.example.com/exports/2024-01-01/a.csv?sig=abc",
            "HTTPS://FILES.example.com/exports/a.csv",
            "https://files.example.com:443/exports/a.csv",
            "https://files.example.com/exports//a.csv",
            "https://files.example.com/%65xports/a.csv",
            "gs://bucket/daily/x.csv",
            "/upload/x.csv",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
    }

    #[test]
    fn prefix_tricks_are_refused() {
        let p = prefixes("https://files.example.com/exports/,/upload");
        for bad in [
            "https://files.example.com.evil.test/exports/a.csv",
            "https://files.example.com@evil.test/exports/a.csv",
            "https://user@files.example.com/exports/a.csv",
            "https://files.example.com/exports-evil/a.csv",
            "https://files.example.com/exports/../secret.csv",
            "https://files.example.com/exports/%2e%2e/secret.csv",
            "https://files.example.com/exports/%2E%2E/secret.csv",
            "https://files.example.com/exports%2F..%2Fsecret.csv",
            "https://files.example.com/exports/..%2fsecret.csv",
            "https://files.example.com/exports\\..\\secret.csv",
            "https://files.example.com%2Fexports/a.csv",
            "http://files.example.com/exports/a.csv",
            "https://files.example.com:8443/exports/a.csv",
            "https://files.example.com/Exports/a.csv",
            "https://files.example.com/exports/a.csv ",
            "https://files.example.com/exports/%25%32%65",
            "//files.example.com/exports/a.csv",
            "exports/a.csv",
            "/upload/../etc/passwd",
            "/uploads/x.csv",
            "https://files.example.com/",
            "",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }

    #[test]
    fn check_names_the_field_and_the_code() {
        let e = prefixes("/upload").check("path", "/x").unwrap_err();
        assert_eq!(e.code, ErrorCode::PathNotAllowed);
        assert!(e.message.starts_with("path:"));
    }

    #[test]
    fn malformed_prefixes_are_refused_by_entry() {
        for bad in ["", " , ", "files.example.com/x", "https://a@b/", "/a/../b"] {
            let e = PathPrefixes::parse_as("ALLOWED_PATH_PREFIXES", bad).unwrap_err();
            assert!(e.message.starts_with("ALLOWED_PATH_PREFIXES:"), "{bad}");
        }
    }
}
