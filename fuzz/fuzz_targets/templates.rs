//! Path templates and time offsets: parsing and rendering at any time never panic.
#![no_main]
use bloomreach_import_core::template::{parse_offset, PathTemplate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let secs = i64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8])) % 400_000_000_000;
    let text = String::from_utf8_lossy(&data[8..]);
    if let Ok(template) = PathTemplate::parse_as("path", &text) {
        let _ = template.render(secs);
    }
    if let Ok(offset) = parse_offset("time_offset", &text) {
        assert!(offset.abs() <= 3660 * 86_400);
    }
});
