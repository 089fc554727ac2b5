//! The endpoint's request body and query: never a panic, and whatever is accepted
//! yields a request that carries a content-type exactly when it carries a body.
#![no_main]
use bloomreach_import_core::endpoint::prepare;
use bloomreach_import_core::request_body::parse_body;
use libfuzzer_sys::fuzz_target;

fn lookup(name: &str) -> Option<String> {
    match name {
        "BLOOMREACH_API_KEY_ID" => Some("key".into()),
        "BLOOMREACH_API_SECRET" => Some("secret".into()),
        "BLOOMREACH_PROJECT_TOKEN" => Some("proj".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_body(data);
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(0);
    let query = String::from_utf8_lossy(&data[..split]);
    if let Ok(prepared) = prepare("imp", Some(&query), &data[split..], &lookup) {
        let has_type = prepared.upstream.headers().iter().any(|(n, _)| *n == "content-type");
        assert_eq!(has_type, prepared.upstream.body.is_some());
    }
});
