//! The Authorization header against TRIGGER_TOKENS: never a panic, only a header that
//! is exactly "Bearer <a listed token>" (scheme in any case) is accepted, it names the
//! entry's caller, and a malformed setting never shows an entry's text.
#![no_main]
use bloomreach_import_core::CallerTokens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (tokens, header) = text.split_once('\n').unwrap_or((&text, ""));
    if let Err(e) = CallerTokens::parse_as("TRIGGER_TOKENS", tokens) {
        assert!(e.message.starts_with("TRIGGER_TOKENS: "));
        for entry in tokens.split(',').map(str::trim).filter(|t| t.len() >= 16) {
            assert!(!e.message.contains(entry));
        }
    }
    if let Ok(fixed) = CallerTokens::parse_as(
        "TRIGGER_TOKENS",
        "token-one-0123456789,ci-2026:token-two-0123456789",
    ) {
        if let Ok(caller) = fixed.check(Some(header)) {
            let token = header.split_whitespace().nth(1).unwrap_or("");
            assert!(
                caller == "token#1" && token == "token-one-0123456789"
                    || caller == "ci-2026" && token == "token-two-0123456789"
            );
        }
    }
});
