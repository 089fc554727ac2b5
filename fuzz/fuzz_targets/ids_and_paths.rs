//! Ids, paths, base URLs and path prefixes: validation never panics, and a path
//! that passes a prefix check is itself a valid path override.
#![no_main]
use bloomreach_import_core::{BaseUrl, ImportId, PathOverride, PathPrefixes, ProjectToken};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ImportId::parse(&text);
    let _ = ProjectToken::parse(&text);
    let _ = BaseUrl::parse(&text);
    let path_ok = PathOverride::parse(&text).is_ok();
    if let Ok(prefixes) = PathPrefixes::parse_as("P", "gs://bucket/daily,/upload-sftp") {
        if prefixes.allows(&text) {
            // Non-HTTP paths: byte for byte at a `/` boundary, nothing a server could
            // read as a query, fragment, escape or dot segment.
            assert!(!text.contains(['?', '#', '%', '\\']), "special character passed");
            let rest = text.strip_prefix("gs://").unwrap_or(&text);
            assert!(!rest.split('/').any(|s| s == "." || s == ".."), "dot segment passed");
            let under = |p: &str| {
                let t = text.trim_end_matches('/');
                t == p || t.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
            };
            assert!(under("gs://bucket/daily") || under("/upload-sftp"), "not under a prefix");
        }
    }
    if let Ok(prefixes) = PathPrefixes::parse_as("P", "https://files.example.com/exports/,/upload") {
        if prefixes.allows(&text) {
            assert!(path_ok || text.chars().count() > 2048 || text.is_empty());
            if let Some((_, rest)) = text.split_once("://") {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                assert!(!authority.contains('@'), "user info passed the prefix check");
            }
        }
    }
    let middle = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
    let (a, b) = text.split_at(middle);
    if let Ok(prefixes) = PathPrefixes::parse_as("P", a) {
        let _ = prefixes.allows(b);
    }
});
