//! JSON text in and out of the core, through serde_json. What the documented behaviour
//! asks beyond serde's derives lives here: input read only as an object, errors that
//! name the field at fault, and each field's own message for a value of the wrong type.

use crate::ids::ApiKind;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, Error as _};
use serde::Serialize;
use serde_path_to_error::Segment;

/// The compact JSON of `value`.
///
/// The core writes only structs of strings, numbers, booleans and Bloomreach's own
/// JSON; serde_json fails only on a map with non-string keys or a failing `Serialize`,
/// neither of which is here. Were it ever to fail, the text is `null`, which every
/// reader of the core refuses: an answer reads as no answer, a ledger call as a failed
/// one (nothing is started), a record as unreadable (outcome unknown, never absent).
pub(crate) fn to_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| UNWRITABLE.to_owned())
}

/// What [`to_text`] gives for a value serde_json could not write.
const UNWRITABLE: &str = "null";

/// `text` as a JSON string literal: how messages quote a cron, a key or a parameter.
pub(crate) fn quoted(text: &str) -> String {
    to_text(text)
}

/// Why a JSON text is not the object a reader asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not JSON: serde_json's message, with its line and column.
    NotJson(String),
    /// JSON, but not an object.
    NotAnObject,
    /// An object with an unknown or a repeated member: serde's message, naming it.
    Members(String),
    /// A member of the wrong type: its name, and the field's message.
    Field { name: String, message: String },
}

/// Reads `text` as the object `T`.
///
/// The whole text is first read as serde_json's `Value`, which checks the grammar in
/// full (UTF-8, escapes, nesting at most 128 deep): the typed reading after it leaves
/// unread what it keeps raw, and takes a number where an enum is expected for a syntax
/// error. The object check keeps serde's derived structs from also reading an array of
/// their fields in order. The typed reading then sees the members in document order,
/// so a repeated one is refused rather than overwritten.
pub(crate) fn read_object<T: DeserializeOwned>(text: &[u8]) -> Result<T, Refusal> {
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| Refusal::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(Refusal::NotAnObject);
    }
    drop(value);
    let mut reader = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let message = without_position(e.inner());
        match e.path().iter().next_back() {
            // serde names an unknown member in its message; the path ends at it too.
            Some(Segment::Map { .. }) if !message.starts_with("unknown field `") => {
                Refusal::Field {
                    name: e.path().to_string(),
                    message,
                }
            }
            _ => Refusal::Members(message),
        }
    })
}

/// serde_json's message without the " at line L column C" it appends: a field's
/// message names the field instead.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(bare) => bare.to_owned(),
        None => text,
    }
}

/// `T`, or the field's `message` when the value is of another type.
fn typed<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    value: D,
    message: &'static str,
) -> Result<T, D::Error> {
    T::deserialize(value).map_err(|_| D::Error::custom(message))
}

// Fields of the body and of `SCHEDULES` jobs, for `#[serde(default, deserialize_with)]`:
// a missing field is `None`, while `null` is a value of the wrong type.

pub(crate) fn string<'de, D: Deserializer<'de>>(value: D) -> Result<Option<String>, D::Error> {
    typed(value, "must be a string").map(Some)
}

pub(crate) fn boolean<'de, D: Deserializer<'de>>(value: D) -> Result<Option<bool>, D::Error> {
    typed(value, "must be true or false").map(Some)
}

pub(crate) fn api<'de, D: Deserializer<'de>>(value: D) -> Result<Option<ApiKind>, D::Error> {
    typed(value, ApiKind::EXPECTED).map(Some)
}

// Fields of the npm options, which JavaScript may give as `null` for "not given".

pub(crate) fn nullable_string<'de, D: Deserializer<'de>>(
    value: D,
) -> Result<Option<String>, D::Error> {
    typed(value, "must be a string")
}

pub(crate) fn nullable_boolean<'de, D: Deserializer<'de>>(
    value: D,
) -> Result<Option<bool>, D::Error> {
    typed(value, "must be true or false")
}

pub(crate) fn nullable_api<'de, D: Deserializer<'de>>(
    value: D,
) -> Result<Option<ApiKind>, D::Error> {
    typed(value, ApiKind::EXPECTED)
}

