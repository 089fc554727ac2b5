//! Reading Bloomreach's answers: any status, any body, never a panic.
#![no_main]
use bloomreach_import_core::read_answer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 1000;
    if let Err(e) = read_answer(status, &data[2..]) {
        assert!(!e.message.is_empty());
    }
});
