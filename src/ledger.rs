//! The start ledger's shell: the `StartLedger` Durable Object class, and the calls
//! the worker makes to it. The core (`bloomreach_import_core::ledger`) decides every
//! state; this file only moves its calls and records (docs/architecture.md).
//!
//! A hand-written `wasm_bindgen` class rather than `#[durable_object]`: the macro
//! routes through `worker::Request`/`Response`, which bring back the router and the
//! error strings this worker sheds (about 40 KB of wasm). workerd constructs it with
//! `(state, env)` and calls `fetch` and `alarm`, as it would a JavaScript class.

use bloomreach_import_core::http_flow::LedgerCall;
use bloomreach_import_core::ledger::{self, Write};
use bloomreach_import_core::TriggerError;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::Env;

#[wasm_bindgen]
extern "C" {
    /// The object's state (`ctx` in JavaScript).
    pub type DurableObjectState;
    #[wasm_bindgen(method, getter)]
    fn storage(this: &DurableObjectState) -> DurableObjectStorage;

    #[derive(Clone)]
    type DurableObjectStorage;
    #[wasm_bindgen(method, getter)]
    fn sql(this: &DurableObjectStorage) -> SqlStorage;
    #[wasm_bindgen(method, js_name = setAlarm)]
    fn set_alarm(this: &DurableObjectStorage, at_ms: f64) -> js_sys::Promise;

    /// SQLite storage: `exec` runs at once (synchronously) inside the object.
    type SqlStorage;
    #[wasm_bindgen(method, catch, js_name = exec)]
    fn exec0(this: &SqlStorage, query: &str) -> Result<SqlCursor, JsValue>;
    #[wasm_bindgen(method, catch, js_name = exec)]
    fn exec1(this: &SqlStorage, query: &str, a: &JsValue) -> Result<SqlCursor, JsValue>;
    #[wasm_bindgen(method, catch, js_name = exec)]
    fn exec3(
        this: &SqlStorage,
        query: &str,
        a: &JsValue,
        b: &JsValue,
        c: &JsValue,
    ) -> Result<SqlCursor, JsValue>;
    type SqlCursor;
    #[wasm_bindgen(method, js_name = toArray)]
    fn to_array(this: &SqlCursor) -> js_sys::Array;

    /// The `START_LEDGER` binding.
    type DurableObjectNamespace;
    #[wasm_bindgen(method, js_name = idFromName)]
    fn id_from_name(this: &DurableObjectNamespace, name: &str) -> JsValue;
    #[wasm_bindgen(method)]
    fn get(this: &DurableObjectNamespace, id: &JsValue) -> DurableObjectStub;
    type DurableObjectStub;
    #[wasm_bindgen(method, js_name = fetch)]
    fn fetch_with_init(
        this: &DurableObjectStub,
        url: &str,
        init: &web_sys::RequestInit,
    ) -> js_sys::Promise;
}

/// One row per record: a key's, or a cron job's of one event. Every record of a
/// deployment's Bloomreach target lives in one object (`ledger::object_name`).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS records (name TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at INTEGER NOT NULL)";

/// The Durable Object class, bound as `START_LEDGER` in wrangler.toml.
#[wasm_bindgen]
pub struct StartLedger {
    storage: DurableObjectStorage,
}

/// The first value of the first row of `cursor`'s rows, under `column`.
fn first(rows: js_sys::Array, column: &str) -> JsValue {
    js_sys::Reflect::get(&rows.get(0), &column.into()).unwrap_or(JsValue::UNDEFINED)
}

/// The earliest expiry of the object's records, if it has any.
fn earliest_expiry(sql: &SqlStorage) -> Result<Option<f64>, JsValue> {
    let rows = sql
        .exec0("SELECT MIN(expires_at) AS at FROM records")?
        .to_array();
    Ok(first(rows, "at").as_f64())
}

