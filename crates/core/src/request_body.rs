//! The HTTP endpoint's optional JSON body: `{"path"?, "test_connection"?, "api"?}`.

use crate::error::TriggerError;
use crate::ids::{ApiKind, PathOverride};
use crate::json_text::{self, read_object, Refusal};
use serde::Deserialize;

/// Bodies larger than this are refused with `payload_too_large`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The fields a caller may give, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartFields {
    pub path: Option<PathOverride>,
    pub test_connection: Option<bool>,
    pub api: Option<ApiKind>,
}

/// The body as JSON gives it. An explicit `null` is a wrong type, not "absent".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default, deserialize_with = "json_text::string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "json_text::boolean")]
    test_connection: Option<bool>,
    #[serde(default, deserialize_with = "json_text::api")]
    api: Option<ApiKind>,
}

/// Parses the body. An empty body and `{}` both mean "no fields"; anything else is
/// read as serde_json reads it, so a body of white space alone is not JSON.
pub fn parse_body(body: &[u8]) -> Result<StartFields, TriggerError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    if body.is_empty() {
        return Ok(StartFields::default());
    }
    let fields: Body = read_object(body).map_err(|refusal| match refusal {
        Refusal::NotJson(e) => TriggerError::invalid("body", &format!("is not valid JSON ({e})")),
        Refusal::NotAnObject => TriggerError::invalid("body", "must be a JSON object"),
        Refusal::Members(message) => TriggerError::invalid("body", &message),
        Refusal::Field { name, message } => TriggerError::invalid(&name, &message),
    })?;
    Ok(StartFields {
        path: fields
            .path
            .as_deref()
            .map(PathOverride::parse)
            .transpose()?,
        test_connection: fields.test_connection,
        api: fields.api,
    })
}

/// The `payload_too_large` error.
pub fn too_large() -> TriggerError {
    TriggerError::new(
        crate::ErrorCode::PayloadTooLarge,
        format!("body: must be at most {MAX_BODY_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn message(body: &str) -> String {
        let e = parse_body(body.as_bytes()).unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::InvalidRequest,
            "{}",
            &body[..body.len().min(80)]
        );
        e.message
    }

    #[test]
    fn empty_body_and_empty_object_mean_no_fields() {
        for body in ["", "{}", " { } ", "\r\n\t{}\n"] {
            assert_eq!(
                parse_body(body.as_bytes()).unwrap(),
                StartFields::default(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn all_fields_are_read() {
        let f =
            parse_body(br#"{"path":"gs://b/x.csv","test_connection":false,"api":"imports-v1"}"#)
                .unwrap();
        assert_eq!(f.path.unwrap().as_str(), "gs://b/x.csv");
        assert_eq!(f.test_connection, Some(false));
        assert_eq!(f.api, Some(ApiKind::ImportsV1));
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        assert_eq!(
            message(r#"{"paht":"x"}"#),
            "body: unknown field `paht`, expected one of `path`, `test_connection`, `api`"
        );
    }

    #[test]
    fn duplicate_fields_are_refused_by_name() {
        assert_eq!(
            message(r#"{"path":"/a","path":"/b"}"#),
            "body: duplicate field `path`"
        );
        assert_eq!(
            message(r#"{"api":"data-v1","test_connection":true,"api":"imports-v1"}"#),
            "body: duplicate field `api`"
        );
    }

    #[test]
    fn white_space_alone_and_form_feeds_are_refused_as_serde_json_does() {
        for body in [
            " ", "  \n", "\t\r\n", "\u{c}", "\u{c}{}", "{}\u{c}", "\u{b}{}",
        ] {
            let m = message(body);
            assert!(m.starts_with("body: is not valid JSON ("), "{body:?}: {m}");
        }
        assert_eq!(
            message("  \n"),
            "body: is not valid JSON (EOF while parsing a value at line 2 column 0)"
        );
    }

    #[test]
    fn wrong_types_are_refused_naming_the_field() {
        assert_eq!(message(r#"{"path":1}"#), "path: must be a string");
        assert_eq!(message(r#"{"path":null}"#), "path: must be a string");
        assert_eq!(message(r#"{"path":{"a":[1]}}"#), "path: must be a string");
        assert_eq!(
            message(r#"{"test_connection":"false"}"#),
            "test_connection: must be true or false"
        );
        assert_eq!(
            message(r#"{"test_connection":null}"#),
            "test_connection: must be true or false"
        );
        for api in [r#""v9""#, "true", "3", "null"] {
            assert_eq!(
                message(&format!(r#"{{"api":{api}}}"#)),
                r#"api: must be "data-v1", "imports-v1" or "data-hub""#
            );
        }
        assert!(message(r#"{"path":" /x"}"#).starts_with("path:"));
    }

    #[test]
    fn non_objects_and_bad_json_are_refused() {
        for body in [
            "null",
            "[]",
            "\"x\"",
            "1",
            "{",
            "{\"path\":",
            "{}x",
            "\u{feff}{}",
        ] {
            assert!(message(body).starts_with("body:"), "{body}");
        }
        let e = parse_body(b"{\"path\":\"\xff\"}").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // 10,000 levels open (closing them would pass the size limit first).
        let deep = format!("{{\"path\":{}", "[".repeat(10_000));
        let e = parse_body(deep.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(
            e.message.starts_with("body: is not valid JSON ("),
            "{}",
            e.message
        );
        // Closed, within the limit: serde_json's recursion limit refuses it.
        let closed = format!("{{\"path\":{}{}}}", "[".repeat(5_000), "]".repeat(5_000));
        assert!(
            message(&closed).starts_with("body: is not valid JSON (recursion limit exceeded"),
            "{}",
            message(&closed)
        );
    }

    #[test]
    fn bodies_over_16_kib_are_too_large() {
        let big = format!(r#"{{"path":"/{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            parse_body(big.as_bytes()).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
    }
}
