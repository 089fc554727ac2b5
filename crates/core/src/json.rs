//! JSON, read and written by hand: the few things this crate does with JSON (read a
//! request body, `SCHEDULES`, Bloomreach's answers and the ledger's records; write
//! answers, log lines and records) in a few KB of wasm.
//!
//! Hand-written instead of serde_json on purpose: serde_json, serde's generic
//! visitors and the `BTreeMap` behind its `Map` were about a third of the npm
//! package's wasm and a sixth of the worker's (issue 14; README, "Performance").
//! It behaves as serde_json does where this crate relies on it, and its tests hold it
//! to serde_json (a dev-dependency only) on generated documents:
//! - the grammar of RFC 8259, strictly: no comments, no trailing commas, no
//!   leading zeros, no lone surrogates, nesting at most 128 deep;
//! - an object keeps the last of two equal keys ([`parse`]), unless its members are
//!   read in document order with [`parse_members`] to refuse duplicates by name;
//! - objects are written with their keys sorted, compactly, strings escaped as
//!   serde_json escapes them, so every answer and log line is byte for byte what it was.
//!
//! One difference, on purpose: a number that is not a whole number within `u64` or
//! `i64` is kept as written, not converted to a float and printed again, so nothing
//! here parses or prints floats (Rust's float code is several KB), and a number too
//! large for a float is kept rather than refused.

use std::fmt;

/// Objects and arrays nested this deep are refused, as serde_json refuses them.
const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON number: a whole number when it fits `u64` or `i64`, otherwise its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Number(Num);

#[derive(Clone, Debug, PartialEq)]
enum Num {
    Whole(u64),
    Negative(i64),
    /// A valid JSON number's text, as written.
    Other(Box<str>),
}

/// A JSON object: keys unique and kept in sorted order, as serde_json's `Map` does.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map(Vec<(String, Value)>);

impl Map {
    pub fn new() -> Map {
        Map(Vec::new())
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Sets `key`, replacing (and returning) a value it had.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The members, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Moves every member of `other` in, replacing equal keys.
    pub fn append(&mut self, other: &mut Map) {
        for (k, v) in other.0.drain(..) {
            self.insert(k, v);
        }
    }

    /// A map of members read in document order: the last of equal keys wins.
    fn from_members(members: Vec<(String, Value)>) -> Map {
        // Equal keys sort in document order (by their index), so the last one is kept.
        let mut indexed: Vec<(usize, (String, Value))> = members.into_iter().enumerate().collect();
        heap_sort(&mut indexed, |(i, a), (j, b)| (&a.0, i) < (&b.0, j));
        let mut unique: Vec<(String, Value)> = Vec::with_capacity(indexed.len());
        for (_, member) in indexed {
            match unique.last_mut() {
                Some(last) if last.0 == member.0 => *last = member,
                _ => unique.push(member),
            }
        }
        Map(unique)
    }
}

/// Sorts `items` by `less` in O(n log n), not stably. Hand-written: the standard
/// library's sorts are about 3 KB of wasm each, this is a few hundred bytes.
fn heap_sort<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let sift_down = |items: &mut [T], mut root: usize| loop {
        let mut child = 2 * root + 1;
        if child >= items.len() {
            return;
        }
        if child + 1 < items.len() && less(&items[child], &items[child + 1]) {
            child += 1;
        }
        if !less(&items[root], &items[child]) {
            return;
        }
        items.swap(root, child);
        root = child;
    };
    for root in (0..items.len() / 2).rev() {
        sift_down(items, root);
    }
    for end in (1..items.len()).rev() {
        items.swap(0, end);
        sift_down(&mut items[..end], 0);
    }
}

