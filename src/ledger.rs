//! The start ledger's shell: the `StartLedger` Durable Object, and the calls the worker
//! makes to it. The core (`bloomreach_import_core::ledger`, `store`, `history`) decides
//! every state, every statement and when the clean-up alarm rings; this file only runs
//! the core's SQL and moves its calls, rows and answers (docs/architecture.md).
//!
//! Built on workers-rs: `#[durable_object]` with its `State`, `Storage::sql()` and the
//! alarm methods, and `Env::durable_object` for the stub. The SQL itself, and what is
//! decided with its rows, is the core's (`store`). src/entry.mjs wraps the class
//! so that a panic elsewhere in the instance does not leave it stale.

use bloomreach_import_core::history;
use bloomreach_import_core::http_flow::LedgerCall;
use bloomreach_import_core::log_line::{
    alarm_not_set_line, history_write_failed_line, record_not_saved_line,
};
use bloomreach_import_core::store::{self, ObjectSettings, Sql, SqlError, SqlValue};
use bloomreach_import_core::{cleanup, hold, ledger, TriggerError, TriggerLog};
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response,
    ScheduledTime, SqlStorage, SqlStorageValue, State, Storage,
};

/// The object's SQLite as the core's [`Sql`]: binds the core's values, returns the
/// rows' values in column order. Integers are bound as JavaScript numbers (unix
/// milliseconds and counts, within 2^53), as the runtime returns them.
struct Db<'a>(&'a SqlStorage);

impl Sql for Db<'_> {
    fn run(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        let bindings: Vec<SqlStorageValue> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => SqlStorageValue::Null,
                SqlValue::Integer(n) => SqlStorageValue::Float(*n as f64),
                SqlValue::Real(f) => SqlStorageValue::Float(*f),
                SqlValue::Text(t) => SqlStorageValue::String(t.clone()),
            })
            .collect();
        let failed = |e: worker::Error| SqlError(e.to_string());
        let cursor = self.0.exec(sql, bindings).map_err(failed)?;
        cursor
            .raw()
            .map(|row| {
                row.map(|values| {
                    values
                        .into_iter()
                        .map(|v| match v {
                            SqlStorageValue::Null => SqlValue::Null,
                            SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(b)),
                            SqlStorageValue::Integer(n) => SqlValue::Integer(n),
                            SqlStorageValue::Float(f) => SqlValue::Real(f),
                            SqlStorageValue::String(t) => SqlValue::Text(t),
                            SqlStorageValue::Blob(b) => {
                                SqlValue::Text(String::from_utf8_lossy(&b).into_owned())
                            }
                        })
                        .collect()
                })
            })
            .collect::<Result<_, _>>()
            .map_err(failed)
    }
}

/// The Durable Object class, bound as `START_LEDGER` in wrangler.toml. One per
/// deployment target (`ledger::object_name`), holding the ledger's records and the
/// start history (`bloomreach_import_core::store` has every statement).
#[durable_object(alarm)]
pub struct StartLedger {
    storage: Storage,
    sql: SqlStorage,
    /// `HISTORY_RETENTION_DAYS` and the test hooks, read once: an object's bindings
    /// do not change while it lives (a deploy makes new ones).
    settings: ObjectSettings,
    /// Whether this instance made sure of the tables.
    schema_ready: Cell<bool>,
    /// The worker's settings (the same secrets and vars), read when a held start is
    /// tried again: its request is built from them then, never stored.
    env: Env,
}

