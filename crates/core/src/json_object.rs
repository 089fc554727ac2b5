//! Building a JSON object from a fixed list of members, the way every answer, log line
//! and ledger record of this crate is built.

use crate::json::{Map, Value};

/// A JSON object of `members` (written with its keys sorted, as every object is).
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    for (name, value) in members {
        map.insert(name.to_owned(), value);
    }
    Value::Object(map)
}
