//! The worker's settings (docs/behaviour.md, "Configuration of the worker"), read from a lookup of names to strings
//! so the same code serves the worker's env, tests and the check command.
//!
//! Problems are reported by setting name, never by value, and all at once, so one
//! deploy fixes them all.

use crate::account::Account;
use crate::base_url::BaseUrl;
use crate::caller_tokens::CallerTokens;
use crate::credentials::Credentials;
use crate::error::TriggerError;
use crate::ids::{ProjectToken, WorkspaceId};
use crate::path_policy::PathPrefixes;
use crate::retry::{RetryLimits, MAX_ATTEMPTS_LIMIT, MAX_ATTEMPT_TIMEOUT_MS, MAX_DEADLINE_MS};

pub const API_KEY_ID: &str = "BLOOMREACH_API_KEY_ID";
pub const API_SECRET: &str = "BLOOMREACH_API_SECRET";
pub const TRIGGER_TOKENS: &str = "TRIGGER_TOKENS";
pub const PROJECT_TOKEN: &str = "BLOOMREACH_PROJECT_TOKEN";
pub const WORKSPACE_ID: &str = "BLOOMREACH_WORKSPACE_ID";
pub const API_BASE: &str = "BLOOMREACH_API_BASE";
pub const ALLOWED_PATH_PREFIXES: &str = "ALLOWED_PATH_PREFIXES";
pub const SCHEDULES: &str = "SCHEDULES";
pub const ATTEMPT_TIMEOUT_MS: &str = "UPSTREAM_ATTEMPT_TIMEOUT_MS";
pub const DEADLINE_MS: &str = "UPSTREAM_DEADLINE_MS";
pub const MAX_ATTEMPTS: &str = "UPSTREAM_MAX_ATTEMPTS";
/// How long the ledger keeps a record, in seconds.
pub const IDEMPOTENCY_TTL_SECONDS: &str = "IDEMPOTENCY_TTL_SECONDS";
/// `enabled` turns on the panic route, for tests.
pub const PANIC_TEST_ROUTE: &str = "PANIC_TEST_ROUTE";
/// The ledger's Durable Object binding.
pub const START_LEDGER: &str = "START_LEDGER";

/// Everything a start needs from configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The project token and/or workspace id, and the base.
    pub account: Account,
    pub credentials: Credentials,
    pub prefixes: Option<PathPrefixes>,
    pub limits: RetryLimits,
}

/// A lookup of a setting by name; empty values count as unset.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

fn value(lookup: &dyn Lookup, name: &str) -> Option<String> {
    lookup.get(name).filter(|v| !v.trim().is_empty())
}

/// Collects problems so they can be reported together.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn required(&mut self, lookup: &dyn Lookup, name: &str) -> Option<String> {
        let v = value(lookup, name);
        if v.is_none() {
            self.0.push(format!("{name} is not set"));
        }
        v
    }

    fn take<T>(&mut self, result: Result<T, TriggerError>) -> Option<T> {
        result.map_err(|e| self.0.push(e.message)).ok()
    }

    fn finish(self) -> Result<(), TriggerError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(TriggerError::misconfigured(self.0.join("; ")))
        }
    }
}

