//! The HTTP endpoint's shell: reads the request, asks the core, answers.

use crate::env_lookup::EnvLookup;
use crate::ledger::Ledger;
use crate::{body, log, upstream};
use bloomreach_import_core::endpoint::{self, Prepared, Route};
use bloomreach_import_core::idempotency::{self, IdempotencyKey};
use bloomreach_import_core::{ledger, Lookup, Reply, TriggerError, TriggerLog};
use wasm_bindgen::JsValue;
use worker::Env;

/// Answers one request with the core's reply.
pub async fn handle(req: &web_sys::Request, env: &Env) -> Reply {
    let url = req.url();
    let panic_route = endpoint::panic_route_enabled(&EnvLookup(env));
    match endpoint::route(&req.method(), endpoint::path_of(&url), panic_route) {
        Err(reply) => reply,
        Ok(Route::Health) => Reply::health(),
        // A route for tests only, and even then only for a caller with a valid token.
        Ok(Route::Panic) => {
            let lookup = EnvLookup(env);
            if let Err(error) =
                endpoint::authorize(&lookup, header(req, "authorization").as_deref())
            {
                return endpoint::refusal_reply(&error);
            }
            panic!("panic requested through /__panic (PANIC_TEST_ROUTE is enabled)")
        }
        Ok(Route::Start { raw_import_id }) => start(req, &url, env, &raw_import_id).await,
    }
}

fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

async fn start(req: &web_sys::Request, url: &str, env: &Env, raw_import_id: &str) -> Reply {
    let lookup = EnvLookup(env);
    let started = js_sys::Date::now();
    let elapsed = || (js_sys::Date::now() - started).max(0.0) as u64;
    let mut entry = TriggerLog::new(Some(raw_import_id), "http:unauthenticated");

    let cause = match endpoint::authorize(&lookup, header(req, "authorization").as_deref()) {
        Ok(caller) => format!("http:{caller}"),
        Err(error) => return refuse(entry, &error, elapsed()),
    };
    entry.cause = &cause;
    if endpoint::declared_length_too_large(header(req, "content-length").as_deref()) {
        return refuse(
            entry,
            &bloomreach_import_core::request_body::too_large(),
            elapsed(),
        );
    }
    let body = match body::read_limited(req).await {
        Ok(body) => body,
        Err(error) => return refuse(entry, &error, elapsed()),
    };
    let prepared = match endpoint::prepare(raw_import_id, endpoint::query_of(url), &body, &lookup) {
        Ok(prepared) => prepared,
        Err(error) => return refuse(entry, &error, elapsed()),
    };
    entry.import_id = Some(prepared.start.import_id.as_str());
    entry.api = prepared.start.api();
    entry.dry_run = prepared.dry_run;
    if prepared.dry_run {
        entry.duration_ms = elapsed();
        log::line(&entry.to_line());
        return endpoint::dry_run_reply(&prepared);
    }
    let held = match header(req, idempotency::HEADER) {
        None => None,
        Some(key) => match take_key(env, &lookup, &key, &prepared).await {
            Ok(KeyAnswer::Proceed(held)) => Some(held),
            Ok(KeyAnswer::Replay(reply, error)) => {
                entry.replayed = true;
                entry.error = error.as_ref();
                entry.duration_ms = elapsed();
                log::line(&entry.to_line());
                return reply;
            }
            Err(error) => return refuse(entry, &error, elapsed()),
        },
    };
    let result = upstream::start(&prepared.upstream, prepared.limits).await;
    let reply = endpoint::outcome_reply(&prepared.start, &result);
    if let Some((ledger, name, fingerprint)) = held {
        ledger
            .finish(&name, &ledger::finish(&fingerprint, &result, &reply))
            .await;
    }
    entry.record_run(&result, elapsed());
    log::line(&entry.to_line());
    reply
}

/// What the ledger said of a request's `Idempotency-Key`.
enum KeyAnswer {
    /// Start, then finish the record named here.
    Proceed((Ledger, String, String)),
    /// Answer with the first request's reply; the error it carried, for the log.
    Replay(Reply, Option<TriggerError>),
}

/// Validates the key and asks the ledger (one call that reads, decides and writes).
/// `Err`: an invalid key, no binding, a TTL that does not fit, a reused key, a start
/// under way or of unknown outcome, or a ledger that failed.
async fn take_key(
    env: &Env,
    lookup: &EnvLookup<'_>,
    raw_key: &str,
    prepared: &Prepared,
) -> Result<KeyAnswer, TriggerError> {
    let key = IdempotencyKey::parse(raw_key)?;
    let ledger = Ledger::from_env(env).ok_or_else(idempotency::unavailable)?;
    let ttl_ms = idempotency::ttl_ms(
        lookup.get(idempotency::TTL_SETTING).as_deref(),
        prepared.limits.deadline_ms,
    )?;
    let name = key.object_name(&prepared.scope);
    let fingerprint = idempotency::fingerprint(&prepared.start);
    let begin = ledger
        .begin(
            &name,
            &ledger::begin(&fingerprint, prepared.limits.deadline_ms, ttl_ms),
        )
        .await?;
    match idempotency::answer(begin) {
        idempotency::KeyAnswer::Proceed => Ok(KeyAnswer::Proceed((ledger, name, fingerprint))),
        idempotency::KeyAnswer::Replay(reply, error) => Ok(KeyAnswer::Replay(reply, error)),
        idempotency::KeyAnswer::Refuse(error) => Err(error),
    }
}

/// Logs a request refused before any upstream call, and answers it.
fn refuse<'a>(mut entry: TriggerLog<'a>, error: &'a TriggerError, elapsed_ms: u64) -> Reply {
    entry.error = Some(error);
    entry.duration_ms = elapsed_ms;
    log::line(&entry.to_line());
    endpoint::refusal_reply(error)
}

/// The core's reply as a runtime response, with the headers every answer carries.
pub fn to_response(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&reply.body), &init)
}
