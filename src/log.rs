//! Writing the core's log lines to the runtime's log.

/// One line to the worker's log (`console.log`, seen by `wrangler tail` and Workers Logs).
pub fn line(text: &str) {
    web_sys::console::log_1(&text.into());
}

/// A panic, as one JSON line on the error log.
pub fn panic(message: &str) {
    let line = serde_json::json!({"event": "panic", "message": message});
    web_sys::console::error_1(&line.to_string().into());
}
