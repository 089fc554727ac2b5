//! Every JSON the core reads, from any bytes: the request body, `SCHEDULES`, the npm
//! options, the ledger's calls (batches too), records and answers. Never a panic; a body that is
//! accepted is empty or a JSON object, and one refused as not JSON is not JSON to
//! serde_json either.
#![no_main]
use bloomreach_import_core::request_body::parse_body;
use bloomreach_import_core::{call_batch, ledger, Account, ProjectToken, Schedules, StartOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_body(data) {
        Ok(_) => assert!(
            data.is_empty()
                || serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_object())
        ),
        Err(e) if e.message.starts_with("body: is not valid JSON") => {
            assert!(serde_json::from_slice::<serde_json::Value>(data).is_err())
        }
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(schedules) = Schedules::parse(&text) {
        let _ = schedules.problems(&["0 3 * * *".to_owned()]);
        let account = Account {
            project: ProjectToken::parse("p").ok(),
            ..Account::default()
        };
        let _ = schedules.plan("0 3 * * *", 1_700_000_000_000, &account, None);
    }
    let _ = StartOptions::from_json(&text);
    // The first line as a stored record, the rest as a call.
    let (stored, call) = text.split_once('\n').unwrap_or(("", &text));
    let applied = ledger::apply(Some(stored), call, 1_700_000_000_000);
    let _ = ledger::read_begin(&applied.answer);
    let _ = ledger::record_of(call);
    let _ = ledger::read_begin(&text);
    let _ = ledger::read_finish(&text);
    // A batch of calls, and the object's answers to one.
    assert_eq!(call_batch::read_answers(&text, 2).len(), 2);
    let _ = call_batch::batch_call(&[call, stored]);
});
