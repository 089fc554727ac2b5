//! Settings from the worker's environment, for the core's [`Lookup`].

use bloomreach_import_core::{Lookup, SettingValue};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::Env;

/// The settings read so far from one `env` object, by name (`None`: not there).
type Read = Rc<RefCell<HashMap<String, Option<SettingValue>>>>;

/// Reads vars and secrets by name, each once per `env` object.
///
/// workerd hands the requests of an isolate the same `env` object, so a setting read
/// once is kept for the next requests instead of crossing into JavaScript again. A
/// change of bindings alone (a `wrangler secret put`) may keep isolates running with a
/// new object
/// (<https://developers.cloudflare.com/workers/runtime-apis/bindings/#making-changes-to-bindings>),
/// so what is kept serves only requests handed that same object, checked every time,
/// and any other `env` is read afresh.
///
/// A value keeps its type: `[vars]` may hold numbers, booleans and tables.
pub struct EnvLookup<'a> {
    env: &'a Env,
    read: Read,
}

thread_local! {
    /// The last `env` object seen, and what was read of it.
    static KEPT: RefCell<Option<(JsValue, Read)>> = const { RefCell::new(None) };
}

impl<'a> EnvLookup<'a> {
    pub fn new(env: &'a Env) -> EnvLookup<'a> {
        let env_value: &JsValue = env.as_ref();
        let kept = KEPT.with_borrow(|kept| {
            kept.as_ref()
                .filter(|(seen, _)| js_sys::Object::is(seen, env_value))
                .map(|(_, read)| Rc::clone(read))
        });
        let read = kept.unwrap_or_else(|| {
            let read = Read::default();
            KEPT.set(Some((env_value.clone(), Rc::clone(&read))));
            read
        });
        EnvLookup { env, read }
    }

    fn read_one(&self, name: &str) -> Option<SettingValue> {
        read_setting(self.env, name)
    }
}

/// One binding, read from the runtime: text with `Env::var`, a table with
/// `Env::object_var`. workers-rs 0.8 reads neither a number nor a boolean (its
/// bindings are told apart by constructor name, which `null` lacks: it throws), so
/// those, `null` and arrays are read with js_sys first.
fn read_setting(env: &Env, name: &str) -> Option<SettingValue> {
    let raw = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if raw.is_null() || raw.is_undefined() {
        return None;
    }
    if let Some(number) = raw.as_f64() {
        return Some(SettingValue::Number(number));
    }
    if let Some(flag) = raw.as_bool() {
        return Some(SettingValue::Bool(flag));
    }
    if let Ok(text) = env.var(name) {
        return Some(SettingValue::Text(text.to_string()));
    }
    if let Ok(table) = env.object_var::<serde_json::Value>(name) {
        return Some(SettingValue::Structured(table.to_string()));
    }
    if js_sys::Array::is_array(&raw) {
        let text = js_sys::JSON::stringify(&raw).ok()?;
        return Some(SettingValue::Structured(text.into()));
    }
    None
}

/// Reads settings straight from an `env`, keeping nothing: for the ledger object,
/// which reads its few once when it is made, and must not displace the requests'
/// kept `env` ([`EnvLookup`]).
pub struct Uncached<'a>(pub &'a Env);

impl Lookup for Uncached<'_> {
    fn get(&self, name: &str) -> Option<SettingValue> {
        read_setting(self.0, name)
    }
}

impl Lookup for EnvLookup<'_> {
    fn get(&self, name: &str) -> Option<SettingValue> {
        if let Some(value) = self.read.borrow().get(name) {
            return value.clone();
        }
        let value = self.read_one(name);
        self.read
            .borrow_mut()
            .insert(name.to_owned(), value.clone());
        value
    }
}