fn bounded_number(
    lookup: &dyn Lookup,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, TriggerError> {
    let Some(text) = value(lookup, name) else {
        return Ok(default);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            TriggerError::misconfigured(format!(
                "{name}: must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

impl Settings {
    /// Reads and validates every setting a start needs.
    pub fn load(lookup: &dyn Lookup) -> Result<Settings, TriggerError> {
        let mut problems = Problems::default();
        let key_id = problems.required(lookup, API_KEY_ID);
        let secret = problems.required(lookup, API_SECRET);
        let credentials = match (key_id, secret) {
            (Some(k), Some(s)) => problems.take(Credentials::new(API_KEY_ID, &k, API_SECRET, &s)),
            _ => None,
        };
        // Each id is optional on its own; a request for an API whose id is missing is
        // refused by `Account::target`, naming it. With neither, nothing can start.
        let project = value(lookup, PROJECT_TOKEN);
        let workspace = value(lookup, WORKSPACE_ID);
        if project.is_none() && workspace.is_none() {
            problems.0.push(format!(
                "{PROJECT_TOKEN} is not set (or {WORKSPACE_ID}, for a Data hub workspace)"
            ));
        }
        let project =
            project.map(|p| problems.take(ProjectToken::parse_as(PROJECT_TOKEN, p.trim())));
        let workspace =
            workspace.map(|w| problems.take(WorkspaceId::parse_as(WORKSPACE_ID, w.trim())));
        let base = match value(lookup, API_BASE) {
            Some(b) => problems
                .take(BaseUrl::parse_as(API_BASE, b.trim()))
                .map(Some),
            None => Some(None),
        };
        let prefixes = match value(lookup, ALLOWED_PATH_PREFIXES) {
            Some(p) => problems
                .take(PathPrefixes::parse_as(ALLOWED_PATH_PREFIXES, &p))
                .map(Some),
            None => Some(None),
        };
        let defaults = RetryLimits::default();
        let attempt_timeout = problems.take(bounded_number(
            lookup,
            ATTEMPT_TIMEOUT_MS,
            defaults.attempt_timeout_ms,
            1..=MAX_ATTEMPT_TIMEOUT_MS,
        ));
        let deadline = problems.take(bounded_number(
            lookup,
            DEADLINE_MS,
            defaults.deadline_ms,
            1..=MAX_DEADLINE_MS,
        ));
        let attempts = problems.take(bounded_number(
            lookup,
            MAX_ATTEMPTS,
            u64::from(defaults.max_attempts),
            1..=u64::from(MAX_ATTEMPTS_LIMIT),
        ));
        problems.finish()?;
        match (
            // Unset is fine (`Some(None)`); set but invalid is a problem (`None`).
            project.map_or(Some(None), |parsed| parsed.map(Some)),
            workspace.map_or(Some(None), |parsed| parsed.map(Some)),
            base,
            credentials,
            prefixes,
            attempt_timeout,
            deadline,
            attempts,
        ) {
            (
                Some(project),
                Some(workspace),
                Some(base),
                Some(credentials),
                Some(prefixes),
                Some(t),
                Some(d),
                Some(a),
            ) => Ok(Settings {
                account: Account {
                    project,
                    workspace,
                    base,
                },
                credentials,
                prefixes,
                limits: RetryLimits {
                    attempt_timeout_ms: t,
                    deadline_ms: d,
                    // bounded to 1..=MAX_ATTEMPTS_LIMIT above
                    max_attempts: a as u32,
                    ..defaults
                },
            }),
            // Unreachable: every `None` above recorded a problem.
            _ => Err(TriggerError::misconfigured("settings could not be read")),
        }
    }

    /// Reads `TRIGGER_TOKENS`, needed only by the HTTP endpoint.
    pub fn caller_tokens(lookup: &dyn Lookup) -> Result<CallerTokens, TriggerError> {
        match value(lookup, TRIGGER_TOKENS) {
            Some(v) => CallerTokens::parse_as(TRIGGER_TOKENS, &v),
            None => Err(TriggerError::misconfigured(format!(
                "{TRIGGER_TOKENS} is not set"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::lookup;
    use crate::ErrorCode;

    const GOOD: &[(&str, &str)] = &[
        (API_KEY_ID, "key-id-value"),
        (API_SECRET, "secret-value-xyz"),
        (PROJECT_TOKEN, "2d0be12a-4b0c-12ec-87da-86c198934217"),
    ];

    #[test]
    fn required_settings_give_defaults_for_the_rest() {
        let s = Settings::load(&lookup(GOOD)).unwrap();
        assert_eq!(s.account.base, None);
        assert_eq!(s.prefixes, None);
        assert_eq!(s.limits, RetryLimits::default());
    }

    #[test]
    fn missing_settings_are_all_named() {
        let e = Settings::load(&lookup(&[(API_SECRET, "  ")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::Misconfigured);
        assert_eq!(
            e.message,
            "BLOOMREACH_API_KEY_ID is not set; BLOOMREACH_API_SECRET is not set; BLOOMREACH_PROJECT_TOKEN is not set (or BLOOMREACH_WORKSPACE_ID, for a Data hub workspace)"
        );
    }

    #[test]
    fn malformed_settings_are_named_without_their_values() {
        let mut pairs = GOOD.to_vec();
        pairs[1] = (API_SECRET, "has space-secret-value");
        pairs.push((API_BASE, "ftp://secret-host"));
        pairs.push((ALLOWED_PATH_PREFIXES, "relative/secret-prefix"));
        pairs.push((DEADLINE_MS, "0"));
        pairs.push((MAX_ATTEMPTS, "eleventy"));
        let e = Settings::load(&lookup(&pairs)).unwrap_err();
        for name in [
            API_SECRET,
            API_BASE,
            ALLOWED_PATH_PREFIXES,
            DEADLINE_MS,
            MAX_ATTEMPTS,
        ] {
            assert!(e.message.contains(name), "{name} in {}", e.message);
        }
        assert!(!e.message.contains("secret"), "{}", e.message);
    }

    #[test]
    fn limits_and_base_can_be_set() {
        let mut pairs = GOOD.to_vec();
        pairs.push((API_BASE, "http://127.0.0.1:9999/"));
        pairs.push((ATTEMPT_TIMEOUT_MS, "1500"));
        pairs.push((DEADLINE_MS, "4000"));
        pairs.push((MAX_ATTEMPTS, "2"));
        let s = Settings::load(&lookup(&pairs)).unwrap();
        assert_eq!(s.account.base.unwrap().as_str(), "http://127.0.0.1:9999");
        assert_eq!(
            (
                s.limits.attempt_timeout_ms,
                s.limits.deadline_ms,
                s.limits.max_attempts
            ),
            (1500, 4000, 2)
        );
    }

    #[test]
    fn trigger_tokens_are_required_for_the_endpoint() {
        let e = Settings::caller_tokens(&lookup(GOOD)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Misconfigured);
        assert!(e.message.contains(TRIGGER_TOKENS));
    }
}