/// A whole number from 1 to `MAX`, or `null`.
pub(crate) fn nullable_whole<'de, D: Deserializer<'de>, const MAX: u64>(
    value: D,
) -> Result<Option<u64>, D::Error> {
    let refused = || D::Error::custom(format!("must be a whole number from 1 to {MAX}"));
    match Option::<u64>::deserialize(value) {
        Ok(Some(n)) if (1..=MAX).contains(&n) => Ok(Some(n)),
        Ok(None) => Ok(None),
        Ok(Some(_)) | Err(_) => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[serde(default, deserialize_with = "string")]
        name: Option<String>,
        #[serde(default, deserialize_with = "boolean")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "api")]
        api: Option<ApiKind>,
        #[serde(default, deserialize_with = "nullable_whole::<_, 10>")]
        count: Option<u64>,
    }

    fn refusal(text: &str) -> Refusal {
        read_object::<Sample>(text.as_bytes()).unwrap_err()
    }

    fn field(name: &str, message: &str) -> Refusal {
        Refusal::Field {
            name: name.into(),
            message: message.into(),
        }
    }

    #[test]
    fn an_object_is_read_by_its_fields() {
        assert_eq!(
            read_object::<Sample>(
                br#" {"name": "n", "flag": false, "api": "data-hub", "count": null} "#
            ),
            Ok(Sample {
                name: Some("n".into()),
                flag: Some(false),
                api: Some(ApiKind::DataHub),
                count: None,
            })
        );
    }

    #[test]
    fn wrong_types_name_the_field_with_its_message() {
        assert_eq!(refusal(r#"{"name": 1}"#), field("name", "must be a string"));
        assert_eq!(
            refusal(r#"{"name": null}"#),
            field("name", "must be a string")
        );
        assert_eq!(
            refusal(r#"{"flag": "false"}"#),
            field("flag", "must be true or false")
        );
        // serde_json reads an enum given a number as a syntax error; it is a type here.
        for api in ["3", r#""v9""#, "null", "{}"] {
            assert_eq!(
                refusal(&format!(r#"{{"api": {api}}}"#)),
                field("api", ApiKind::EXPECTED)
            );
        }
        for count in ["0", "11", "2.5", "-1", r#""3""#] {
            assert_eq!(
                refusal(&format!(r#"{{"count": {count}}}"#)),
                field("count", "must be a whole number from 1 to 10")
            );
        }
    }

    #[test]
    fn unknown_and_repeated_members_are_named() {
        assert_eq!(
            refusal(r#"{"colour": 1}"#),
            Refusal::Members(
                "unknown field `colour`, expected one of `name`, `flag`, `api`, `count`".into()
            )
        );
        assert_eq!(
            refusal(r#"{"name": "a", "name": "b"}"#),
            Refusal::Members("duplicate field `name`".into())
        );
    }

    #[test]
    fn what_serde_json_refuses_is_not_json_and_other_values_are_not_objects() {
        for text in [
            "",
            " ",
            "\u{c}",
            "\u{c}{}",
            "{",
            "{}x",
            r#"{"flag": tru}"#,
            "\"\\ud800\"",
            r#"{"name": "\ud800"}"#,
            "\u{feff}{}",
        ] {
            assert!(
                matches!(refusal(text), Refusal::NotJson(_)),
                "{text:?}: {:?}",
                refusal(text)
            );
        }
        assert!(matches!(
            read_object::<Sample>(b"{\"name\": \"\xff\"}"),
            Err(Refusal::NotJson(_))
        ));
        for text in ["[]", "[\"n\"]", "null", "1", "\"x\""] {
            assert_eq!(refusal(text), Refusal::NotAnObject, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_as_not_json() {
        let deep = format!(r#"{{"name": {}{}}}"#, "[".repeat(5000), "]".repeat(5000));
        let Refusal::NotJson(message) = refusal(&deep) else {
            panic!("not JSON")
        };
        assert!(message.starts_with("recursion limit exceeded"), "{message}");
        assert!(matches!(refusal(&"[".repeat(100_000)), Refusal::NotJson(_)));
    }

    #[test]
    fn strings_are_quoted_as_json() {
        assert_eq!(quoted("0 3 \"*\" \\ \n"), r#""0 3 \"*\" \\ \n""#);
    }
}
