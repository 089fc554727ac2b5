//! The npm package's options object (docs/behaviour.md, "The npm package"), read from JSON with the
//! JavaScript names, so errors name the option the user wrote.

use crate::account::{Account, OPTION_NAMES};
use crate::base_url::BaseUrl;
use crate::credentials::Credentials;
use crate::error::TriggerError;
use crate::ids::{ApiKind, ImportId, PathOverride, ProjectToken, WorkspaceId};
use crate::json::{Map, Value};
use crate::retry::{RetryLimits, MAX_ATTEMPTS_LIMIT, MAX_ATTEMPT_TIMEOUT_MS, MAX_DEADLINE_MS};
use crate::upstream_request::{StartRequest, UpstreamRequest};

const KNOWN: [&str; 12] = [
    "projectToken",
    "workspaceId",
    "importId",
    "apiKeyId",
    "apiSecret",
    "baseUrl",
    "path",
    "testConnection",
    "api",
    "maxAttempts",
    "attemptTimeoutMs",
    "deadlineMs",
];

/// Validated options: the request to send and the limits of its retries.
#[derive(Clone, Debug)]
pub struct StartOptions {
    pub start: StartRequest,
    pub upstream: UpstreamRequest,
    pub limits: RetryLimits,
}

fn string<'a>(map: &'a Map, name: &str, required: bool) -> Result<Option<&'a str>, TriggerError> {
    match map.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(TriggerError::invalid(name, "is required")),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TriggerError::invalid(name, "must be a string")),
    }
}

fn whole(map: &Map, name: &str, max: u64) -> Result<Option<u64>, TriggerError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                TriggerError::invalid(name, &format!("must be a whole number from 1 to {max}"))
            }),
    }
}