impl Extend<(String, Value)> for Map {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, members: I) {
        for (k, v) in members {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Value {
    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A whole number from 0 to `u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(Number(Num::Whole(n))) => Some(*n),
            _ => None,
        }
    }

    /// A whole number from `i64::MIN` to `i64::MAX`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number(Num::Whole(n))) => i64::try_from(*n).ok(),
            Value::Number(Number(Num::Negative(n))) => Some(*n),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The compact JSON text of this value.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self);
        out
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// Indexing as serde_json does, for tests and reading: a missing member is `null`.
impl std::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        const NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// `From` conversions that are one expression each.
macro_rules! value_from {
    ($($source:ty => |$v:ident| $value:expr;)*) => {$(
        impl From<$source> for Value {
            fn from($v: $source) -> Value {
                $value
            }
        }
    )*};
}

value_from! {
    &str => |s| Value::String(s.to_owned());
    String => |s| Value::String(s);
    &String => |s| Value::String(s.clone());
    bool => |b| Value::Bool(b);
    u64 => |n| Value::Number(Number(Num::Whole(n)));
    u32 => |n| Value::from(u64::from(n));
    u16 => |n| Value::from(u64::from(n));
    usize => |n| Value::from(n as u64);
    Map => |m| Value::Object(m);
    Vec<Value> => |items| Value::Array(items);
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        match u64::try_from(n) {
            Ok(n) => Value::from(n),
            Err(_) => Value::Number(Number(Num::Negative(n))),
        }
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

// ---------------------------------------------------------------- writing

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(Number(Num::Whole(n))) => push_whole(out, *n, false),
        Value::Number(Number(Num::Negative(n))) => push_whole(out, n.unsigned_abs(), *n < 0),
        Value::Number(Number(Num::Other(text))) => out.push_str(text),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Decimal digits without `core::fmt` (whose number formatting goes through the
/// generic `Formatter`).
fn push_whole(out: &mut String, mut n: u64, negative: bool) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push('-');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// `s` as a JSON string, escaped as serde_json escapes: `"` and `\`, the five short
/// control escapes, and other control characters as `\u00xx` (lower-case hex).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain_from..i]);
        plain_from = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

/// `s` as a JSON string literal.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(&mut out, s);
    out
}

// ---------------------------------------------------------------- reading

/// Why a text is not JSON, and where (line and column count from 1, the column in
/// bytes), written as serde_json writes its syntax errors: "expected value at line 1
/// column 2".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: &'static str,
    line: usize,
    column: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

/// Parses one JSON document (white space around it allowed).
pub fn parse(text: &[u8]) -> Result<Value, Error> {
    let mut reader = Reader { text, at: 0 };
    let value = reader.value(0)?;
    reader.end()?;
    Ok(value)
}

/// What [`parse_members`] found at the top of the document.
#[derive(Debug, PartialEq)]
pub enum Members {
    /// The object's members in document order, equal keys included.
    Object(Vec<(String, Value)>),
    /// Valid JSON, but not an object.
    NotAnObject,
}

/// Parses one JSON document and, when it is an object, gives its members in document
/// order with equal keys kept, so a caller can refuse a repeated key by name where
/// [`parse`] would keep only the last.
pub fn parse_members(text: &[u8]) -> Result<Members, Error> {
    let mut reader = Reader { text, at: 0 };
    reader.skip_space();
    if reader.peek() != Some(b'{') {
        reader.value(0)?;
        reader.end()?;
        return Ok(Members::NotAnObject);
    }
    let members = reader.members(0)?;
    reader.end()?;
    Ok(Members::Object(members))
}

struct Reader<'t> {
    text: &'t [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// An error at the current byte (or at the last byte, at the end of the text).
    fn error(&self, message: &'static str) -> Error {
        let upto = &self.text[..self.at.min(self.text.len())];
        let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
        let line_start = upto.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = if self.at < self.text.len() {
            self.at - line_start + 1
        } else {
            self.at - line_start
        };
        Error {
            message,
            line,
            column,
        }
    }

    fn end(&mut self) -> Result<(), Error> {
        self.skip_space();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    fn literal(&mut self, word: &'static [u8], value: Value) -> Result<Value, Error> {
        for &expected in word {
            match self.peek() {
                None => return Err(self.error("EOF while parsing a value")),
                Some(b) if b == expected => self.at += 1,
                Some(_) => return Err(self.error("expected ident")),
            }
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.skip_space();
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(b'[') => self.array(depth + 1).map(Value::Array),
            Some(b'{') => self
                .members(depth + 1)
                .map(|m| Value::Object(Map::from_members(m))),
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Value>, Error> {
        self.sequence(
            depth,
            b']',
            "EOF while parsing a list",
            "expected `,` or `]`",
            |r| r.value(depth),
        )
    }

    fn members(&mut self, depth: usize) -> Result<Vec<(String, Value)>, Error> {
        let eof = "EOF while parsing an object";
        self.sequence(depth, b'}', eof, "expected `,` or `}`", |r| {
            match r.peek() {
                Some(b'"') => {}
                None => return Err(r.error(eof)),
                Some(_) => return Err(r.error("key must be a string")),
            }
            let key = r.string()?;
            r.skip_space();
            match r.peek() {
                Some(b':') => r.at += 1,
                None => return Err(r.error(eof)),
                Some(_) => return Err(r.error("expected `:`")),
            }
            Ok((key, r.value(depth)?))
        })
    }

    /// The items of an array or object, at its opening bracket, up to `close`: each
    /// read by `item`, separated by commas, none trailing.
    fn sequence<T>(
        &mut self,
        depth: usize,
        close: u8,
        eof: &'static str,
        expected: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        if depth >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.at += 1; // '[' or '{'
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_space();
                    if self.peek() == Some(close) {
                        return Err(self.error("trailing comma"));
                    }
                }
                Some(b) if b == close => {
                    self.at += 1;
                    return Ok(items);
                }
                None => return Err(self.error(eof)),
                Some(_) => return Err(self.error(expected)),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - from
    }

    /// At least one digit (of a fraction or an exponent).
    fn some_digits(&mut self) -> Result<(), Error> {
        if self.digits() > 0 {
            return Ok(());
        }
        Err(self.error(match self.peek() {
            None => "EOF while parsing a value",
            Some(_) => "invalid number",
        }))
    }

    fn number(&mut self) -> Result<Number, Error> {
        let from = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let int_from = self.at;
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            None => return Err(self.error("EOF while parsing a value")),
            Some(_) => return Err(self.error("invalid number")),
        }
        let int_to = self.at;
        let mut whole = true;
        if self.peek() == Some(b'.') {
            whole = false;
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            whole = false;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        let text = &self.text[from..self.at];
        if whole {
            // Digits only, so the magnitude is read without `str::parse`.
            let magnitude = self.text[int_from..int_to].iter().try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            match (negative, magnitude) {
                (false, Some(n)) => return Ok(Number(Num::Whole(n))),
                // "-0" is not a whole number for serde_json (it reads it as -0.0).
                (true, Some(n)) if n > 0 && n <= 1 << 63 => {
                    return Ok(Number(Num::Negative((n as i64).wrapping_neg())));
                }
                _ => {}
            }
        }
        // Only ASCII digits, signs, '.', 'e' and 'E' were taken.
        let text = String::from_utf8_lossy(text);
        Ok(Number(Num::Other(text.into())))
    }

    fn hex4(&mut self) -> Result<u16, Error> {
        let mut n: u16 = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b) => match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' => b - b'A' + 10,
                    _ => return Err(self.error("invalid escape")),
                },
            };
            n = (n << 4) | u16::from(digit);
            self.at += 1;
        }
        Ok(n)
    }

    /// A string, at its opening quote.
    fn string(&mut self) -> Result<String, Error> {
        self.at += 1; // '"'
        let mut out: Vec<u8> = Vec::new();
        loop {
            let run_from = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.extend_from_slice(&self.text[run_from..self.at]);
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return String::from_utf8(out).map_err(|_| {
                        self.at -= 1;
                        self.error("invalid unicode code point")
                    });
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(escape) = self.peek() else {
                        return Err(self.error("EOF while parsing a string"));
                    };
                    self.at += 1;
                    let simple = match escape {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => 0,
                        _ => {
                            self.at -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    };
                    if escape != b'u' {
                        out.push(simple);
                        continue;
                    }
                    let c = self.unicode_escape()?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(_) => {
                    return Err(self
                        .error("control character (\\u0000-\\u001F) found while parsing a string"))
                }
            }
        }
    }

    /// The character of a `\u` escape (its `\u` read), a surrogate pair taken whole.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                if self.text.get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(self.error(if self.at >= self.text.len() {
                        "EOF while parsing a string"
                    } else {
                        "unexpected end of hex escape"
                    }));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((u32::from(first) - 0xd800) << 10) + (u32::from(second) - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.error("lone leading surrogate in hex escape")),
            n => u32::from(n),
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn reads_and_writes_every_kind() {
        let v = ok(r#" {"b": [1, -2, 3.5e1, true, false, null], "a": "x\u00e9\n\"\\/"} "#);
        assert_eq!(
            v.to_json(),
            r#"{"a":"xé\n\"\\/","b":[1,-2,3.5e1,true,false,null]}"#
        );
        assert_eq!(v["b"].as_array().map(Vec::len), Some(6));
        assert_eq!(v["missing"], Value::Null);
    }

    #[test]
    fn the_last_of_equal_keys_wins_unless_members_are_asked_for() {
        let v = ok(r#"{"a": 1, "b": 2, "a": 3}"#);
        assert_eq!(v["a"].as_u64(), Some(3));
        assert_eq!(v.as_object().map(Map::len), Some(2));
        let Ok(Members::Object(m)) = parse_members(br#"{"a": 1, "b": 2, "a": 3}"#) else {
            panic!("an object");
        };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "a"]);
        assert_eq!(parse_members(b" [1] "), Ok(Members::NotAnObject));
        assert!(parse_members(b"{").is_err());
    }

    #[test]
    fn whole_numbers_and_others() {
        assert_eq!(ok("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(ok("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(ok("18446744073709551616").as_u64(), None);
        assert_eq!(ok("18446744073709551616").to_json(), "18446744073709551616");
        assert_eq!(ok("-0").as_i64(), None);
        assert_eq!(ok("1.0").as_u64(), None);
        assert_eq!(Value::from(-5i64).to_json(), "-5");
        assert_eq!(Value::from(i64::MIN).to_json(), "-9223372036854775808");
        assert_eq!(Value::from(0u64).to_json(), "0");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let s = "a\"b\\c\u{0}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é/";
        assert_eq!(quoted(s), serde_json::to_string(s).unwrap());
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = parse(b"{\n  \"a\" 1}").unwrap_err();
        assert_eq!(e.to_string(), "expected `:` at line 2 column 7");
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            "\"\\x\"",
            "\"\u{1}\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "tru",
            "nul",
            "[1 2]",
            "{1:2}",
            "1 2",
            "\"abc",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(parse(b"\"\xff\"").is_err());
    }

    #[test]
    fn heap_sort_sorts() {
        for n in 0..40u32 {
            let mut items: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2_654_435_761) % 17).collect();
            let mut expected = items.clone();
            expected.sort_unstable();
            heap_sort(&mut items, |a, b| a < b);
            assert_eq!(items, expected);
        }
    }

    #[test]
    fn nesting_is_limited() {
        let deepest = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(parse(deepest.as_bytes()).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
        let too_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(serde_json::from_str::<serde_json::Value>(&too_deep).is_err());
        assert_eq!(
            parse(too_deep.as_bytes()).unwrap_err().message,
            "recursion limit exceeded"
        );
        assert!(parse("[".repeat(100_000).as_bytes()).is_err());
    }
}