impl StartLedger {
    fn db(&self) -> worker::Result<Db<'_>> {
        let db = Db(&self.sql);
        if !self.schema_ready.get() {
            store::ensure_schema(&db).map_err(|e| worker::Error::RustError(e.0))?;
            self.schema_ready.set(true);
        }
        Ok(db)
    }

    /// Sets the clean-up alarm where the core says: at the earliest moment anything
    /// is due (a record's expiry, an entry's end of retention, now when the history
    /// is over its cap), unless one is already set at or before it. Run after every
    /// call and clean-up, so a clean-up whose alarm failed for good (Cloudflare
    /// retries a throwing `alarm()` six times, then gives up:
    /// <https://developers.cloudflare.com/durable-objects/api/alarms/>) resumes with
    /// the next write.
    async fn schedule_cleanup(&self, db: &Db<'_>) -> worker::Result<()> {
        let now = crate::clock::now_ms();
        let due =
            store::alarm_due(db, now, &self.settings).map_err(|e| worker::Error::RustError(e.0))?;
        let current = self.storage.get_alarm().await?.map(|at| at.max(0) as u64);
        if let Some(at) = cleanup::alarm_to_set(current, due) {
            let date = js_sys::Date::new(&JsValue::from_f64(at as f64));
            self.storage.set_alarm(ScheduledTime::new(date)).await?;
        }
        Ok(())
    }
}

impl StartLedger {
    /// The alarm's work: the clean-up, the held starts whose time has come, then the
    /// next alarm. Returns the tries made.
    async fn alarm_work(&self, db: &Db<'_>) -> worker::Result<usize> {
        store::clean_up(db, crate::clock::now_ms(), &self.settings)
            .map_err(|e| worker::Error::RustError(e.0))?;
        let tried = self.try_held(db).await;
        self.schedule_cleanup(db).await?;
        tried
    }

    /// Tries the held starts whose time has come ([`store::take_due`] marks them
    /// trying before anything is sent, with no `await` in between), all at once (at
    /// most [`hold::TRIES_PER_ALARM`]), so each is sent within the time it was given;
    /// each with the worker's own sending code; then writes how each ended.
    async fn try_held(&self, db: &Db<'_>) -> worker::Result<usize> {
        let due = store::take_due(db, crate::clock::now_ms())
            .map_err(|e| worker::Error::RustError(e.0))?;
        let count = due.len();
        let lookup = crate::env_lookup::Uncached(&self.env);
        let lookup = &lookup;
        crate::concurrency::map_bounded(due, hold::TRIES_PER_ALARM, |held| async move {
            let began = crate::clock::now_ms();
            let result = match held.prepare(lookup) {
                Ok(prepared) => {
                    crate::upstream::send_with_retries(&prepared.upstream, prepared.limits).await
                }
                Err(error) => hold::not_tried(error),
            };
            let now = crate::clock::now_ms();
            let cause = held.try_cause();
            let mut line = TriggerLog::new(Some(&held.import_id), &cause);
            line.api = held.api;
            line.total_ms = now.saturating_sub(began);
            line.record_run(&result);
            crate::log::line(&line.to_line());
            // Not written: the row stays "trying" and reads as outcome unknown once
            // its time passed; never sent again.
            if let Err(e) = store::after_try(db, &held, &result, now) {
                crate::log::line(&history_write_failed_line(Some(&held.id), &e.0));
            }
        })
        .await;
        Ok(count)
    }
}

impl StartLedger {
    /// One call: the core's call in, its answer out; `Err` when SQL failed. The read,
    /// the decision and the writes run with no `await` in between (SQL runs
    /// synchronously in the object), so this is the one place that decides for its
    /// records.
    async fn answer(&self, call: &str) -> Result<String, String> {
        let db = self.db().map_err(|e| e.to_string())?;
        if store::is_alarm_hook(call, &self.settings) {
            // The tests' way to run the alarm's work now (HISTORY_TEST_HOOKS).
            let tried = self.alarm_work(&db).await.map_err(|e| e.to_string())?;
            return Ok(format!("{{\"tried\":{tried}}}"));
        }
        let handled =
            store::handle(&db, call, crate::clock::now_ms(), &self.settings).map_err(|e| e.0)?;
        if let Some(message) = &handled.history_error {
            crate::log::line(&history_write_failed_line(None, message));
        }
        // The call's decision is written: a clean-up alarm that could not be set must not
        // turn it into a failure (the worker would answer 503 for a start it recorded).
        // The next call sets it again.
        if self.schedule_cleanup(&db).await.is_err() {
            crate::log::line(&alarm_not_set_line());
        }
        Ok(handled.answer)
    }
}

