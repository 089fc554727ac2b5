//! How long the core's part of one HTTP start takes on the host: the whole
//! `http_flow` (route, token, body, settings, request), the attempt's answer, the
//! reply and the log line.
//! `cargo run --release -p bloomreach-import-core --example hot_path`
use bloomreach_import_core::http_flow::{self, Next, RequestHead};
use bloomreach_import_core::{AttemptOutcome, Attempts, Step};
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
    let headers = |name: &str| {
        (name == "authorization").then(|| "Bearer caller-token-one-0123456789".to_owned())
    };
    let head = RequestHead {
        method: "POST",
        url: "http://127.0.0.1:8787/imports/bench/start",
        headers: &headers,
    };
    let t0 = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        let Next::ReadBody(awaiting) = http_flow::begin(&head, &lookup, 0) else {
            return;
        };
        let Next::Send(sending) = awaiting.on_body(Ok(b""), &lookup, false, 1, 0) else {
            return;
        };
        let (mut run, _) = Attempts::begin(sending.limits(), 1);
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
        let Next::Done(finished) = sending.on_result(&result, 4) else {
            return;
        };
        bytes += finished.reply.body.len() + finished.log_line.map_or(0, |l| l.len());
    }
    let per = t0.elapsed() / n;
    println!("core part of one start: {per:?} on the host ({bytes} bytes built)");
}
