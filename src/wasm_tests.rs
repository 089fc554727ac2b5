//! Tests of the shell code that only runs in wasm (`wasm-bindgen-test`, under Node):
//! reading the environment, reading bodies, building responses, and running cron jobs
//! at most N at a time. Run by scripts/test.

use crate::concurrency::map_bounded;
use crate::env_lookup::EnvLookup;
use bloomreach_import_core::{ErrorCode, Lookup, Reply, SettingValue};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use worker::Env;

/// A timer for these tests. Not `worker::Delay`: it expects the Workers runtime's
/// numeric timer ids, and Node's `setTimeout` returns an object.
async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout: js_sys::Function =
            js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
                .unwrap()
                .unchecked_into();
        set_timeout
            .call2(&JsValue::UNDEFINED, &resolve, &ms.into())
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

fn env_of(pairs: &[(&str, JsValue)]) -> Env {
    let object = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&object, &JsValue::from_str(k), v).unwrap();
    }
    object.unchecked_into()
}

#[wasm_bindgen_test]
fn env_lookup_keeps_each_value_with_its_type() {
    let table = js_sys::JSON::parse(r#"{"0 3 * * *":[{"import_id":"a"}]}"#).unwrap();
    let env = env_of(&[
        ("NAME", "value".into()),
        ("SCHEDULES", table),
        ("NUMBER", 5000.into()),
        ("FLAG", false.into()),
        ("NOTHING", JsValue::NULL),
    ]);
    let lookup = EnvLookup::new(&env);
    assert_eq!(lookup.get("NAME"), Some(SettingValue::Text("value".into())));
    assert_eq!(
        lookup.get("SCHEDULES"),
        Some(SettingValue::Structured(
            r#"{"0 3 * * *":[{"import_id":"a"}]}"#.into()
        ))
    );
    assert_eq!(lookup.get("NUMBER"), Some(SettingValue::Number(5000.0)));
    assert_eq!(lookup.get("FLAG"), Some(SettingValue::Bool(false)));
    assert_eq!(lookup.get("NOTHING"), None);
    assert_eq!(lookup.get("MISSING"), None);
}

#[wasm_bindgen_test]
fn env_lookup_reads_each_env_object_once_and_another_afresh() {
    let text = |value: &str| Some(SettingValue::Text(value.into()));
    let first = env_of(&[("NAME", "first".into())]);
    let second = env_of(&[("NAME", "second".into())]);
    assert_eq!(EnvLookup::new(&first).get("NAME"), text("first"));
    // What was read serves later requests handed the same object: workerd never
    // changes an `env` in place, so a change made on it afterwards is not read again.
    js_sys::Reflect::set(first.as_ref(), &"NAME".into(), &"changed".into()).unwrap();
    assert_eq!(EnvLookup::new(&first).get("NAME"), text("first"));
    // A binding change hands in a new object, which is read afresh; and so is the
    // first one again after it.
    assert_eq!(EnvLookup::new(&second).get("NAME"), text("second"));
    assert_eq!(EnvLookup::new(&first).get("NAME"), text("changed"));
}

/// A stream of `chunks` chunks of 1000 bytes each, counting the chunks pulled from it
/// and whether it was cancelled, in `stats`.
fn counted_stream(chunks: u32, stats: &js_sys::Object) -> web_sys::ReadableStream {
    let make = js_sys::Function::new_with_args(
        "chunks, stats",
        "stats.pulled = 0; stats.cancelled = false;
         return new ReadableStream({
           pull(c) { if (stats.pulled === chunks) { c.close(); return; }
                     stats.pulled++; c.enqueue(new Uint8Array(1000).fill(7)); },
           cancel() { stats.cancelled = true; },
         }, { highWaterMark: 0 });",
    );
    make.call2(&JsValue::UNDEFINED, &chunks.into(), stats)
        .unwrap()
        .unchecked_into()
}

fn stat(stats: &js_sys::Object, name: &str) -> JsValue {
    js_sys::Reflect::get(stats, &name.into()).unwrap()
}

#[wasm_bindgen_test]
async fn a_stream_is_read_up_to_its_limit_and_cancelled_past_it() {
    let stats = js_sys::Object::new();
    let read = crate::body::read_capped(counted_stream(100, &stats), 2500)
        .await
        .unwrap();
    assert_eq!((read.bytes.len(), read.over), (2500, true));
    assert!(read.bytes.iter().all(|b| *b == 7));
    // Three chunks hold the 2,500 bytes: nothing after them was pulled.
    assert_eq!(stat(&stats, "pulled").as_f64(), Some(3.0));
    assert_eq!(stat(&stats, "cancelled").as_bool(), Some(true));

    let stats = js_sys::Object::new();
    let read = crate::body::read_capped(counted_stream(3, &stats), 3000)
        .await
        .unwrap();
    assert_eq!((read.bytes.len(), read.over), (3000, false));
    assert_eq!(stat(&stats, "cancelled").as_bool(), Some(false));
}

fn request_with_body(body: &str) -> web_sys::Request {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    web_sys::Request::new_with_str_and_init("http://w.test/imports/a/start", &init).unwrap()
}

#[wasm_bindgen_test]
async fn bodies_are_read_whole_up_to_the_limit() {
    // In chunks, and in one read (a declared length within the limit).
    for whole in [false, true] {
        let body = crate::body::read_limited(&request_with_body(r#"{"path":"/x"}"#), whole)
            .await
            .unwrap();
        assert_eq!(body, br#"{"path":"/x"}"#);
        let none = web_sys::Request::new_with_str("http://w.test/healthz").unwrap();
        assert!(crate::body::read_limited(&none, whole)
            .await
            .unwrap()
            .is_empty());
        let big = "x".repeat(16 * 1024 + 1);
        let error = crate::body::read_limited(&request_with_body(&big), whole)
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::PayloadTooLarge);
    }
}

#[wasm_bindgen_test]
async fn replies_become_json_responses_with_their_headers() {
    let mut reply = Reply::json(503, &serde_json::json!({ "ok": false }));
    reply.headers.push(("retry-after", "7".into()));
    let response = crate::http::to_response(&reply).unwrap();
    assert_eq!(response.status(), 503);
    let headers = response.headers();
    assert_eq!(
        headers.get("content-type").unwrap().as_deref(),
        Some("application/json")
    );
    assert_eq!(
        headers.get("cache-control").unwrap().as_deref(),
        Some("no-store")
    );
    assert_eq!(headers.get("retry-after").unwrap().as_deref(), Some("7"));
    let text = JsFuture::from(response.text().unwrap()).await.unwrap();
    assert_eq!(text.as_string().as_deref(), Some(r#"{"ok":false}"#));
}

#[wasm_bindgen_test]
async fn map_bounded_keeps_order_and_the_limit() {
    let running = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));
    let out = map_bounded((0..9u64).collect(), 3, |i| {
        let running = running.clone();
        let most = most.clone();
        async move {
            running.set(running.get() + 1);
            most.set(most.get().max(running.get()));
            sleep(5 + (9 - i) as u32).await;
            running.set(running.get() - 1);
            i * 10
        }
    })
    .await;
    assert_eq!(out, (0..9u64).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(most.get(), 3);
    assert!(map_bounded(Vec::<u8>::new(), 6, |x| async move { x })
        .await
        .is_empty());
}

#[wasm_bindgen_test]
fn random_bits_fill_64_bits_and_differ() {
    let draws: Vec<u64> = (0..64).map(|_| crate::clock::random_u64()).collect();
    let mut unique = draws.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), draws.len());
    assert!(
        draws.iter().any(|d| *d > u64::from(u32::MAX)),
        "the high half is used"
    );
}
