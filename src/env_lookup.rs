//! Settings from the worker's environment, for the core's [`Lookup`].

use bloomreach_import_core::json::{self, Map, Value};
use bloomreach_import_core::Lookup;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::Env;

/// The environment's members, read in one crossing; `None` if it cannot be
/// stringified (a binding whose `toJSON` throws, say), and then each is read alone.
fn snapshot(env: &JsValue) -> Option<Map> {
    let text = js_sys::JSON::stringify(env).ok()?.as_string()?;
    match json::parse(text.as_bytes()).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Reads vars and secrets by name.
///
/// The environment is read once, not once a request: `JSON.stringify(env)`, read by
/// the core's JSON reader and kept, instead of a `Reflect.get` and a string copy for
/// each of the dozen settings every request looks up (issue 14). workerd hands the
/// requests of an isolate the same `env` object, but a change of bindings alone (a
/// `wrangler secret put`) may keep isolates running with a new one
/// (<https://developers.cloudflare.com/workers/runtime-apis/bindings/#making-changes-to-bindings>),
/// so the copy serves only requests handed that same object, checked every time, and
/// any other `env` is read afresh. Bindings that are not text (the ledger's namespace)
/// stringify as `{}` and are never looked up here. A structured `[vars]` value (a
/// TOML table, such as `SCHEDULES` written as a table) is read on its own and handed
/// over as JSON.
pub struct EnvLookup<'a> {
    env: &'a Env,
    strings: Option<Rc<Map>>,
}

thread_local! {
    /// The last `env` read, and its text bindings.
    static SNAPSHOT: RefCell<Option<(JsValue, Rc<Map>)>> = const { RefCell::new(None) };
}

impl<'a> EnvLookup<'a> {
    pub fn new(env: &'a Env) -> EnvLookup<'a> {
        let env_value: &JsValue = env.as_ref();
        let kept = SNAPSHOT.with_borrow(|kept| {
            kept.as_ref()
                .filter(|(seen, _)| js_sys::Object::is(seen, env_value))
                .map(|(_, strings)| Rc::clone(strings))
        });
        let strings = kept.or_else(|| {
            let strings = Rc::new(snapshot(env_value)?);
            SNAPSHOT.set(Some((env_value.clone(), Rc::clone(&strings))));
            Some(strings)
        });
        EnvLookup { env, strings }
    }

    /// One binding, read on its own.
    fn read_one(&self, name: &str) -> Option<String> {
        let env: &JsValue = self.env.as_ref();
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

impl Lookup for EnvLookup<'_> {
    fn get(&self, name: &str) -> Option<String> {
        match self.strings.as_ref().map(|strings| strings.get(name)) {
            Some(Some(Value::String(text))) => Some(text.clone()),
            // Not text: absent, or a number or boolean `[vars]` value, as before.
            Some(None | Some(Value::Null | Value::Bool(_) | Value::Number(_))) => None,
            // A table, or no snapshot at all.
            Some(Some(Value::Object(_) | Value::Array(_))) | None => self.read_one(name),
        }
    }
}
