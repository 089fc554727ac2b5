//! The HTTP endpoint's decisions (docs/behaviour.md, "The HTTP endpoint"), with no I/O: the shell passes
//! in what it read from the request and the environment, and gets back either an
//! answer or the exact upstream request to send.
//!
//! Order of checks, as docs/behaviour.md says: route, method, token, then the body and
//! the settings it needs.

use crate::account::SETTING_NAMES;
use crate::attempts::StartResult;
use crate::error::TriggerError;
use crate::ids::{ApiKind, ImportId};
use crate::json_text::quoted;
use crate::reply::{Answer, Reply};
use crate::request_body::{parse_body, MAX_BODY_BYTES};
use crate::retry::RetryLimits;
use crate::settings::{Lookup, SettingValue, Settings};
use crate::upstream_request::{StartRequest, UpstreamRequest};

/// A route the worker serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    /// `POST /imports/{import_id}/start`, with the id as it came (validated later,
    /// after the caller is authenticated).
    Start {
        raw_import_id: String,
    },
    /// `POST /__panic`, only when `PANIC_TEST_ROUTE` is `enabled`: panics on purpose,
    /// so tests can show that a panic is logged and does not poison later requests.
    Panic,
    /// `GET /starts`, `GET /starts/{start_id}`, `GET /schedules`.
    History(HistoryRead),
}

/// A read of the start history or the schedules (docs/behaviour.md, "Start history
/// and schedules").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryRead {
    Starts,
    /// One entry, by id as it came.
    Start(String),
    Schedules,
}

/// The setting that turns on [`Route::Panic`]; off unless set to exactly `enabled`.
pub use crate::setting_names::PANIC_TEST_ROUTE;

/// Whether [`PANIC_TEST_ROUTE`] is the text `enabled`.
pub fn panic_route_enabled(lookup: &dyn Lookup) -> bool {
    matches!(lookup.get(PANIC_TEST_ROUTE), Some(SettingValue::Text(t)) if t == "enabled")
}

/// Matches method and path; unknown routes get 404, wrong methods 405.
/// `panic_route` is whether `PANIC_TEST_ROUTE` is `enabled`.
pub fn route(method: &str, path: &str, panic_route: bool) -> Result<Route, Reply> {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "__panic"] if panic_route && method == "POST" => Ok(Route::Panic),
        ["", "healthz"] => match method {
            "GET" | "HEAD" => Ok(Route::Health),
            _ => Err(Reply::method_not_allowed("GET, HEAD")),
        },
        ["", "starts"] => get_only(method, HistoryRead::Starts),
        ["", "starts", id] if !id.is_empty() => {
            get_only(method, HistoryRead::Start((*id).to_owned()))
        }
        ["", "schedules"] => get_only(method, HistoryRead::Schedules),
        ["", "imports", id, "start"] => match method {
            "POST" => Ok(Route::Start {
                raw_import_id: (*id).to_owned(),
            }),
            _ => Err(Reply::method_not_allowed("POST")),
        },
        _ => Err(Reply::not_found()),
    }
}

fn get_only(method: &str, read: HistoryRead) -> Result<Route, Reply> {
    match method {
        "GET" => Ok(Route::History(read)),
        _ => Err(Reply::method_not_allowed("GET")),
    }
}

/// Checks the caller's bearer token against `TRIGGER_TOKENS`. On success, the caller
/// for logs and the history: the entry's name, or `token#N` (the token's position),
/// never the token.
pub fn authorize(lookup: &dyn Lookup, authorization: Option<&str>) -> Result<String, TriggerError> {
    let tokens = Settings::caller_tokens(lookup)?;
    tokens.check(authorization).map(str::to_owned)
}

/// The path of a serialized request URL (`https://host/a/b?q` gives `/a/b`).
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let Some(start) = rest.find('/') else {
        return "/";
    };
    let path = &rest[start..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// The query of a serialized request URL, without `?` and fragment; `None` when empty.
pub fn query_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once('?')?;
    let query = rest.split('#').next().unwrap_or("");
    (!query.is_empty()).then_some(query)
}

/// A declared `Content-Length`, when it is a number.
pub fn declared_length(content_length: Option<&str>) -> Option<u64> {
    content_length.and_then(|v| v.trim().parse::<u64>().ok())
}

/// Whether a declared `Content-Length` already exceeds the body limit.
pub fn declared_length_too_large(content_length: Option<&str>) -> bool {
    declared_length(content_length).is_some_and(|n| n > MAX_BODY_BYTES as u64)
}

