//! How long the core's part of one HTTP start takes on the host: authorize, prepare
//! (body, settings, request), read the answer, build the reply and the log line.
//! `cargo run --release -p bloomreach-import-core --example hot_path`
use bloomreach_import_core::endpoint::{authorize, outcome_reply, prepare};
use bloomreach_import_core::{AttemptOutcome, RetryLimits, StartRun, Step, TriggerLog};
use std::time::Instant;

fn lookup(name: &str) -> Option<String> {
    match name {
        "BLOOMREACH_API_KEY_ID" => Some("key-id-123".into()),
        "BLOOMREACH_API_SECRET" => Some("secret-456".into()),
        "BLOOMREACH_PROJECT_TOKEN" => Some("2d0be12a-4b0c-12ec-87da-86c198934217".into()),
        "BLOOMREACH_API_BASE" => Some("http://127.0.0.1:9999".into()),
        "TRIGGER_TOKENS" => Some("caller-token-one-0123456789,caller-token-two-abcdefghij".into()),
        _ => None,
    }
}

fn main() {
    let n = 200_000;
    let t0 = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        let caller =
            authorize(&lookup, Some("Bearer caller-token-one-0123456789")).unwrap_or_default();
        let Ok(prepared) = prepare("bench", None, b"", &lookup) else {
            return;
        };
        let (mut run, _) = StartRun::begin(RetryLimits::default(), 0);
        let step = run.on_outcome(
            AttemptOutcome::Answered {
                status: 200,
                retry_after: None,
                body: br#"{"success": true}"#.to_vec(),
            },
            3,
            0.5,
        );
        let Step::Done(result) = step else { return };
        let reply = outcome_reply(&prepared.start, &result);
        let cause = format!("http:{caller}");
        let mut entry = TriggerLog::new(Some("bench"), &cause);
        entry.record_run(&result, 3);
        bytes += reply.body.len() + entry.to_line().len();
    }
    let per = t0.elapsed() / n;
    println!("core part of one start: {per:?} on the host ({bytes} bytes built)");
}
