//! Writing the core's log lines to the runtime's log.

/// One line to the worker's log (`console.log`, seen by `wrangler tail` and Workers Logs).
pub fn line(text: &str) {
    web_sys::console::log_1(&text.into());
}

/// A panic, as one JSON line on the error log.
pub fn panic(message: &str) {
    let line = bloomreach_import_core::log_line::panic_line(message);
    web_sys::console::error_1(&line.into());
}