/// The longest an HTTP start may take, whatever `UPSTREAM_DEADLINE_MS` says. The start
/// runs under `ctx.waitUntil`, so it survives the caller disconnecting, and Cloudflare
/// keeps such work at most 30 s after the caller leaves
/// (<https://developers.cloudflare.com/workers/runtime-apis/context/#waituntil>);
/// 25 s leaves room to record the outcome and write the log line. Cron events keep the
/// configured deadline: the platform waits for their promise.
pub const HTTP_DEADLINE_CAP_MS: u64 = 25_000;

/// A start ready to send (or to show, for a dry run).
#[derive(Clone, Debug)]
pub struct Prepared {
    pub start: StartRequest,
    /// The Bloomreach target, which scopes `Idempotency-Key` records.
    pub scope: String,
    pub upstream: UpstreamRequest,
    pub limits: RetryLimits,
    pub dry_run: bool,
}

fn parse_dry_run(query: Option<&str>) -> Result<bool, TriggerError> {
    let mut dry_run = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "dry_run" => {
                dry_run = match value {
                    "1" | "true" | "" => true,
                    "0" | "false" => false,
                    _ => return Err(TriggerError::invalid("dry_run", "must be 1 or 0")),
                }
            }
            _ => {
                let shown: String = key.chars().take(40).collect();
                return Err(TriggerError::invalid(
                    "query",
                    &format!("unknown parameter {}", quoted(&shown)),
                ));
            }
        }
    }
    Ok(dry_run)
}

/// Validates the caller's input, then loads the settings the start needs, and builds
/// the upstream request. `query` is the URL's query without `?`.
pub fn prepare(
    raw_import_id: &str,
    query: Option<&str>,
    body: &[u8],
    lookup: &dyn Lookup,
) -> Result<Prepared, TriggerError> {
    let dry_run = parse_dry_run(query)?;
    let fields = parse_body(body)?;
    let import_id = ImportId::parse(raw_import_id)?;
    let settings = Settings::load(lookup)?;
    if let (Some(prefixes), Some(path)) = (&settings.prefixes, &fields.path) {
        prefixes.check("path", path.as_str())?;
    }
    let target = settings.account.target(fields.api, SETTING_NAMES)?;
    let start = StartRequest {
        target,
        import_id,
        path: fields.path,
        test_connection: fields.test_connection,
    };
    let upstream = start.build(
        &settings.account.base_for(start.api()),
        &settings.credentials,
    );
    let mut limits = settings.limits;
    limits.deadline_ms = limits.deadline_ms.min(HTTP_DEADLINE_CAP_MS);
    Ok(Prepared {
        start,
        scope: settings.account.ledger_scope(),
        upstream,
        limits,
        dry_run,
    })
}

/// The answer to a dry run: the request that would be sent, authorization redacted.
pub fn dry_run_reply(prepared: &Prepared) -> Reply {
    Reply::json(
        200,
        &Answer {
            ok: true,
            import_id: Some(prepared.start.import_id.as_str()),
            api: Some(prepared.start.api()),
            dry_run: Some(true),
            request: Some(prepared.upstream.redacted()),
            ..Answer::default()
        },
    )
}

/// The answer once the start is over.
pub fn outcome_reply(start: &StartRequest, result: &StartResult) -> Reply {
    start_reply(start.import_id.as_str(), start.api(), result)
}

/// The answer once a start of `import_id` through `api` is over; also what a cron
/// job's ledger record keeps.
pub fn start_reply(import_id: &str, api: ApiKind, result: &StartResult) -> Reply {
    let answer = Answer {
        import_id: Some(import_id),
        api: Some(api),
        attempts: Some(result.attempts),
        duration_ms: Some(result.attempts_ms),
        ..Answer::default()
    };
    match &result.outcome {
        Ok(accepted) => Reply::json(
            200,
            &Answer {
                ok: true,
                upstream_status: Some(accepted.status),
                ..answer
            },
        ),
        Err(error) => Reply::error(error, answer),
    }
}

