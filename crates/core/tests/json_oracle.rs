//! The hand-written JSON (`bloomreach_import_core::json`) held to serde_json, the
//! oracle: on generated documents, on the same documents spaced out, and on those
//! documents cut and mutated byte by byte, both accept the same texts, read the same
//! values, and write the same bytes.

use bloomreach_import_core::json::{self, Members};
use proptest::prelude::*;
use serde_json::Value as Oracle;

/// Any JSON value whose numbers are whole (what this crate writes), nested a little.
fn document() -> impl Strategy<Value = Oracle> {
    let leaf = prop_oneof![
        Just(Oracle::Null),
        any::<bool>().prop_map(Oracle::from),
        any::<u64>().prop_map(Oracle::from),
        any::<i64>().prop_map(Oracle::from),
        any::<String>().prop_map(Oracle::from),
        "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é😀]{0,8}".prop_map(Oracle::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Oracle::Array),
            prop::collection::vec(("[a-c\"\u{1}é]{0,3}", inner), 0..6)
                .prop_map(|members| Oracle::Object(members.into_iter().collect())),
        ]
    })
}

/// A few real numbers, written as a person might, for the reading side.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        Just("-0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775809".to_owned()),
    ]
}

/// What the oracle reads from our value's text: the two must agree on what it says.
fn as_oracle(value: &json::Value) -> Oracle {
    serde_json::from_str(&value.to_json()).expect("our output is JSON the oracle reads")
}

/// The oracle refuses a number a float cannot hold; we keep its text (src/json.rs).
fn oracle_refuses_only_a_huge_number(error: &serde_json::Error) -> bool {
    error.to_string().starts_with("number out of range")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn writes_what_serde_json_writes(doc in document()) {
        let text = serde_json::to_string(&doc).unwrap();
        let ours = json::parse(text.as_bytes()).expect("the oracle's output is JSON");
        prop_assert_eq!(ours.to_json(), text);
    }

    #[test]
    fn reads_spaced_out_documents_alike(doc in document()) {
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        let ours = json::parse(pretty.as_bytes()).expect("the oracle's output is JSON");
        prop_assert_eq!(as_oracle(&ours), doc);
    }

    #[test]
    fn agrees_on_numbers(text in number_text()) {
        let oracle = serde_json::from_str::<Oracle>(&text);
        let ours = json::parse(text.as_bytes());
        match (&oracle, &ours) {
            (Ok(o), Ok(v)) => {
                prop_assert_eq!(&as_oracle(v), o);
                prop_assert_eq!(v.as_u64(), o.as_u64());
                prop_assert_eq!(v.as_i64(), o.as_i64());
            }
            (Err(e), Ok(_)) => prop_assert!(oracle_refuses_only_a_huge_number(e), "{}: {}", text, e),
            (o, v) => prop_assert!(false, "{text}: oracle {o:?}, ours {v:?}"),
        }
    }

    #[test]
    fn accepts_and_refuses_what_serde_json_does(
        doc in document(),
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap();
        for (at, byte) in edits {
            let at = at.index(bytes.len() + 1);
            if at == bytes.len() {
                bytes.push(byte);
            } else {
                bytes[at] = byte;
            }
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() / 2);
        bytes.truncate(keep);
        let oracle = serde_json::from_slice::<Oracle>(&bytes);
        let ours = json::parse(&bytes);
        match (&oracle, &ours) {
            (Ok(o), Ok(v)) => prop_assert_eq!(&as_oracle(v), o),
            (Err(_), Err(_)) => {}
            (Err(e), Ok(_)) => prop_assert!(oracle_refuses_only_a_huge_number(e), "{}", e),
            (Ok(_), Err(e)) => prop_assert!(false, "{:?}: ours refused ({e})", String::from_utf8_lossy(&bytes)),
        }
    }

    #[test]
    fn members_come_in_document_order_with_repeats(
        members in prop::collection::vec(("[ab]{1,2}", any::<u32>()), 0..8),
    ) {
        let text = format!(
            "{{{}}}",
            members.iter().map(|(k, v)| format!("{k:?}: {v}")).collect::<Vec<_>>().join(", ")
        );
        let Ok(Members::Object(read)) = json::parse_members(text.as_bytes()) else {
            return Err(TestCaseError::fail(format!("{text} is an object")));
        };
        let read: Vec<(String, u64)> =
            read.into_iter().map(|(k, v)| (k, v.as_u64().unwrap())).collect();
        let given: Vec<(String, u64)> =
            members.into_iter().map(|(k, v)| (k, u64::from(v))).collect();
        prop_assert_eq!(read, given);
        // Read whole, the last of equal keys wins, as with the oracle.
        let oracle: Oracle = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(as_oracle(&json::parse(text.as_bytes()).unwrap()), oracle);
    }
}

#[test]
fn refuses_what_serde_json_refuses() {
    for bad in [
        "",
        " ",
        "{",
        "}",
        "[",
        "]",
        "[1,]",
        "{\"a\":1,}",
        "{,}",
        "[,1]",
        "01",
        "-01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "0x1",
        "NaN",
        "Infinity",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\uZZZZ\"",
        "\"\u{1}\"",
        "\"\\ud800\"",
        "\"\\ud800\\u0041\"",
        "\"\\udc00\"",
        "tru",
        "nul",
        "falsey",
        "[1 2]",
        "{1:2}",
        "{\"a\" 1}",
        "{\"a\":}",
        "1 2",
        "\"abc",
        "'a'",
        "\u{feff}{}",
        "/* */{}",
        "{\"a\":1}}",
    ] {
        assert!(
            serde_json::from_str::<Oracle>(bad).is_err(),
            "oracle: {bad:?}"
        );
        assert!(json::parse(bad.as_bytes()).is_err(), "ours: {bad:?}");
    }
    for bad in [
        &b"\"\xff\""[..],
        b"\"\xc3\"",
        b"\xef\xbb\xbf{}",
        b"{\"\xed\xa0\x80\":1}",
    ] {
        assert!(serde_json::from_slice::<Oracle>(bad).is_err());
        assert!(json::parse(bad).is_err(), "ours: {bad:?}");
    }
}
