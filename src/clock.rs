//! The runtime's clock and random numbers, for the core's state machines (which take
//! both as arguments).

/// Now, in unix milliseconds.
pub fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}

/// 64 random bits (two draws of `Math.random`, 32 bits each), for a history entry's
/// id: unique enough that two starts in one millisecond never share one. Not for
/// secrets.
pub fn random_u64() -> u64 {
    let draw = || (js_sys::Math::random() * 4_294_967_296.0) as u64 & 0xffff_ffff;
    (draw() << 32) | draw()
}