/// The answer to a request refused before any upstream call.
pub fn refusal_reply(error: &TriggerError) -> Reply {
    Reply::error(error, Answer::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::setting_names::*;
    use crate::test_support::{deployment as env, TOKEN};
    use serde_json::{json, Value};

    #[test]
    fn routes_and_methods() {
        assert_eq!(route("GET", "/healthz", false), Ok(Route::Health));
        assert_eq!(route("POST", "/__panic", true), Ok(Route::Panic));
        assert_eq!(route("POST", "/__panic", false).unwrap_err().status, 404);
        assert!(panic_route_enabled(&env(&[(PANIC_TEST_ROUTE, "enabled")])));
        assert!(!panic_route_enabled(&env(&[(PANIC_TEST_ROUTE, "yes")])));
        assert!(!panic_route_enabled(&env(&[])));
        assert_eq!(
            route("POST", "/imports/abc/start", false),
            Ok(Route::Start {
                raw_import_id: "abc".into()
            })
        );
        let r = route("GET", "/imports/abc/start", false).unwrap_err();
        assert_eq!(r.status, 405);
        assert!(r.headers.contains(&("allow", "POST".into())));
        assert!(r.body.contains("method_not_allowed"));
        assert_eq!(route("POST", "/healthz", false).unwrap_err().status, 405);
        assert_eq!(
            route("GET", "/starts", false),
            Ok(Route::History(HistoryRead::Starts))
        );
        assert_eq!(
            route("GET", "/starts/abc", false),
            Ok(Route::History(HistoryRead::Start("abc".into())))
        );
        assert_eq!(
            route("GET", "/schedules", false),
            Ok(Route::History(HistoryRead::Schedules))
        );
        for (method, path) in [
            ("POST", "/starts"),
            ("HEAD", "/starts"),
            ("DELETE", "/starts/abc"),
            ("PUT", "/schedules"),
        ] {
            let r = route(method, path, false).unwrap_err();
            assert_eq!(r.status, 405, "{method} {path}");
            assert!(r.headers.contains(&("allow", "GET".into())));
        }
        for path in [
            "/",
            "/imports",
            "/imports/abc",
            "/imports/abc/start/",
            "/imports/a/b/start",
            "/healthz/",
            "/starts/",
            "/starts/a/b",
            "/schedules/x",
        ] {
            let r = route("POST", path, true).unwrap_err();
            assert_eq!(r.status, 404, "{path}");
            assert!(r.body.contains(r#""code":"not_found""#));
        }
    }

    #[test]
    fn the_token_is_checked_before_anything_else_of_the_request() {
        let e = authorize(&env(&[]), Some("Bearer nope-nope-nope-nope")).unwrap_err();
        let reply = refusal_reply(&e);
        assert_eq!(reply.status, 401);
        assert!(reply
            .headers
            .contains(&("www-authenticate", "Bearer".into())));
        assert_eq!(
            authorize(&env(&[]), Some(&format!("Bearer {TOKEN}"))).unwrap(),
            "token#1"
        );
        let e = authorize(
            &env(&[(TRIGGER_TOKENS, "")]),
            Some(&format!("Bearer {TOKEN}")),
        )
        .unwrap_err();
        assert_eq!(refusal_reply(&e).status, 500);
    }

    #[test]
    fn prepare_builds_the_upstream_request() {
        let p = prepare(
            "imp-1",
            None,
            br#"{"path":"/x.csv","test_connection":false}"#,
            &env(&[]),
        )
        .unwrap();
        assert!(!p.dry_run);
        assert_eq!(
            p.upstream.url,
            "https://api.exponea.com/data/v1/projects/proj-1/imports/imp-1/start"
        );
        assert_eq!(
            p.upstream.body.as_deref(),
            Some(r#"{"path":"/x.csv","test_connection":false}"#)
        );
    }

    #[test]
    fn input_errors_come_before_settings_errors() {
        let broken = env(&[(PROJECT_TOKEN, "")]);
        assert_eq!(
            prepare("bad id", None, b"", &broken).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            prepare("ok", None, b"{\"x\":1}", &broken).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let e = prepare("ok", None, b"", &broken).unwrap_err();
        assert_eq!(e.code, ErrorCode::Misconfigured);
        assert_eq!(
            e.message,
            "BLOOMREACH_PROJECT_TOKEN is not set (or BLOOMREACH_WORKSPACE_ID, for a Data hub workspace)"
        );
    }

    #[test]
    fn paths_outside_allowed_prefixes_are_forbidden() {
        let lookup = env(&[(ALLOWED_PATH_PREFIXES, "https://files.example.com/exports/")]);
        let e = prepare(
            "i",
            None,
            br#"{"path":"https://files.example.com.evil.test/exports/a"}"#,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(refusal_reply(&e).status, 403);
        assert!(prepare(
            "i",
            None,
            br#"{"path":"https://files.example.com/exports/a"}"#,
            &lookup
        )
        .is_ok());
    }

    #[test]
    fn a_deployment_with_only_a_workspace_starts_data_hub_imports() {
        let workspace_only = env(&[(PROJECT_TOKEN, ""), (WORKSPACE_ID, "ws-1")]);
        let p = prepare("imp", None, br#"{"path":"s3://b/x.csv"}"#, &workspace_only).unwrap();
        assert_eq!(p.start.api(), ApiKind::DataHub);
        assert_eq!(
            p.upstream.url,
            "https://api.bloomreach.com/data/v2/workspaces/ws-1/imports/imp/start"
        );
        let e = prepare("imp", None, br#"{"api":"data-v1"}"#, &workspace_only).unwrap_err();
        assert_eq!(
            (e.code, e.code.http_status()),
            (ErrorCode::Misconfigured, 500)
        );
        assert!(
            e.message.starts_with("BLOOMREACH_PROJECT_TOKEN:"),
            "{}",
            e.message
        );
        let e = prepare("imp", None, br#"{"api":"data-hub"}"#, &env(&[])).unwrap_err();
        assert!(
            e.message.starts_with("BLOOMREACH_WORKSPACE_ID:"),
            "{}",
            e.message
        );
        let dry = prepare("imp", Some("dry_run=1"), b"", &workspace_only).unwrap();
        let v: Value = serde_json::from_str(&dry_run_reply(&dry).body).unwrap();
        assert_eq!(v["api"], "data-hub");
    }

    #[test]
    fn an_http_start_takes_at_most_25_seconds() {
        let p = prepare("i", None, b"", &env(&[(DEADLINE_MS, "600000")])).unwrap();
        assert_eq!(p.limits.deadline_ms, HTTP_DEADLINE_CAP_MS);
        let p = prepare("i", None, b"", &env(&[(DEADLINE_MS, "4000")])).unwrap();
        assert_eq!(p.limits.deadline_ms, 4_000);
    }

    #[test]
    fn dry_run_shows_the_request_without_credentials() {
        let p = prepare("imp-1", Some("dry_run=1"), b"", &env(&[])).unwrap();
        assert!(p.dry_run);
        let reply = dry_run_reply(&p);
        assert_eq!(reply.status, 200);
        let v: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            v,
            json!({
                "ok": true, "dry_run": true, "import_id": "imp-1", "api": "data-v1",
                "request": {
                    "method": "POST",
                    "url": "https://api.exponea.com/data/v1/projects/proj-1/imports/imp-1/start",
                    "headers": {"authorization": "Basic ***"},
                    "body": null
                }
            })
        );
        assert_eq!(v["request"]["headers"]["authorization"], "Basic ***");
        assert_eq!(v["request"]["body"], Value::Null);
        assert!(!reply.body.contains("dGhl")); // base64 of "the"
        assert_eq!(
            prepare("i", Some("dry_run=2"), b"", &env(&[]))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            prepare("i", Some("x=1"), b"", &env(&[])).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert!(
            !prepare("i", Some("dry_run=0"), b"", &env(&[]))
                .unwrap()
                .dry_run
        );
    }

    #[test]
    fn outcome_replies_follow_the_contract() {
        let p = prepare("imp-1", None, b"", &env(&[])).unwrap();
        let ok = StartResult {
            outcome: Ok(crate::Accepted { status: 200 }),
            attempts: 2,
            attempts_ms: 5,
            evidence: crate::Evidence::Started,
        };
        let reply = outcome_reply(&p.start, &ok);
        let v: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(
            v,
            json!({"ok": true, "import_id": "imp-1", "api": "data-v1", "upstream_status": 200, "attempts": 2, "duration_ms": 5})
        );
        let mut limited = TriggerError::new(
            ErrorCode::UpstreamRateLimited,
            "Bloomreach answered 429: slow down",
        );
        limited.retry_after_secs = Some(7);
        limited.upstream_status = Some(429);
        let reply = outcome_reply(
            &p.start,
            &StartResult {
                outcome: Err(limited),
                attempts: 4,
                attempts_ms: 9,
                evidence: crate::Evidence::Retryable,
            },
        );
        assert_eq!(reply.status, 503);
        assert!(reply.headers.contains(&("retry-after", "7".into())));
        let v: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            v,
            json!({
                "ok": false,
                "error": {"code": "upstream_rate_limited", "message": "Bloomreach answered 429: slow down"},
                "import_id": "imp-1", "api": "data-v1", "upstream_status": 429, "attempts": 4, "duration_ms": 9
            })
        );
    }

    #[test]
    fn the_path_is_read_from_the_url() {
        assert_eq!(
            path_of("https://w.example/imports/a/start?dry_run=1"),
            "/imports/a/start"
        );
        assert_eq!(path_of("http://127.0.0.1:8787/healthz#x"), "/healthz");
        assert_eq!(path_of("https://w.example"), "/");
        assert_eq!(path_of("https://w.example/"), "/");
    }

    #[test]
    fn the_query_is_read_from_the_url() {
        assert_eq!(
            query_of("https://w.example/imports/a/start?dry_run=1"),
            Some("dry_run=1")
        );
        assert_eq!(
            query_of("https://w.example/imports/a/start?dry_run=1#x"),
            Some("dry_run=1")
        );
        assert_eq!(query_of("https://w.example/imports/a/start?"), None);
        assert_eq!(query_of("https://w.example/imports/a/start"), None);
    }

    #[test]
    fn declared_lengths_over_the_limit_are_caught_early() {
        assert!(declared_length_too_large(Some("16385")));
        assert!(!declared_length_too_large(Some("16384")));
        assert!(!declared_length_too_large(Some("x")));
        assert!(!declared_length_too_large(None));
    }
}
