//! Reading a request body without holding more than the limit allows.

use bloomreach_import_core::request_body::{too_large, MAX_BODY_BYTES};
use bloomreach_import_core::TriggerError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Reads the body, at most [`MAX_BODY_BYTES`]: in one `arrayBuffer()` when `whole`
/// (the core's `AwaitingBody::length_declared`: a length within the limit was
/// declared, and the runtime holds the body to it), otherwise chunk by chunk, stopping
/// and cancelling the stream as soon as it passes the limit.
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
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(unreadable)?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map_err(unreadable)?;
        if done.as_bool().unwrap_or(true) {
            return Ok(body);
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(unreadable)?;
        let bytes = js_sys::Uint8Array::new(&value);
        if body.len() + bytes.length() as usize > MAX_BODY_BYTES {
            // Nothing more is wanted from this body; a failure to cancel changes nothing.
            let _ = reader.cancel();
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}