/// The object's RPC method: the worker's calls come here rather than through `fetch`,
/// with a string in and a string out instead of a `Request` and a `Response` on each
/// side (measured: README, "Performance"). workerd calls the methods of a Durable
/// Object class that extends `DurableObject` over a stub
/// (<https://developers.cloudflare.com/durable-objects/best-practices/create-durable-object-stubs-and-send-requests/>);
/// workers-rs 0.8's `#[durable_object]` exports `fetch` and `alarm` only, so this
/// method is exported here, and src/entry.mjs's class (which extends `DurableObject`)
/// forwards it.
#[wasm_bindgen]
impl StartLedger {
    #[wasm_bindgen(js_name = ledgerCall)]
    pub async fn ledger_call(&self, call: String) -> Result<String, JsValue> {
        self.answer(&call)
            .await
            .map_err(|message| js_sys::Error::new(&message).into())
    }
}

impl DurableObject for StartLedger {
    fn new(state: State, env: Env) -> StartLedger {
        let storage = state.storage();
        let sql = storage.sql();
        let lookup = crate::env_lookup::Uncached(&env);
        let settings = ObjectSettings {
            // Malformed: kept for its age until fixed; the history's routes report it.
            retention_ms: history::retention_ms(&lookup).ok(),
            test_hooks: history::test_hooks_enabled(&lookup),
            ..ObjectSettings::default()
        };
        StartLedger {
            storage,
            sql,
            settings,
            schema_ready: Cell::new(false),
            env,
        }
    }

    /// One call over `fetch`: the request's body is the core's call, the answer its
    /// answer (the worker calls [`StartLedger::ledger_call`] instead; the tests and
    /// their hooks use this).
    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let call = req.text().await?;
        match self.answer(&call).await {
            Ok(answer) => Response::ok(answer),
            Err(message) => Response::error(message, 500),
        }
    }

    /// The clean-up: expired records, entries past their retention or the cap, stopped
    /// starts settled; then the next alarm. Safe to run twice or late: alarms are
    /// delivered at least once.
    async fn alarm(&self) -> worker::Result<Response> {
        let db = self.db()?;
        self.alarm_work(&db).await?;
        Response::empty()
    }
}

#[wasm_bindgen]
extern "C" {
    /// A stub of the ledger object, used through its RPC method. workers-rs 0.8 has
    /// `Stub::into_rpc` for this and leaves the methods to declare.
    type LedgerStub;

    #[wasm_bindgen(method, catch, js_name = ledgerCall)]
    fn ledger_call(this: &LedgerStub, call: &str) -> Result<JsValue, JsValue>;
}

/// Whether the runtime refused an RPC call because the object's class does not
/// extend `DurableObject`: an object still running a version from before the RPC
/// method, as it may during a deploy (in a gradual deployment each object keeps its
/// version until the next deployment:
/// <https://developers.cloudflare.com/workers/versions-and-deployments/gradual-deployments/with-durable-objects/>).
/// The refusal comes before the object runs anything, so the call can go again by
/// `fetch`.
fn rpc_unsupported(error: &JsValue) -> bool {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .is_some_and(|m| m.contains("does not support RPC"))
}

/// Sends `call` with the binding looked up for the request, or answers
/// `ledger_unavailable` when the deployment has none.
pub async fn ask(ledger: Option<&Ledger>, call: &LedgerCall) -> Result<String, TriggerError> {
    match ledger {
        Some(ledger) => ledger.call(call).await,
        None => Err(ledger::unavailable()),
    }
}

/// The worker's side: the binding, when the deployment has one.
#[derive(Clone)]
pub struct Ledger(ObjectNamespace);

