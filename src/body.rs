//! Reading a body (a caller's request, Bloomreach's answer) without holding more than
//! is used: chunk by chunk, stopping and cancelling the stream past the limit.

use bloomreach_import_core::request_body::{too_large, MAX_BODY_BYTES};
use bloomreach_import_core::TriggerError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What was read of a stream.
pub struct Capped {
    /// At most the limit's bytes.
    pub bytes: Vec<u8>,
    /// The stream held more than the limit (and was cancelled there).
    pub over: bool,
}

/// Reads `stream` up to `limit` bytes; past it, keeps the first `limit` bytes and
/// cancels the rest. A failure midway (an abort, a reset) is an error.
pub async fn read_capped(stream: web_sys::ReadableStream, limit: usize) -> Result<Capped, JsValue> {
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())?;
        if done.as_bool().unwrap_or(true) {
            return Ok(Capped { bytes, over: false });
        }
        let value: js_sys::Uint8Array =
            js_sys::Reflect::get(&chunk, &"value".into())?.unchecked_into();
        let length = value.length() as usize;
        let start = bytes.len();
        let take = length.min(limit - start);
        bytes.resize(start + take, 0);
        value.subarray(0, take as u32).copy_to(&mut bytes[start..]);
        if take < length {
            // Nothing more is wanted; a failure to cancel changes nothing.
            let _ = reader.cancel();
            return Ok(Capped { bytes, over: true });
        }
    }
}

/// Reads a request's body, at most [`MAX_BODY_BYTES`]: in one `arrayBuffer()` when
/// `whole` (the core's `AwaitingBody::length_declared`: a length within the limit was
/// declared, and the runtime holds the body to it), otherwise chunk by chunk.
pub async fn read_limited(req: &web_sys::Request, whole: bool) -> Result<Vec<u8>, TriggerError> {
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let unreadable = |_: JsValue| TriggerError::invalid("body", "could not be read");
    if whole {
        let buffer = JsFuture::from(req.array_buffer().map_err(unreadable)?)
            .await
            .map_err(unreadable)?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        return if bytes.len() > MAX_BODY_BYTES {
            Err(too_large())
        } else {
            Ok(bytes)
        };
    }
    let read = read_capped(stream, MAX_BODY_BYTES)
        .await
        .map_err(unreadable)?;
    if read.over {
        Err(too_large())
    } else {
        Ok(read.bytes)
    }
}
