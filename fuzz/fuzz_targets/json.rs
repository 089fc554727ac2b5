//! The hand-written JSON against serde_json: never a panic, the same texts accepted
//! (but for numbers too large for a float, which it keeps and serde_json refuses), the
//! same values read, and what it writes read back as the same value.
#![no_main]
use bloomreach_import_core::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = json::parse(data);
    let _ = json::parse_members(data);
    match (serde_json::from_slice::<serde_json::Value>(data), ours) {
        (Ok(oracle), Ok(value)) => {
            let back: serde_json::Value = serde_json::from_str(&value.to_json()).unwrap();
            assert_eq!(back, oracle);
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => assert!(e.to_string().starts_with("number out of range"), "{e}"),
        (Ok(_), Err(e)) => panic!("refused what serde_json reads: {e}"),
    }
});
