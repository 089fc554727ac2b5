//! The worker's settings (docs/behaviour.md, "Configuration of the worker"), read from a
//! lookup of names to values so the same code serves the worker's env, tests and the
//! check command.
//!
//! Problems are reported by setting name, never by value, and all at once, so one
//! deploy fixes them all. A value of the wrong kind (a number where text is expected, a
//! table where a number is) is such a problem: no setting is ever silently taken as
//! unset.

use crate::account::Account;
use crate::base_url::BaseUrl;
use crate::caller_tokens::CallerTokens;
use crate::credentials::Credentials;
use crate::error::TriggerError;
use crate::ids::{ProjectToken, WorkspaceId};
use crate::path_policy::PathPrefixes;
use crate::retry::{RetryLimits, MAX_ATTEMPTS_LIMIT, MAX_ATTEMPT_TIMEOUT_MS, MAX_DEADLINE_MS};
use crate::setting_names::{
    ALLOWED_PATH_PREFIXES, API_BASE, API_KEY_ID, API_SECRET, ATTEMPT_TIMEOUT_MS, DEADLINE_MS,
    MAX_ATTEMPTS, PROJECT_TOKEN, TRIGGER_TOKENS, WORKSPACE_ID,
};
use std::ops::RangeInclusive;

/// Everything a start needs from configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The project token and/or workspace id, and the base.
    pub account: Account,
    pub credentials: Credentials,
    pub prefixes: Option<PathPrefixes>,
    pub limits: RetryLimits,
}

/// A setting as the environment holds it: `[vars]` may hold text, numbers, booleans and
/// tables.
#[derive(Clone, PartialEq)]
pub enum SettingValue {
    Text(String),
    Number(f64),
    Bool(bool),
    /// A table or an array, as JSON text.
    Structured(String),
}

/// Text may be a secret (the API secret, the caller tokens): its `Debug` shows the kind
/// only.
impl std::fmt::Debug for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Text(_) => f.write_str("Text(***)"),
            SettingValue::Number(n) => write!(f, "Number({n})"),
            SettingValue::Bool(b) => write!(f, "Bool({b})"),
            SettingValue::Structured(_) => f.write_str("Structured(***)"),
        }
    }
}

/// A lookup of a setting by name; text that is empty after trimming counts as unset.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<SettingValue>;
}

/// A lookup of text only (tests, the fuzz targets, the npm-free host tools).
impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<SettingValue> {
        self(name).map(SettingValue::Text)
    }
}

/// A text setting: `None` when unset (absent, or blank text), an error naming it when
/// it holds a number, a boolean or a table.
pub(crate) fn text(lookup: &dyn Lookup, name: &str) -> Result<Option<String>, TriggerError> {
    match lookup.get(name) {
        None => Ok(None),
        Some(SettingValue::Text(text)) => Ok(Some(text).filter(|t| !t.trim().is_empty())),
        Some(_) => Err(TriggerError::misconfigured(format!(
            "{name}: must be a string"
        ))),
    }
}

/// A numeric setting, given as a number (`UPSTREAM_DEADLINE_MS = 5000` in `[vars]`) or
/// as text (`"5000"`): both mean the same. `default` when unset; an error naming it
/// (never showing its value) when it is not a whole number within `range`.
pub(crate) fn whole_number(
    lookup: &dyn Lookup,
    name: &str,
    default: u64,
    range: RangeInclusive<u64>,
) -> Result<u64, TriggerError> {
    let number = match lookup.get(name) {
        None => return Ok(default),
        Some(SettingValue::Text(text)) if text.trim().is_empty() => return Ok(default),
        Some(SettingValue::Text(text)) => text.trim().parse::<u64>().ok(),
        // A float only when it is a whole number: 5000.0 is 5000, 5000.5 is malformed.
        Some(SettingValue::Number(n)) if n.fract() == 0.0 && n >= 0.0 => Some(n as u64),
        Some(_) => None,
    };
    number.filter(|n| range.contains(n)).ok_or_else(|| {
        TriggerError::misconfigured(format!(
            "{name}: must be a whole number from {} to {}",
            range.start(),
            range.end()
        ))
    })
}

