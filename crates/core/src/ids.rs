//! Validated values of a start: project token, import id, path override, API kind.
//! Each is built only through its parser, so holding one means it is valid.

use crate::error::TriggerError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// 1..=128 characters of `A-Z a-z 0-9 - _` (docs/behaviour.md, "The upstream call").
fn check_token_like(field: &str, value: &str) -> Result<(), TriggerError> {
    if value.is_empty() {
        return Err(TriggerError::invalid(field, "must not be empty"));
    }
    if value.len() > 128 {
        return Err(TriggerError::invalid(
            field,
            "must be at most 128 characters",
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(TriggerError::invalid(
            field,
            "may contain only letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

macro_rules! token_like {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `value`; the error names the field.
            pub fn parse(value: &str) -> Result<Self, TriggerError> {
                Self::parse_as($field, value)
            }

            /// Validates `value`, naming `field` in the error (a setting or an option).
            pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
                check_token_like(field, value)?;
                Ok($name(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_like!(
    /// A Bloomreach project token (UUID-like in practice; validated loosely).
    ProjectToken,
    "project_token"
);
token_like!(
    /// A Bloomreach Data hub workspace id.
    WorkspaceId,
    "workspace_id"
);

token_like!(
    /// The id of an import defined in Bloomreach.
    ImportId,
    "import_id"
);

/// A source path overriding the import's own for one run: a URL, GCS or SFTP path,
/// 1..=2048 characters, no control characters, no surrounding white space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathOverride(String);

impl PathOverride {
    pub fn parse(value: &str) -> Result<Self, TriggerError> {
        Self::parse_as("path", value)
    }

    pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
        if value.is_empty() {
            return Err(TriggerError::invalid(field, "must not be empty"));
        }
        if value.chars().count() > 2048 {
            return Err(TriggerError::invalid(
                field,
                "must be at most 2048 characters",
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(TriggerError::invalid(
                field,
                "must not contain control characters",
            ));
        }
        // Not in the documented rules, but no URL or file path starts or ends with
        // white space; refusing it keeps look-alikes out of the prefix check.
        if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
            return Err(TriggerError::invalid(
                field,
                "must not start or end with white space",
            ));
        }
        Ok(PathOverride(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which Bloomreach API starts the import (docs/bloomreach.md). In JSON it is its
/// name: `"data-v1"`, `"imports-v1"` or `"data-hub"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKind {
    /// `POST {base}/data/v1/projects/{project}/imports/{id}/start`, override field `path`.
    #[default]
    DataV1,
    /// `POST {base}/imports/v1/{project}/{id}/run`, override field `path_to_overwrite`.
    ImportsV1,
    /// `POST {base}/data/v2/workspaces/{workspace}/imports/{id}/start`, override field
    /// `path`: Bloomreach Data hub.
    DataHub,
}

impl ApiKind {
    /// What an `api` value must be, for error messages.
    pub const EXPECTED: &'static str = "must be \"data-v1\", \"imports-v1\" or \"data-hub\"";

    /// Every API, in the order the docs list them.
    pub const ALL: [ApiKind; 3] = [ApiKind::DataV1, ApiKind::ImportsV1, ApiKind::DataHub];

    pub fn parse(value: &str) -> Result<Self, TriggerError> {
        Self::parse_as("api", value)
    }

    pub fn parse_as(field: &str, value: &str) -> Result<Self, TriggerError> {
        ApiKind::ALL
            .into_iter()
            .find(|api| api.as_str() == value)
            .ok_or_else(|| TriggerError::invalid(field, ApiKind::EXPECTED))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::DataV1 => "data-v1",
            ApiKind::ImportsV1 => "imports-v1",
            ApiKind::DataHub => "data-hub",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn import_id_accepts_letters_digits_dash_underscore_up_to_128() {
        assert!(ImportId::parse("5f1e8c9a0b2d4e6f7a8b9c0d").is_ok());
        assert!(ImportId::parse("a-b_C-9").is_ok());
        assert!(ImportId::parse(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn import_id_refuses_empty_long_and_other_characters_naming_the_field() {
        for bad in [
            "",
            &"x".repeat(129),
            "a/b",
            "a b",
            "a%2Fb",
            "é",
            "a.b",
            "..",
            "a\n",
        ] {
            let err = ImportId::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(err.message.starts_with("import_id:"), "{}", err.message);
        }
    }

    #[test]
    fn project_token_names_the_field_given() {
        let err = ProjectToken::parse_as("BLOOMREACH_PROJECT_TOKEN", "a b").unwrap_err();
        assert!(err.message.starts_with("BLOOMREACH_PROJECT_TOKEN:"));
        assert!(ProjectToken::parse("2d0be12a-4b0c-12ec-87da-86c198934217").is_ok());
    }

    #[test]
    fn path_is_1_to_2048_characters_without_control_characters() {
        assert!(PathOverride::parse("https://files.example.com/a.csv").is_ok());
        assert!(PathOverride::parse("/sftp/upload/a b.csv").is_ok());
        assert!(PathOverride::parse(&"é".repeat(2048)).is_ok());
        for bad in [
            String::new(),
            "é".repeat(2049),
            "https://x/\u{0}".into(),
            "a\tb".into(),
            "a\u{7f}".into(),
            " https://x/a".into(),
            "https://x/a ".into(),
        ] {
            let err = PathOverride::parse(&bad).unwrap_err();
            assert!(err.message.starts_with("path:"), "{}", err.message);
        }
    }

    #[test]
    fn api_kind_is_data_v1_imports_v1_or_data_hub() {
        assert_eq!(ApiKind::parse("data-v1").unwrap(), ApiKind::DataV1);
        assert_eq!(ApiKind::parse("imports-v1").unwrap(), ApiKind::ImportsV1);
        assert_eq!(ApiKind::parse("data-hub").unwrap(), ApiKind::DataHub);
        assert_eq!(ApiKind::default(), ApiKind::DataV1);
        for bad in ["v2", "Data-Hub", "datahub", ""] {
            let e = ApiKind::parse(bad).unwrap_err();
            assert!(e.message.starts_with("api:"), "{bad}");
            assert!(e.message.contains("data-hub"));
        }
    }

    #[test]
    fn api_kind_is_its_name_in_json() {
        for api in ApiKind::ALL {
            let quoted = format!("\"{}\"", api.as_str());
            assert_eq!(serde_json::to_string(&api).unwrap(), quoted);
            assert_eq!(serde_json::from_str::<ApiKind>(&quoted).unwrap(), api);
        }
        assert!(serde_json::from_str::<ApiKind>("\"Data-Hub\"").is_err());
    }

    #[test]
    fn workspace_id_is_token_like() {
        assert!(WorkspaceId::parse("ws_1-A").is_ok());
        assert!(WorkspaceId::parse("a/b")
            .unwrap_err()
            .message
            .starts_with("workspace_id:"));
    }
}
