//! The npm package's options object (docs/behaviour.md, "The npm package"), read from JSON with the
//! JavaScript names, so errors name the option the user wrote.

use crate::account::{Account, OPTION_NAMES};
use crate::base_url::BaseUrl;
use crate::credentials::Credentials;
use crate::error::TriggerError;
use crate::ids::{ApiKind, ImportId, PathOverride, ProjectToken, WorkspaceId};
use crate::json_text::{self, read_object, Refusal};
use crate::retry::{RetryLimits, MAX_ATTEMPTS_LIMIT, MAX_ATTEMPT_TIMEOUT_MS, MAX_DEADLINE_MS};
use crate::upstream_request::{StartRequest, UpstreamRequest};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Validated options: the request to send and the limits of its retries.
#[derive(Clone, Debug)]
pub struct StartOptions {
    pub start: StartRequest,
    pub upstream: UpstreamRequest,
    pub limits: RetryLimits,
}

/// The options as JSON gives them, by their JavaScript names; `null` is "not given".
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Fields {
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    project_token: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    workspace_id: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    import_id: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    api_key_id: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    api_secret: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    base_url: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "json_text::nullable_boolean")]
    test_connection: Option<bool>,
    #[serde(default, deserialize_with = "json_text::nullable_api")]
    api: Option<ApiKind>,
    #[serde(
        default,
        deserialize_with = "json_text::nullable_whole::<_, { MAX_ATTEMPTS_LIMIT as u64 }>"
    )]
    max_attempts: Option<u64>,
    #[serde(
        default,
        deserialize_with = "json_text::nullable_whole::<_, MAX_ATTEMPT_TIMEOUT_MS>"
    )]
    attempt_timeout_ms: Option<u64>,
    #[serde(
        default,
        deserialize_with = "json_text::nullable_whole::<_, MAX_DEADLINE_MS>"
    )]
    deadline_ms: Option<u64>,
    /// The caller's own `fetch`, handled by the JavaScript side (`JSON.stringify`
    /// drops a function; anything else it is given is ignored here).
    #[serde(default, rename = "fetch")]
    _fetch: Option<IgnoredAny>,
}

/// A required option's value, or the error naming it.
fn required(value: Option<String>, name: &str) -> Result<String, TriggerError> {
    value.ok_or_else(|| TriggerError::invalid(name, "is required"))
}

impl StartOptions {
    /// Reads the options from their JSON text (as `JSON.stringify` gives it; a
    /// `fetch` function is dropped by that, and handled by the JS side).
    pub fn from_json(text: &str) -> Result<StartOptions, TriggerError> {
        let fields: Fields = read_object(text.as_bytes()).map_err(|refusal| match refusal {
            Refusal::NotJson(_) | Refusal::NotAnObject => {
                TriggerError::invalid("options", "must be an object")
            }
            Refusal::Members(message) => TriggerError::invalid("options", &message),
            Refusal::Field { name, message } => TriggerError::invalid(&name, &message),
        })?;
        // "Set" means non-empty after trimming, as for the worker's settings.
        let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let project = set(fields.project_token)
            .map(|p| ProjectToken::parse_as(OPTION_NAMES.project, p.trim()))
            .transpose()?;
        let workspace = set(fields.workspace_id)
            .map(|w| WorkspaceId::parse_as(OPTION_NAMES.workspace, w.trim()))
            .transpose()?;
        if project.is_none() && workspace.is_none() {
            return Err(TriggerError::invalid(
                OPTION_NAMES.project,
                "is required (or workspaceId, for a Data hub workspace)",
            ));
        }
        let import_id = ImportId::parse_as("importId", &required(fields.import_id, "importId")?)?;
        let credentials = Credentials::new(
            "apiKeyId",
            &required(fields.api_key_id, "apiKeyId")?,
            "apiSecret",
            &required(fields.api_secret, "apiSecret")?,
        )?;
        let base = fields
            .base_url
            .map(|b| BaseUrl::parse_as("baseUrl", &b))
            .transpose()?;
        let path = fields
            .path
            .as_deref()
            .map(PathOverride::parse)
            .transpose()?;
        let defaults = RetryLimits::default();
        let limits = RetryLimits {
            // bounded to 1..=MAX_ATTEMPTS_LIMIT when read
            max_attempts: fields
                .max_attempts
                .map_or(defaults.max_attempts, |n| n as u32),
            attempt_timeout_ms: fields
                .attempt_timeout_ms
                .unwrap_or(defaults.attempt_timeout_ms),
            deadline_ms: fields.deadline_ms.unwrap_or(defaults.deadline_ms),
            ..defaults
        };
        let api = fields.api;
        let test_connection = fields.test_connection;
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
            (r#""baseUrl":"ftp://x""#, "baseUrl:"),
            (r#""testConnection":"no""#, "testConnection:"),
            (r#""api":"v3""#, "api:"),
            (r#""path":"""#, "path:"),
            (r#""maxAttempts":0"#, "maxAttempts:"),
            (r#""importID":"x""#, "options: unknown field `importID`, expected one of `projectToken`, `workspaceId`, `importId`,"),
            (r#""maxAttempts":2.5"#, "maxAttempts: must be a whole number from 1 to 10"),
            (r#""deadlineMs":"500""#, "deadlineMs: must be a whole number from 1 to 600000"),
            (r#""workspaceId":7"#, "workspaceId: must be a string"),
            (r#""importId":"i""#, "options: duplicate field `importId`"),
        ] {
            let e = StartOptions::from_json(&format!("{{{}}}", BASE.to_owned() + "," + extra))
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.message.starts_with(name), "{} / {name}", e.message);
        }
        let e = StartOptions::from_json(
            r#"{"projectToken":"p","importId":"a b","apiKeyId":"k","apiSecret":"s"}"#,
        )
        .unwrap_err();
        assert!(e.message.starts_with("importId:"), "{}", e.message);
        let e = StartOptions::from_json(r#"{"importId":"i"}"#).unwrap_err();
        assert!(
            e.message.starts_with("projectToken: is required"),
            "{}",
            e.message
        );
        for not_an_object in ["[]", "null", "{", ""] {
            assert_eq!(
                StartOptions::from_json(not_an_object).unwrap_err().message,
                "options: must be an object"
            );
        }
        // `null` is "not given"; `fetch` is the JavaScript side's.
        let o =
            options(r#""path":null,"testConnection":null,"maxAttempts":null,"fetch":{}"#).unwrap();
        assert_eq!((o.upstream.body, o.limits.max_attempts), (None, 4));
        let e = StartOptions::from_json(
            r#"{"projectToken":"p","importId":null,"apiKeyId":"k","apiSecret":"s"}"#,
        )
        .unwrap_err();
        assert_eq!(e.message, "importId: is required");
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
