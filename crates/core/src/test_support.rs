//! Helpers the unit tests share.

use std::collections::HashMap;

/// The caller token of [`deployment`].
pub(crate) const TOKEN: &str = "caller-token-0123456789";

/// A lookup of `pairs`, later pairs winning over earlier ones with the same name.
pub(crate) fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

/// The settings of a working deployment (a project, a key pair, [`TOKEN`]), with
/// `extra` added or replacing them.
pub(crate) fn deployment(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    use crate::setting_names::{API_KEY_ID, API_SECRET, PROJECT_TOKEN, TRIGGER_TOKENS};
    let mut pairs = vec![
        (API_KEY_ID, "the-key-id"),
        (API_SECRET, "the-api-secret"),
        (PROJECT_TOKEN, "proj-1"),
        (TRIGGER_TOKENS, TOKEN),
    ];
    pairs.extend_from_slice(extra);
    lookup(&pairs)
}

/// A start Bloomreach accepted (200) at the first attempt, which took `attempts_ms`.
pub(crate) fn accepted(attempts_ms: u64) -> crate::attempts::StartResult {
    crate::attempts::StartResult {
        outcome: Ok(crate::upstream_answer::Accepted { status: 200 }),
        attempts: 1,
        attempts_ms,
        evidence: crate::attempts::Evidence::Started,
    }
}

/// A lookup of settings of any kind, later pairs winning over earlier ones.
pub(crate) struct Values(pub(crate) Vec<(&'static str, crate::settings::SettingValue)>);

impl crate::settings::Lookup for Values {
    fn get(&self, name: &str) -> Option<crate::settings::SettingValue> {
        let found = self.0.iter().rev().find(|(n, _)| *n == name);
        found.map(|(_, value)| value.clone())
    }
}

/// An in-progress entry `id` of an HTTP start begun at 0, as a `begin` writes it.
pub(crate) fn written(id: &str) -> crate::history::Written {
    crate::history::Written {
        started_ms: 0,
        ended_ms: None,
        entry: crate::history::Entry::begun(
            id.to_owned(),
            0,
            crate::ids::ApiKind::DataV1,
            crate::history::Cause::Http,
        ),
        skip_if_found: false,
    }
}

/// A start Bloomreach kept pushing back (429 with `Retry-After`): retryable, nothing
/// started, so a background start or a cron job is held.
pub(crate) fn pushed_back(retry_after_secs: u64) -> crate::StartResult {
    let mut result = accepted(9);
    let mut error = crate::TriggerError::new(crate::ErrorCode::UpstreamRateLimited, "busy");
    error.upstream_status = Some(429);
    error.retry_after_secs = Some(retry_after_secs);
    result.outcome = Err(error);
    result.evidence = crate::Evidence::Retryable;
    result
}
