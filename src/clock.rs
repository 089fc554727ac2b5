//! The runtime's clock, for the core's state machines (which take time as an argument).

/// Now, in unix milliseconds.
pub fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}