impl StartOptions {
    /// Reads the options from their JSON text (as `JSON.stringify` gives it; a
    /// `fetch` function is dropped by that, and handled by the JS side).
    pub fn from_json(text: &str) -> Result<StartOptions, TriggerError> {
        let value = crate::json::parse(text.as_bytes())
            .map_err(|_| TriggerError::invalid("options", "must be an object"))?;
        let map = value
            .as_object()
            .ok_or_else(|| TriggerError::invalid("options", "must be an object"))?;
        if let Some(unknown) = map
            .iter()
            .map(|(k, _)| k)
            .find(|k| !KNOWN.contains(&k.as_str()) && k.as_str() != "fetch")
        {
            let shown: String = unknown.chars().take(40).collect();
            return Err(TriggerError::invalid(
                "options",
                &format!(
                    "unknown option {} (known: {}, fetch)",
                    Value::from(shown),
                    KNOWN.join(", ")
                ),
            ));
        }
        let required = |name| string(map, name, true).map(Option::unwrap_or_default);
        // "Set" means non-empty after trimming, as for the worker's settings.
        let optional =
            |name| string(map, name, false).map(|v| v.map(str::trim).filter(|v| !v.is_empty()));
        let project = optional(OPTION_NAMES.project)?
            .map(|p| ProjectToken::parse_as(OPTION_NAMES.project, p))
            .transpose()?;
        let workspace = optional(OPTION_NAMES.workspace)?
            .map(|w| WorkspaceId::parse_as(OPTION_NAMES.workspace, w))
            .transpose()?;
        if project.is_none() && workspace.is_none() {
            return Err(TriggerError::invalid(
                OPTION_NAMES.project,
                "is required (or workspaceId, for a Data hub workspace)",
            ));
        }
        let import_id = ImportId::parse_as("importId", required("importId")?)?;
        let credentials = Credentials::new(
            "apiKeyId",
            required("apiKeyId")?,
            "apiSecret",
            required("apiSecret")?,
        )?;
        let base = string(map, "baseUrl", false)?
            .map(|b| BaseUrl::parse_as("baseUrl", b))
            .transpose()?;
        let path = string(map, "path", false)?
            .map(PathOverride::parse)
            .transpose()?;
        let api = string(map, "api", false)?.map(ApiKind::parse).transpose()?;
        let test_connection = match map.get("testConnection") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(TriggerError::invalid(
                    "testConnection",
                    "must be true or false",
                ))
            }
        };
        let defaults = RetryLimits::default();
        let limits = RetryLimits {
            max_attempts: whole(map, "maxAttempts", u64::from(MAX_ATTEMPTS_LIMIT))?
                .map_or(defaults.max_attempts, |n| n as u32),
            attempt_timeout_ms: whole(map, "attemptTimeoutMs", MAX_ATTEMPT_TIMEOUT_MS)?
                .unwrap_or(defaults.attempt_timeout_ms),
            deadline_ms: whole(map, "deadlineMs", MAX_DEADLINE_MS)?.unwrap_or(defaults.deadline_ms),
            ..defaults
        };
        let account = Account {
            project,
            workspace,
            base,
        };
        let start = StartRequest {
            target: account.target(api, OPTION_NAMES)?,
            import_id,
            path,
            test_connection,
        };
        let upstream = start.build(&account.base_for(start.api()), &credentials);
        Ok(StartOptions {
            start,
            upstream,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const BASE: &str = r#""projectToken":"p","importId":"i","apiKeyId":"k","apiSecret":"s""#;

    fn options(extra: &str) -> Result<StartOptions, TriggerError> {
        let sep = if extra.is_empty() { "" } else { "," };
        StartOptions::from_json(&format!("{{{BASE}{sep}{extra}}}"))
    }

    #[test]
    fn minimal_options_build_a_bodiless_request() {
        let o = options("").unwrap();
        assert_eq!(
            o.upstream.url,
            "https://api.exponea.com/data/v1/projects/p/imports/i/start"
        );
        assert_eq!(o.upstream.body, None);
    }

    #[test]
    fn all_options_are_read() {
        let o = options(r#""baseUrl":"http://127.0.0.1:1/","path":"/a","testConnection":false,"api":"imports-v1","maxAttempts":2,"deadlineMs":500"#).unwrap();
        assert_eq!(o.upstream.url, "http://127.0.0.1:1/imports/v1/p/i/run");
        assert_eq!(
            o.upstream.body.as_deref(),
            Some(r#"{"path_to_overwrite":"/a","test_connection":false}"#)
        );
        assert_eq!((o.limits.max_attempts, o.limits.deadline_ms), (2, 500));
    }

    #[test]
    fn bad_options_name_the_option() {
        for (extra, name) in [
            (r#""importId":"a b""#, "importId:"),
            (r#""baseUrl":"ftp://x""#, "baseUrl:"),
            (r#""testConnection":"no""#, "testConnection:"),
            (r#""api":"v3""#, "api:"),
            (r#""path":"""#, "path:"),
            (r#""maxAttempts":0"#, "maxAttempts:"),
            (r#""importID":"x""#, "options: unknown option \"importID\""),
        ] {
            let e = StartOptions::from_json(&format!("{{{}}}", BASE.to_owned() + "," + extra))
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.message.starts_with(name), "{} / {name}", e.message);
        }
        let e = StartOptions::from_json(r#"{"importId":"i"}"#).unwrap_err();
        assert!(
            e.message.starts_with("projectToken: is required"),
            "{}",
            e.message
        );
        assert!(StartOptions::from_json("[]")
            .unwrap_err()
            .message
            .starts_with("options:"));
    }

    #[test]
    fn a_workspace_id_alone_means_data_hub_at_its_own_base() {
        let ws = r#""workspaceId":"ws-1","importId":"i","apiKeyId":"k","apiSecret":"s""#;
        let o = StartOptions::from_json(&format!("{{{ws}}}")).unwrap();
        assert_eq!(
            o.upstream.url,
            "https://api.bloomreach.com/data/v2/workspaces/ws-1/imports/i/start"
        );
        let o = StartOptions::from_json(&format!(
            r#"{{{ws},"path":"s3://b/x.csv","baseUrl":"http://127.0.0.1:9"}}"#
        ))
        .unwrap();
        assert_eq!(
            o.upstream.url,
            "http://127.0.0.1:9/data/v2/workspaces/ws-1/imports/i/start"
        );
        assert_eq!(
            o.upstream.body.as_deref(),
            Some(r#"{"path":"s3://b/x.csv"}"#)
        );
        // An empty project token counts as unset.
        let o = StartOptions::from_json(&format!(r#"{{{ws},"projectToken":"  "}}"#)).unwrap();
        assert_eq!(o.start.api(), ApiKind::DataHub);
        // With both, data-v1 is the default and data-hub is asked for by name.
        let o = options(r#""workspaceId":"ws-1""#).unwrap();
        assert_eq!(o.start.api(), ApiKind::DataV1);
        let o = options(r#""workspaceId":"ws-1","api":"data-hub""#).unwrap();
        assert!(o
            .upstream
            .url
            .ends_with("/data/v2/workspaces/ws-1/imports/i/start"));
    }

    #[test]
    fn an_api_without_its_id_names_the_missing_option() {
        let e = options(r#""api":"data-hub""#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.starts_with("workspaceId:"), "{}", e.message);
        let ws = r#"{"workspaceId":"w","importId":"i","apiKeyId":"k","apiSecret":"s","api":"imports-v1"}"#;
        let e = StartOptions::from_json(ws).unwrap_err();
        assert!(e.message.starts_with("projectToken:"), "{}", e.message);
        let e = options(r#""workspaceId":"a/b""#).unwrap_err();
        assert!(e.message.starts_with("workspaceId:"), "{}", e.message);
    }
}
