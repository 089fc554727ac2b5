//! The Authorization header against TRIGGER_TOKENS: never a panic, and only a header
//! that is exactly "Bearer <a listed token>" (scheme in any case) is accepted.
#![no_main]
use bloomreach_import_core::CallerTokens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (tokens, header) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = CallerTokens::parse_as("TRIGGER_TOKENS", tokens);
    if let Ok(fixed) = CallerTokens::parse_as("TRIGGER_TOKENS", "token-one-0123456789,token-two-0123456789") {
        if let Ok(n) = fixed.check(Some(header)) {
            let token = header.split_whitespace().nth(1).unwrap_or("");
            assert!(n == 1 && token == "token-one-0123456789" || n == 2 && token == "token-two-0123456789");
        }
    }
});
