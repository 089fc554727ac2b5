//! `ALLOWED_PATH_PREFIXES`: which path overrides a caller may ask for
//! (docs/behaviour.md, "Allowed path prefixes").
//!
//! A plain string prefix is easy to fool (`https://files.example.com.evil.test/`,
//! `https://files.example.com@evil.test/`, `/exports/../secret`, `%2e%2e`, `%2F`).
//! So an `http(s)` prefix and path are read into parts (scheme, host and port, and
//! percent-decoded path segments) and compared part by part.
//!
//! Every other path (`gs://`, `s3://`, `sftp://`, a bare SFTP path) is compared byte for
//! byte, at a `/` boundary, without decoding: on those servers `?`, `#` and `%` are
//! ordinary characters, not a query, a fragment or an escape, so reading them the
//! HTTP way would let `/upload?/../../etc/passwd` pass as `/upload`. Such a path holding
//! `?`, `#`, `%`, `\` or a `.`/`..` segment is refused outright.
//!
//! Whatever cannot be read unambiguously (user info, backslashes, encoded slashes, dot
//! segments, relative paths) is refused rather than guessed at.

use crate::error::{ErrorCode, TriggerError};
use percent_encoding::percent_decode_str;

/// A location read into comparable parts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    /// An `http(s)` URL: lower-cased scheme and authority (`https://files.example.com`)
    /// and its decoded, non-empty path segments.
    Web {
        origin: String,
        segments: Vec<String>,
    },
    /// Any other path, kept as its exact bytes with trailing slashes removed.
    Opaque(String),
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    }
}

/// The scheme of `text` (before `://`) when it is a well-formed one.
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))).then_some(scheme)
}

/// Reads `text` into a [`Location`]; `None` when it cannot be read unambiguously.
fn read_location(text: &str) -> Option<Location> {
    if text.contains('\\') || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    match scheme_of(text) {
        Some(scheme)
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            read_web(text)
        }
        Some(_) => read_opaque(text),
        None if text.contains("://") => None,
        None => {
            if !text.starts_with('/') || text.starts_with("//") {
                return None;
            }
            read_opaque(text)
        }
    }
}

/// A non-HTTP path: no `?`, `#`, `%`, `\` and no `.`/`..` segment, since the server
/// behind it reads none of them the way a URL would.
fn read_opaque(text: &str) -> Option<Location> {
    if text.contains(['?', '#', '%', '\\']) {
        return None;
    }
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    if after_scheme.split('/').any(|s| s == "." || s == "..") {
        return None;
    }
    if let Some((_, rest)) = text.split_once("://") {
        // A host is needed, and user info is refused as for URLs.
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
    }
    Some(Location::Opaque(text.trim_end_matches('/').to_owned()))
}

fn read_web(text: &str) -> Option<Location> {
    let (scheme, rest) = text.split_once("://")?;
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
    let path = path.split(['?', '#']).next().unwrap_or("");
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
    Some(Location::Web {
        origin: format!("{scheme}://{authority}"),
        segments,
    })
}

/// Whether `path` lies under `prefix`.
fn lies_under(prefix: &Location, path: &Location) -> bool {
    match (prefix, path) {
        (
            Location::Web { origin, segments },
            Location::Web {
                origin: path_origin,
                segments: path_segments,
            },
        ) => {
            origin == path_origin
                && path_segments.len() >= segments.len()
                && segments.iter().zip(path_segments).all(|(a, b)| a == b)
        }
        // Byte for byte, at a `/` boundary: `gs://bucket` covers `gs://bucket/x`,
        // never `gs://bucket-evil/x`.
        (Location::Opaque(prefix), Location::Opaque(path)) => {
            path == prefix
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        _ => false,
    }
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
        self.0.iter().any(|prefix| lies_under(prefix, &location))
    }

    /// `Ok` when allowed, else `path_not_allowed`.
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
    fn non_http_paths_compare_byte_for_byte_at_a_slash() {
        let p = prefixes("/upload, gs://bucket/daily, s3://b, sftp://host.example/in/");
        for ok in [
            "/upload",
            "/upload/x.csv",
            "/upload/2026/11/x.csv",
            "gs://bucket/daily",
            "gs://bucket/daily/x.csv",
            "s3://b/k/x.csv",
            "sftp://host.example/in/x.csv",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            // What the HTTP reading let through (issue: query, fragment, escapes).
            "/upload?/../../etc/passwd",
            "/upload#archive/x.csv",
            "/%75pload/x.csv",
            "/upload/%2e%2e/x",
            "gs://bucket/daily?/x",
            "gs://bucket/daily#x.csv",
            "gs://bucket/daily/x%2Fy",
            // Not at a `/` boundary, or another bucket.
            "/uploads/x.csv",
            "gs://bucket/daily-evil/x",
            "gs://bucket-evil/daily/x",
            "s3://bb/x",
            "GS://bucket/daily/x",
            // Dot segments and backslashes.
            "/upload/../etc/passwd",
            "/upload/./x",
            "gs://bucket/daily/../x",
            "/upload\\x",
            // Another scheme, user info.
            "s3://bucket/daily/x",
            "sftp://user@host.example/in/x.csv",
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
        for bad in [
            "",
            " , ",
            "files.example.com/x",
            "https://a@b/",
            "/a/../b",
            "/a?b",
            "gs://b/%2e",
            "gs:///x",
        ] {
            let e = PathPrefixes::parse_as("ALLOWED_PATH_PREFIXES", bad).unwrap_err();
            assert!(e.message.starts_with("ALLOWED_PATH_PREFIXES:"), "{bad}");
        }
    }
}