/// An optional text setting read by `parse`: `Ok(None)` when unset.
fn optional<T>(
    lookup: &dyn Lookup,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, TriggerError>,
) -> Result<Option<T>, TriggerError> {
    text(lookup, name)?.map(|v| parse(&v)).transpose()
}

/// The project token and/or workspace id, the base and the path prefixes; `None` with
/// the problems recorded when any is malformed, or when neither id is set.
fn read_target(
    lookup: &dyn Lookup,
    problems: &mut Problems,
) -> Option<(Account, Option<PathPrefixes>)> {
    // Each id is optional on its own; a request for an API whose id is missing is
    // refused by `Account::target`, naming it. With neither, nothing can start.
    // `None` below: malformed, and recorded; `Some(None)`: unset.
    let project = problems.take(optional(lookup, PROJECT_TOKEN, |p| {
        ProjectToken::parse_as(PROJECT_TOKEN, p.trim())
    }));
    let workspace = problems.take(optional(lookup, WORKSPACE_ID, |w| {
        WorkspaceId::parse_as(WORKSPACE_ID, w.trim())
    }));
    let neither = matches!((&project, &workspace), (Some(None), Some(None)));
    if neither {
        problems.0.push(format!(
            "{PROJECT_TOKEN} is not set (or {WORKSPACE_ID}, for a Data hub workspace)"
        ));
    }
    let base = problems.take(optional(lookup, API_BASE, |b| {
        BaseUrl::parse_as(API_BASE, b.trim())
    }));
    let prefixes = problems.take(optional(lookup, ALLOWED_PATH_PREFIXES, |p| {
        PathPrefixes::parse_as(ALLOWED_PATH_PREFIXES, p)
    }));
    match (project, workspace, base, prefixes) {
        (Some(project), Some(workspace), Some(base), Some(prefixes)) if !neither => Some((
            Account {
                project,
                workspace,
                base,
            },
            prefixes,
        )),
        _ => None,
    }
}

