//! The start ledger's shell: the `StartLedger` Durable Object, and the calls the worker
//! makes to it. The core (`bloomreach_import_core::ledger`) decides every state and
//! when the clean-up alarm rings; this file only runs SQL and moves the core's calls
//! and records (docs/architecture.md).
//!
//! Built on workers-rs: `#[durable_object]` with its `State`, `Storage::sql()` and the
//! alarm methods, and `Env::durable_object` for the stub. src/entry.mjs wraps the class
//! so that a panic elsewhere in the instance does not leave it stale.

use bloomreach_import_core::http_flow::LedgerCall;
use bloomreach_import_core::ledger::{self, Write};
use bloomreach_import_core::{cleanup, TriggerError};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response,
    ScheduledTime, SqlStorage, State, Storage,
};

/// One row per record: a key's, or a cron job's of one event. Every record of a
/// deployment's Bloomreach target lives in one object (`ledger::object_name`). The
/// index on `expires_at` serves the clean-up (`DELETE ... WHERE expires_at <= ?`) and
/// the earliest expiry read after each write, which would otherwise scan the table.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS records (name TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires_at)";

#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
struct Earliest {
    at: Option<f64>,
}

/// The Durable Object class, bound as `START_LEDGER` in wrangler.toml.
#[durable_object(alarm)]
pub struct StartLedger {
    storage: Storage,
    sql: SqlStorage,
}

/// The earliest expiry of the object's records, if it has any.
fn earliest_expiry(sql: &SqlStorage) -> worker::Result<Option<u64>> {
    let rows: Vec<Earliest> = sql
        .exec("SELECT MIN(expires_at) AS at FROM records", None)?
        .to_array()?;
    Ok(rows.first().and_then(|row| row.at).map(|at| at as u64))
}

/// Reads the call's record, runs the core's decision and writes its result, with no
/// `await` in between: the object runs one call at a time, and SQL runs at once
/// (synchronously), so this is the one place that decides for its records.
fn decide(sql: &SqlStorage, call: &str) -> worker::Result<String> {
    let name = ledger::record_of(call).unwrap_or_default();
    let rows: Vec<Body> = sql
        .exec(
            "SELECT body FROM records WHERE name = ?",
            vec![name.as_str().into()],
        )?
        .to_array()?;
    let stored = rows.into_iter().next().map(|row| row.body);
    let applied = ledger::apply(stored.as_deref(), call, crate::clock::now_ms());
    match applied.write {
        Write::Nothing => {}
        Write::Put {
            record,
            expires_at_ms,
        } => {
            sql.exec(
                "INSERT OR REPLACE INTO records (name, body, expires_at) VALUES (?, ?, ?)",
                vec![
                    name.into(),
                    record.into(),
                    // Within 2^53: a unix time in milliseconds.
                    (expires_at_ms as f64).into(),
                ],
            )?;
        }
        Write::Delete => {
            sql.exec("DELETE FROM records WHERE name = ?", vec![name.into()])?;
        }
    }
    Ok(applied.answer)
}

/// Sets the clean-up alarm where the core says: at the earliest expiry, unless one is
/// already set at or before it. Run after every write, so a clean-up whose alarm
/// failed for good (Cloudflare retries a throwing `alarm()` six times, then gives up:
/// <https://developers.cloudflare.com/durable-objects/api/alarms/>) resumes with the
/// next write.
async fn schedule_cleanup(storage: &Storage, sql: &SqlStorage) -> worker::Result<()> {
    let current = storage.get_alarm().await?.map(|at| at.max(0) as u64);
    if let Some(at) = cleanup::alarm_to_set(current, earliest_expiry(sql)?) {
        let date = js_sys::Date::new(&JsValue::from_f64(at as f64));
        storage.set_alarm(ScheduledTime::new(date)).await?;
    }
    Ok(())
}

impl DurableObject for StartLedger {
    fn new(state: State, _env: Env) -> StartLedger {
        let storage = state.storage();
        let sql = storage.sql();
        StartLedger { storage, sql }
    }

    /// One ledger call: the request's body is the core's call, the answer its answer.
    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let call = req.text().await?;
        self.sql.exec(SCHEMA, None)?;
        let answer = decide(&self.sql, &call)?;
        schedule_cleanup(&self.storage, &self.sql).await?;
        Response::ok(answer)
    }

    /// Deletes the records that have expired, so storage does not grow with every key
    /// ever used, and sets the next clean-up at the earliest expiry left. Safe to run
    /// twice or late: alarms are delivered at least once.
    async fn alarm(&self) -> worker::Result<Response> {
        self.sql.exec(SCHEMA, None)?;
        self.sql.exec(
            "DELETE FROM records WHERE expires_at <= ?",
            vec![(crate::clock::now_ms() as f64).into()],
        )?;
        schedule_cleanup(&self.storage, &self.sql).await?;
        Response::empty()
    }
}

/// The worker's side: the binding, when the deployment has one.
pub struct Ledger(ObjectNamespace);

impl Ledger {
    /// The `START_LEDGER` binding, or `None` when the deployment has none.
    pub fn from_env(env: &Env) -> Option<Ledger> {
        env.durable_object(ledger::BINDING).ok().map(Ledger)
    }

    /// Sends one call to its object; the answer's text, or `ledger_unavailable`.
    pub async fn call(&self, call: &LedgerCall) -> Result<String, TriggerError> {
        self.exchange(call)
            .await
            .map_err(|_| ledger::unavailable())?
            .ok_or_else(ledger::unavailable)
    }

    /// The call's answer, `None` when the object answered with an error status.
    async fn exchange(&self, call: &LedgerCall) -> worker::Result<Option<String>> {
        let stub = self.0.id_from_name(&call.object)?.get_stub()?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&call.call)));
        let request = Request::new_with_init("https://start-ledger/", &init)?;
        let mut response = stub.fetch_with_request(request).await?;
        if response.status_code() != 200 {
            return Ok(None);
        }
        response.text().await.map(Some)
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
