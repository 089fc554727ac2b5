//! Tests of the shell code that only runs in wasm (`wasm-bindgen-test`, under Node):
//! reading the environment, reading bodies, building responses, and running cron jobs
//! at most N at a time. Run by scripts/test.

use crate::concurrency::map_bounded;
use crate::env_lookup::EnvLookup;
use bloomreach_import_core::{ErrorCode, Lookup, Reply};
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
fn env_lookup_reads_strings_and_structured_vars_as_json() {
    let table = js_sys::JSON::parse(r#"{"0 3 * * *":[{"import_id":"a"}]}"#).unwrap();
    let env = env_of(&[
        ("NAME", "value".into()),
        ("SCHEDULES", table),
        ("NUMBER", 5.into()),
    ]);
    let lookup = EnvLookup::new(&env);
    assert_eq!(lookup.get("NAME").as_deref(), Some("value"));
    assert_eq!(
        lookup.get("SCHEDULES").as_deref(),
        Some(r#"{"0 3 * * *":[{"import_id":"a"}]}"#)
    );
    assert_eq!(lookup.get("MISSING"), None);
    assert_eq!(lookup.get("NUMBER"), None);
}

#[wasm_bindgen_test]
fn env_lookup_reads_each_env_object_once_and_another_afresh() {
    let first = env_of(&[("NAME", "first".into())]);
    let second = env_of(&[("NAME", "second".into())]);
    assert_eq!(EnvLookup::new(&first).get("NAME").as_deref(), Some("first"));
    // The copy serves later requests handed the same object: workerd never changes an
    // `env` in place, so a change made on it afterwards is not read again.
    js_sys::Reflect::set(first.as_ref(), &"NAME".into(), &"changed".into()).unwrap();
    assert_eq!(EnvLookup::new(&first).get("NAME").as_deref(), Some("first"));
    // A binding change hands in a new object, which is read afresh; and so is the
    // first one again after it.
    assert_eq!(
        EnvLookup::new(&second).get("NAME").as_deref(),
        Some("second")
    );
    assert_eq!(
        EnvLookup::new(&first).get("NAME").as_deref(),
        Some("changed")
    );
}

#[wasm_bindgen_test]
fn env_lookup_reads_one_by_one_when_env_cannot_be_stringified() {
    let throws = js_sys::Function::new_no_args("throw new Error('no JSON here')");
    let binding = js_sys::Object::new();
    js_sys::Reflect::set(&binding, &"toJSON".into(), &throws).unwrap();
    let env = env_of(&[("NAME", "value".into()), ("SERVICE", binding.into())]);
    assert!(js_sys::JSON::stringify(env.as_ref()).is_err());
    let lookup = EnvLookup::new(&env);
    assert_eq!(lookup.get("NAME").as_deref(), Some("value"));
    assert_eq!(lookup.get("MISSING"), None);
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
    let mut reply = Reply::json(
        503,
        &bloomreach_import_core::json_object([(
            "ok",
            bloomreach_import_core::json::Value::from(false),
        )]),
    );
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