/// Collects problems so they can be reported together.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// A required text setting, or `None` with its problem recorded.
    fn required(&mut self, lookup: &dyn Lookup, name: &str) -> Option<String> {
        match self.take(text(lookup, name))? {
            Some(v) => Some(v),
            None => {
                self.0.push(format!("{name} is not set"));
                None
            }
        }
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
        let target = read_target(lookup, &mut problems);
        let defaults = RetryLimits::default();
        let attempt_timeout = problems.take(whole_number(
            lookup,
            ATTEMPT_TIMEOUT_MS,
            defaults.attempt_timeout_ms,
            1..=MAX_ATTEMPT_TIMEOUT_MS,
        ));
        let deadline = problems.take(whole_number(
            lookup,
            DEADLINE_MS,
            defaults.deadline_ms,
            1..=MAX_DEADLINE_MS,
        ));
        let attempts = problems.take(whole_number(
            lookup,
            MAX_ATTEMPTS,
            u64::from(defaults.max_attempts),
            1..=u64::from(MAX_ATTEMPTS_LIMIT),
        ));
        problems.finish()?;
        match (target, credentials, attempt_timeout, deadline, attempts) {
            (Some((account, prefixes)), Some(credentials), Some(t), Some(d), Some(a)) => {
                Ok(Settings {
                    account,
                    credentials,
                    prefixes,
                    limits: RetryLimits {
                        attempt_timeout_ms: t,
                        deadline_ms: d,
                        // bounded to 1..=MAX_ATTEMPTS_LIMIT above
                        max_attempts: a as u32,
                        ..defaults
                    },
                })
            }
            // Unreachable: every `None` above recorded a problem.
            _ => Err(TriggerError::misconfigured("settings could not be read")),
        }
    }

    /// The account and the path prefixes alone, with no credentials: what `GET
    /// /starts` (the ledger object's name) and `GET /schedules` need.
    pub fn target_only(
        lookup: &dyn Lookup,
    ) -> Result<(Account, Option<PathPrefixes>), TriggerError> {
        let mut problems = Problems::default();
        let target = read_target(lookup, &mut problems);
        problems.finish()?;
        target.ok_or_else(|| TriggerError::misconfigured("settings could not be read"))
    }

    /// Reads `TRIGGER_TOKENS`, needed only by the HTTP endpoint.
    pub fn caller_tokens(lookup: &dyn Lookup) -> Result<CallerTokens, TriggerError> {
        match text(lookup, TRIGGER_TOKENS)? {
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
    use crate::setting_names::SCHEDULES;
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

    /// A lookup of `GOOD` as text, and `values` of any kind.
    fn with_values(values: Vec<(&'static str, SettingValue)>) -> impl Lookup {
        let good = GOOD
            .iter()
            .map(|(name, v)| (*name, SettingValue::Text((*v).to_owned())));
        crate::test_support::Values(good.chain(values).collect())
    }

    #[test]
    fn a_number_and_numeric_text_mean_the_same() {
        for value in [
            SettingValue::Number(5000.0),
            SettingValue::Text("5000".into()),
            SettingValue::Text(" 5000 ".into()),
        ] {
            let s = Settings::load(&with_values(vec![(DEADLINE_MS, value.clone())])).unwrap();
            assert_eq!(s.limits.deadline_ms, 5000, "{value:?}");
        }
        let s = Settings::load(&with_values(vec![(
            MAX_ATTEMPTS,
            SettingValue::Number(2.0),
        )]))
        .unwrap();
        assert_eq!(s.limits.max_attempts, 2);
        // Blank text is unset, and takes the default.
        let s = Settings::load(&with_values(vec![(
            DEADLINE_MS,
            SettingValue::Text(" ".into()),
        )]))
        .unwrap();
        assert_eq!(s.limits.deadline_ms, RetryLimits::default().deadline_ms);
    }

    #[test]
    fn a_number_of_another_kind_or_out_of_range_is_malformed_by_name() {
        for value in [
            SettingValue::Bool(true),
            SettingValue::Structured(r#"{"ms":5000}"#.into()),
            SettingValue::Structured("[5000]".into()),
            SettingValue::Number(5000.5),
            SettingValue::Number(-5000.0),
            SettingValue::Number(0.0),
            SettingValue::Number(600_001.0),
            SettingValue::Number(f64::NAN),
            SettingValue::Number(1e300),
            SettingValue::Text("5000.0".into()),
        ] {
            let e = Settings::load(&with_values(vec![(DEADLINE_MS, value.clone())])).unwrap_err();
            assert_eq!(e.code, ErrorCode::Misconfigured);
            assert_eq!(
                e.message, "UPSTREAM_DEADLINE_MS: must be a whole number from 1 to 600000",
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_setting_value_never_prints_its_text() {
        let secret = SettingValue::Text("the-api-secret".into());
        assert_eq!(format!("{secret:?}"), "Text(***)");
        assert_eq!(format!("{:?}", SettingValue::Number(5.0)), "Number(5)");
    }

    #[test]
    fn a_text_setting_of_another_kind_is_malformed_by_name_never_unset() {
        for (name, value) in [
            (API_SECRET, SettingValue::Number(12345.0)),
            (API_KEY_ID, SettingValue::Bool(true)),
            (PROJECT_TOKEN, SettingValue::Number(7.0)),
            (
                API_BASE,
                SettingValue::Structured(r#"{"host":"secret-host"}"#.into()),
            ),
            (
                ALLOWED_PATH_PREFIXES,
                SettingValue::Structured(r#"["/secret"]"#.into()),
            ),
        ] {
            let e = Settings::load(&with_values(vec![(name, value.clone())])).unwrap_err();
            assert_eq!(e.code, ErrorCode::Misconfigured);
            assert_eq!(e.message, format!("{name}: must be a string"), "{value:?}");
        }
        // A malformed id is not also reported as missing.
        let e = Settings::load(&with_values(vec![(
            PROJECT_TOKEN,
            SettingValue::Bool(false),
        )]))
        .unwrap_err();
        assert!(!e.message.contains("is not set"), "{}", e.message);
        let e = Settings::caller_tokens(&with_values(vec![(
            TRIGGER_TOKENS,
            SettingValue::Number(1.0),
        )]))
        .unwrap_err();
        assert_eq!(e.message, "TRIGGER_TOKENS: must be a string");
        assert_eq!(
            text(
                &with_values(vec![(SCHEDULES, SettingValue::Text("  ".into()))]),
                SCHEDULES
            ),
            Ok(None)
        );
    }
}
