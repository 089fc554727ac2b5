//! Settings from the worker's environment, for the core's [`Lookup`].

use bloomreach_import_core::Lookup;
use wasm_bindgen::JsValue;
use worker::Env;

/// Reads vars and secrets by name. A structured `[vars]` value (a TOML table, such as
/// `SCHEDULES` written as a table) arrives as an object and is handed over as JSON.
pub struct EnvLookup<'a>(pub &'a Env);

impl Lookup for EnvLookup<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let env: &JsValue = self.0.as_ref();
        let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
        if let Some(text) = value.as_string() {
            return Some(text);
        }
        if value.is_object() {
            return js_sys::JSON::stringify(&value).ok()?.as_string();
        }
        None
    }
}
