//! The HTTP endpoint's optional JSON body: `{"path"?, "test_connection"?, "api"?}`.

use crate::error::TriggerError;
use crate::ids::{ApiKind, PathOverride};
use crate::json_object::{KeySeed, ObjectOnly, ObjectReader};
use serde::de::{self, MapAccess};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Bodies larger than this are refused with `payload_too_large`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The fields a caller may give, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartFields {
    pub path: Option<PathOverride>,
    pub test_connection: Option<bool>,
    pub api: Option<ApiKind>,
}

/// The body's fields before their types are checked.
///
/// Read with hand-written visitors rather than `#[derive(Deserialize)]`: they refuse
/// unknown and duplicate fields by name the same way, keep an explicit `null` (refused
/// later as a wrong type, not read as "absent"), and, by answering every kind of JSON
/// value themselves, keep serde's generic "invalid type" formatting (and with it
/// Rust's float printing, about 8 KB gzipped) out of the worker's wasm.
#[derive(Default)]
struct RawFields {
    path: Option<Value>,
    test_connection: Option<Value>,
    api: Option<Value>,
}

const FIELDS: &[&str] = &["path", "test_connection", "api"];

impl<'de> Deserialize<'de> for RawFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectOnly(RawFieldsReader))
    }
}

struct RawFieldsReader;

impl<'de> ObjectReader<'de> for RawFieldsReader {
    type Output = RawFields;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields, A::Error> {
        let mut fields = RawFields::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let slot = match key.as_str() {
                "path" => &mut fields.path,
                "test_connection" => &mut fields.test_connection,
                "api" => &mut fields.api,
                _ => return Err(de::Error::unknown_field(&key, FIELDS)),
            };
            if slot.is_some() {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            *slot = Some(map.next_value::<Value>()?);
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
    let raw: RawFields = serde_json::from_slice(body).map_err(|e| {
        let detail = e.to_string();
        if e.is_data() {
            TriggerError::invalid("body", &detail)
        } else {
            TriggerError::invalid("body", &format!("is not valid JSON ({detail})"))
        }
    })?;
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
        assert!(message(r#"{"paht":"x"}"#).contains("`paht`"));
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