impl Ledger {
    /// The `START_LEDGER` binding, or `None` when the deployment has none.
    pub fn from_env(env: &Env) -> Option<Ledger> {
        env.durable_object(ledger::BINDING).ok().map(Ledger)
    }

    /// Sends one call to its object; the answer's text, or `ledger_unavailable`.
    pub async fn call(&self, call: &LedgerCall) -> Result<String, TriggerError> {
        self.send(&call.object, &call.call).await
    }

    /// Sends the call `call` to `object` (a batch's, made of several).
    pub async fn send(&self, object: &str, call: &str) -> Result<String, TriggerError> {
        self.exchange(object, call)
            .await
            .map_err(|_| ledger::unavailable())
    }

    /// The object's answer, through its RPC method (a rejection when its SQL failed),
    /// or through its `fetch` when the object runs a version from before the method.
    async fn exchange(&self, object: &str, call: &str) -> Result<String, JsValue> {
        match self.exchange_rpc(object, call).await {
            Err(error) if rpc_unsupported(&error) => self.exchange_fetch(object, call).await,
            answered => answered,
        }
    }

    async fn exchange_rpc(&self, object: &str, call: &str) -> Result<String, JsValue> {
        let stub: LedgerStub = self.stub(object)?.into_rpc();
        // Adopted into a promise of this realm: an RPC call gives a thenable.
        let pending = js_sys::Promise::resolve(&stub.ledger_call(call)?);
        JsFuture::from(pending)
            .await?
            .as_string()
            .ok_or_else(|| JsValue::from_str("the ledger object's answer is not text"))
    }

    /// The same call through the object's `fetch`: the way versions of this worker from
    /// before the RPC method called it.
    async fn exchange_fetch(&self, object: &str, call: &str) -> Result<String, JsValue> {
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(call)));
        let request = Request::new_with_init("https://start-ledger/", &init)?;
        let mut response = self.stub(object)?.fetch_with_request(request).await?;
        if response.status_code() != 200 {
            return Err(JsValue::from_str(
                "the ledger object answered with an error",
            ));
        }
        Ok(response.text().await?)
    }

    fn stub(&self, object: &str) -> Result<worker::Stub, JsValue> {
        self.0
            .id_from_name(object)
            .and_then(|id| id.get_stub())
            .map_err(JsValue::from)
    }

    /// Records a start's outcome (a `finish` call, which carries its history entry). A
    /// failure is logged, not answered: the start itself is over, and its pending
    /// record (and entry) then read as "outcome unknown".
    pub async fn record(&self, call: &LedgerCall) {
        let recorded = self
            .call(call)
            .await
            .is_ok_and(|answer| ledger::read_finish(&answer));
        if !recorded {
            crate::log::line(&record_not_saved_line());
            let id = history::written_id(&call.call);
            crate::log::line(&history_write_failed_line(
                id.as_deref(),
                "the ledger object could not record the start",
            ));
        }
    }

    /// Writes a history entry (a `record` call) in a call of its own (a cron job's,
    /// inside the scheduled event). A failure is logged and changes nothing else.
    pub async fn write_history(&self, call: &LedgerCall) {
        let written = self
            .call(call)
            .await
            .is_ok_and(|answer| history::read_recorded(&answer));
        if !written {
            let id = history::written_id(&call.call);
            crate::log::line(&history_write_failed_line(
                id.as_deref(),
                "the ledger object could not be reached",
            ));
        }
    }

    /// Writes an unkeyed HTTP start's history entry with the others written in this
    /// isolate within [`bloomreach_import_core::call_batch::HISTORY_GATHER_MS`]
    /// (src/group_commit.rs), from the request's `waitUntil` work after its answer: it
    /// can wait. A failure is logged (by the request that sends the batch) and changes
    /// nothing else. Not for a cron job: its event would go on after another request's
    /// call, in that request's context.
    pub async fn write_history_gathered(&self, call: &LedgerCall) {
        crate::group_commit::write(self, call).await;
    }
}
