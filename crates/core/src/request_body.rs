//! The HTTP endpoint's optional JSON body: `{"path"?, "test_connection"?, "api"?}`.

use crate::error::TriggerError;
use crate::ids::{ApiKind, PathOverride};
use crate::json::{self, Members, Value};

/// Bodies larger than this are refused with `payload_too_large`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The fields a caller may give, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartFields {
    pub path: Option<PathOverride>,
    pub test_connection: Option<bool>,
    pub api: Option<ApiKind>,
}

/// The body's fields before their types are checked. An explicit `null` is kept, and
/// refused later as a wrong type rather than read as "absent".
#[derive(Default)]
struct RawFields {
    path: Option<Value>,
    test_connection: Option<Value>,
    api: Option<Value>,
}

const FIELDS: &[&str] = &["path", "test_connection", "api"];

impl RawFields {
    /// Takes the members of the body's object, refusing unknown and repeated fields by
    /// name.
    fn read(members: Vec<(String, Value)>) -> Result<RawFields, TriggerError> {
        let mut fields = RawFields::default();
        for (key, value) in members {
            let slot = match key.as_str() {
                "path" => &mut fields.path,
                "test_connection" => &mut fields.test_connection,
                "api" => &mut fields.api,
                _ => {
                    let known: Vec<String> = FIELDS.iter().map(|f| format!("`{f}`")).collect();
                    return Err(TriggerError::invalid(
                        "body",
                        &format!(
                            "unknown field `{key}`, expected one of {}",
                            known.join(", ")
                        ),
                    ));
                }
            };
            if slot.is_some() {
                return Err(TriggerError::invalid(
                    "body",
                    &format!("duplicate field `{key}`"),
                ));
            }
            *slot = Some(value);
        }
        Ok(fields)
    }
}

/// Parses the body. Empty (or white space only) and `{}` both mean "no fields".
pub fn parse_body(body: &[u8]) -> Result<StartFields, TriggerError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(StartFields::default());
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(TriggerError::invalid("body", "must be a JSON object"));
    }
    let members = match json::parse_members(body) {
        Ok(Members::Object(members)) => members,
        Ok(Members::NotAnObject) => {
            return Err(TriggerError::invalid("body", "must be a JSON object"))
        }
        Err(e) => {
            return Err(TriggerError::invalid(
                "body",
                &format!("is not valid JSON ({e})"),
            ))
        }
    };
    let raw = RawFields::read(members)?;
    let path = match raw.path {
        None => None,
        Some(Value::String(s)) => Some(PathOverride::parse(&s)?),
        Some(_) => return Err(TriggerError::invalid("path", "must be a string")),
    };
    let test_connection = match raw.test_connection {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            return Err(TriggerError::invalid(
                "test_connection",
                "must be true or false",
            ))
        }
    };
    let api = match raw.api {
        None => None,
        Some(Value::String(s)) => Some(ApiKind::parse(&s)?),
        Some(_) => return Err(TriggerError::invalid("api", ApiKind::EXPECTED)),
    };
    Ok(StartFields {
        path,
        test_connection,
        api,
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
        for body in ["", "  \n", "{}", " { } "] {
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
    fn duplicate_fields_are_refused() {
        assert!(message(r#"{"path":"/a","path":"/b"}"#).contains("duplicate field `path`"));
    }

    #[test]
    fn wrong_types_are_refused_naming_the_field() {
        assert!(message(r#"{"path":1}"#).starts_with("path:"));
        assert!(message(r#"{"path":null}"#).starts_with("path:"));
        assert!(message(r#"{"test_connection":"false"}"#).starts_with("test_connection:"));
        assert!(message(r#"{"api":"v9"}"#).starts_with("api:"));
        assert!(message(r#"{"api":true}"#).starts_with("api:"));
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
        assert!(e.message.starts_with("body:"), "{}", e.message);
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
