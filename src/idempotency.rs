//! The shell of `Idempotency-Key`: the KV namespace that keeps records, and an
//! in-memory lock per key. The core (`bloomreach_import_core::idempotency`) decides
//! what a record means; this file only reads and writes it.
//!
//! KV is eventually consistent: a record written in one location can take up to a
//! minute to be seen in another. The lock makes concurrent requests with one key that
//! reach the same worker instance exact (only one goes to Bloomreach); the pending
//! record covers instances that see it. Two requests racing through different
//! locations within that minute can both start (see the README).

use crate::env_lookup::EnvLookup;
use bloomreach_import_core::idempotency::{self as core, Decision, IdempotencyKey};
use bloomreach_import_core::{Lookup, Reply, RunResult, StartRequest, TriggerError};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

#[wasm_bindgen]
extern "C" {
    /// A Workers KV namespace binding, with the three calls used here.
    type KvNamespace;
    #[wasm_bindgen(method, js_name = get)]
    fn get_text(this: &KvNamespace, key: &str) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn put(this: &KvNamespace, key: &str, value: &str, options: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn delete(this: &KvNamespace, key: &str) -> js_sys::Promise;
}

thread_local! {
    /// Keys whose start is under way in this instance. A `Vec`, not a `HashSet`: it
    /// holds a handful of keys at most, and hashing costs several KB of wasm.
    static IN_FLIGHT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Holds a key for the duration of one start; dropping it releases the lock.
pub struct Held {
    kv: KvNamespace,
    record_key: String,
    fingerprint: String,
    ttl_secs: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        IN_FLIGHT.with(|keys| keys.borrow_mut().retain(|k| *k != self.record_key));
    }
}

/// What [`begin`] found.
pub enum Begin {
    /// Answer with the first request's reply and start nothing; the error it carried.
    Replay(Reply, Option<TriggerError>),
    /// Start; then call [`Held::finish`].
    Proceed(Held),
}

fn kv_failure(_: JsValue) -> TriggerError {
    TriggerError::misconfigured(format!(
        "{}: could not be read or written",
        core::KV_BINDING
    ))
}

fn put_options(ttl_secs: u64) -> JsValue {
    let options = js_sys::Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(&options, &"expirationTtl".into(), &(ttl_secs as f64).into());
    options.into()
}

/// Takes the key for `start`: validates it, looks up its record, and either replays
/// it, refuses (`Err`: invalid key, no binding, reused key, start under way), or marks
/// the key as under way.
pub async fn begin(env: &Env, raw_key: &str, start: &StartRequest) -> Result<Begin, TriggerError> {
    let key = IdempotencyKey::parse(raw_key)?;
    let binding =
        js_sys::Reflect::get(env.as_ref(), &core::KV_BINDING.into()).map_err(kv_failure)?;
    if binding.is_undefined() || binding.is_null() {
        return Err(core::unavailable());
    }
    let kv: KvNamespace = binding.unchecked_into();
    let ttl_secs = core::ttl_secs(EnvLookup(env).get(core::TTL_SETTING).as_deref())?;
    let record_key = key.record_key();
    let fingerprint = core::fingerprint(start);
    let locked = IN_FLIGHT.with(|keys| {
        let mut keys = keys.borrow_mut();
        let free = !keys.contains(&record_key);
        if free {
            keys.push(record_key.clone());
        }
        free
    });
    if !locked {
        return Err(core::in_progress());
    }
    let held = Held {
        kv,
        record_key,
        fingerprint,
        ttl_secs,
    };
    let stored = JsFuture::from(held.kv.get_text(&held.record_key))
        .await
        .map_err(kv_failure)?
        .as_string();
    match core::decide(stored.as_deref(), &held.fingerprint) {
        Decision::Replay(reply, error) => Ok(Begin::Replay(reply, error)),
        Decision::Refuse(error) => Err(error),
        Decision::Proceed => {
            let pending = core::pending_record(&held.fingerprint);
            JsFuture::from(
                held.kv
                    .put(&held.record_key, &pending, &put_options(held.ttl_secs)),
            )
            .await
            .map_err(kv_failure)?;
            Ok(Begin::Proceed(held))
        }
    }
}

impl Held {
    /// Stores the outcome (or frees the key when nothing started), then releases it.
    /// A failed write is logged, not answered: the start itself is over.
    pub async fn finish(self, result: &RunResult, reply: &Reply) {
        let written = match core::done_record(&self.fingerprint, result, reply) {
            Some(record) => {
                JsFuture::from(
                    self.kv
                        .put(&self.record_key, &record, &put_options(self.ttl_secs)),
                )
                .await
            }
            None => JsFuture::from(self.kv.delete(&self.record_key)).await,
        };
        if written.is_err() {
            crate::log::line(r#"{"event":"idempotency_record_not_saved"}"#);
        }
    }
}