/// Reads the call's record, runs the core's decision and writes its result, with no
/// `await` in between: the object runs one call at a time, so this is the one place
/// that decides for its records. Answers, and the alarm time to set when this record
/// became the earliest to expire.
fn decide(storage: &DurableObjectStorage, call: &str) -> Result<(String, Option<f64>), JsValue> {
    let sql = storage.sql();
    sql.exec0(SCHEMA)?;
    let name = JsValue::from_str(&ledger::record_of(call).unwrap_or_default());
    let rows = sql
        .exec1("SELECT body FROM records WHERE name = ?", &name)?
        .to_array();
    let stored = first(rows, "body").as_string();
    let applied = ledger::apply(stored.as_deref(), call, crate::clock::now_ms());
    let mut alarm = None;
    match &applied.write {
        Write::Nothing => {}
        Write::Put {
            record,
            expires_at_ms,
        } => {
            let at = *expires_at_ms as f64;
            sql.exec3(
                "INSERT OR REPLACE INTO records (name, body, expires_at) VALUES (?, ?, ?)",
                &name,
                &JsValue::from_str(record),
                &JsValue::from_f64(at),
            )?;
            // Clean-up is due when the earliest record expires (see `alarm`).
            if earliest_expiry(&sql)? == Some(at) {
                alarm = Some(at);
            }
        }
        Write::Delete => {
            sql.exec1("DELETE FROM records WHERE name = ?", &name)?;
        }
    }
    Ok((applied.answer, alarm))
}

#[wasm_bindgen]
impl StartLedger {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> StartLedger {
        StartLedger {
            storage: state.storage(),
        }
    }

    /// One ledger call: the request's body is the core's call, the answer its answer.
    pub fn fetch(&self, request: web_sys::Request) -> js_sys::Promise {
        let storage = self.storage.clone();
        future_to_promise(async move {
            let call = JsFuture::from(request.text()?).await?;
            let (answer, alarm) = decide(&storage, &call.as_string().unwrap_or_default())?;
            if let Some(at) = alarm {
                JsFuture::from(storage.set_alarm(at)).await?;
            }
            Ok(web_sys::Response::new_with_opt_str(Some(&answer))?.into())
        })
    }

    /// Deletes the records that have expired, so storage does not grow with every key
    /// ever used, and sets the next clean-up at the earliest expiry left.
    pub fn alarm(&self) -> js_sys::Promise {
        let storage = self.storage.clone();
        future_to_promise(async move {
            let sql = storage.sql();
            sql.exec0(SCHEMA)?;
            sql.exec1(
                "DELETE FROM records WHERE expires_at <= ?",
                &JsValue::from_f64(crate::clock::now_ms() as f64),
            )?;
            if let Some(at) = earliest_expiry(&sql)? {
                JsFuture::from(storage.set_alarm(at)).await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The worker's side: the binding, when the deployment has one.
pub struct Ledger(DurableObjectNamespace);

impl Ledger {
    /// The `START_LEDGER` binding, or `None` when the deployment has none.
    pub fn from_env(env: &Env) -> Option<Ledger> {
        let binding = js_sys::Reflect::get(env.as_ref(), &ledger::BINDING.into()).ok()?;
        (!binding.is_undefined() && !binding.is_null()).then(|| Ledger(binding.unchecked_into()))
    }

    /// Sends one call to its object; the answer's text, or `ledger_unavailable`.
    pub async fn call(&self, call: &LedgerCall) -> Result<String, TriggerError> {
        let stub = self.0.get(&self.0.id_from_name(&call.object));
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&call.call));
        let response: web_sys::Response =
            JsFuture::from(stub.fetch_with_init("https://start-ledger/", &init))
                .await
                .map_err(|_| ledger::unavailable())?
                .unchecked_into();
        if !response.ok() {
            return Err(ledger::unavailable());
        }
        let text = response.text().map_err(|_| ledger::unavailable())?;
        JsFuture::from(text)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .ok_or_else(ledger::unavailable)
    }

    /// Records a start's outcome (a `finish` call). A failure is logged, not answered:
    /// the start itself is over, and its pending record then reads as "outcome unknown".
    pub async fn record(&self, call: &LedgerCall) {
        let recorded = self
            .call(call)
            .await
            .is_ok_and(|answer| ledger::read_finish(&answer));
        if !recorded {
            crate::log::line(&bloomreach_import_core::log_line::record_not_saved_line());
        }
    }
}
