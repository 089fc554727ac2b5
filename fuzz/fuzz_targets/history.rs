//! The start history's inputs: `GET /starts`' query (filters and cursor), RFC 3339
//! instants, path redaction, cron expressions (Cloudflare's parser) and the ledger
//! object's calls on a store that answers nothing. Never a panic; a read query
//! is within its limits; a redacted path holds no user info and no web query.
#![no_main]
use bloomreach_import_core::store::{self, ObjectSettings, Sql, SqlError, SqlValue};
use bloomreach_import_core::{civil_time, cron_expr, history};
use libfuzzer_sys::fuzz_target;

/// A database with no rows, that accepts every statement.
struct Empty;

impl Sql for Empty {
    fn run(&self, _sql: &str, _params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        Ok(Vec::new())
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(query) = history::parse_list_query(Some(&text)) {
        assert!((1..=history::MAX_LIMIT).contains(&query.limit));
        let _ = store::list_sql(&query);
    }
    if let Some(ms) = civil_time::parse_rfc3339_ms(&text) {
        assert!(civil_time::parse_rfc3339_ms(&civil_time::rfc3339_ms(ms)) == Some(ms));
    }
    // Redaction is stable, and a web URL's user info and query are gone.
    let kept = history::redact_path(&text);
    assert!(history::redact_path(&kept) == kept);
    if let Some(rest) = kept.strip_prefix("https://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        assert!(!authority.contains('@') || authority.starts_with("***@"));
        assert!(authority.matches('@').count() <= 1);
        assert!(rest.split_once('?').map_or(true, |(_, q)| q == "***"));
    }
    if let Some(next) = cron_expr::next_run(&text, 1_795_834_800_000) {
        assert!(next > 1_795_834_800_000);
    }
    let _ = store::handle(&Empty, &text, 1_795_834_800_000, &ObjectSettings::default());
    let _ = store::clean_up(&Empty, 0, &ObjectSettings::default());
});
