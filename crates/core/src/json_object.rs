//! Reading a JSON object's members in order, duplicates kept, so a caller can refuse
//! them by name. serde_json's `Value` keeps only the last of two equal keys, which
//! silently loses a field of a request body or a whole cron of `SCHEDULES`.

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::Deserializer;
use serde_json::Value;
use std::fmt;

/// A JSON object of `members`, in that order of insertion. Used instead of
/// `serde_json::json!`, which converts every interpolated value through a fallible
/// `to_value(..).unwrap()` and so links the formatting of serde_json's errors for
/// panic messages (a few KB of wasm) into code that cannot fail.
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in members {
        map.insert(name.to_owned(), value);
    }
    Value::Object(map)
}

/// A JSON object's key, read as a string (JSON keys are always strings).
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(KeySeed)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        Ok(key.to_owned())
    }
}

/// How to read the members of an object, for [`ObjectOnly`].
pub(crate) trait ObjectReader<'de> {
    type Output;
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Self::Output, A::Error>;
}

/// A visitor that takes only a JSON object, read by `R`, and refuses every other kind
/// of value with "must be a JSON object". It answers each kind itself rather than
/// leaving it to serde's defaults, whose "invalid type" messages format floats and so
/// link Rust's float printing (about 8 KB gzipped) into the wasm. Use it with
/// `deserialize_any` (serde_json's `deserialize_map` formats them too).
pub(crate) struct ObjectOnly<R>(pub(crate) R);

fn not_an_object<E: de::Error>() -> E {
    E::custom("must be a JSON object")
}

impl<'de, R: ObjectReader<'de>> Visitor<'de> for ObjectOnly<R> {
    type Value = R::Output;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<R::Output, E> {
        Err(not_an_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<R::Output, E> {
        Err(not_an_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<R::Output, E> {
        Err(not_an_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<R::Output, E> {
        Err(not_an_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<R::Output, E> {
        Err(not_an_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<R::Output, E> {
        Err(not_an_object())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<R::Output, A::Error> {
        Err(not_an_object())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<R::Output, A::Error> {
        self.0.read(map)
    }
}

/// The members of a JSON object, in document order, duplicates included.
pub(crate) struct Members(pub(crate) Vec<(String, Value)>);

impl<'de> de::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectOnly(MembersReader))
    }
}

struct MembersReader;

impl<'de> ObjectReader<'de> for MembersReader {
    type Output = Members;
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            members.push((key, map.next_value::<Value>()?));
        }
        Ok(Members(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_kept_in_order() {
        let Members(m) = serde_json::from_str(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "a"]);
        assert_eq!(m[2].1, Value::from(3));
        assert!(serde_json::from_str::<Members>("[1]").is_err());
    }
}
