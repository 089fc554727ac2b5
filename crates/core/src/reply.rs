//! The JSON answers of the HTTP endpoint, built once here so every shell answers alike.

use crate::error::{ErrorCode, TriggerError, UpstreamJson};
use crate::ids::ApiKind;
use crate::json_text::to_text;
use crate::upstream_request::RequestView;
use serde::Serialize;

/// An HTTP answer: status, extra headers, JSON body. Every answer carries
/// `content-type: application/json` and `cache-control: no-store` besides these.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Every answer's body: `ok`, then what the answer has of the rest
/// (docs/behaviour.md, "The HTTP endpoint").
#[derive(Serialize, Default)]
pub(crate) struct Answer<'a> {
    pub(crate) ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ErrorDetail<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) import_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) api: Option<ApiKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upstream_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request: Option<RequestView<'a>>,
}

/// `error` of a failure: its code, its message and Bloomreach's own JSON, if any.
#[derive(Serialize)]
pub(crate) struct ErrorDetail<'a> {
    code: ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<&'a UpstreamJson>,
}

impl<'a> ErrorDetail<'a> {
    pub(crate) fn of(error: &'a TriggerError) -> ErrorDetail<'a> {
        ErrorDetail {
            code: error.code,
            message: &error.message,
            upstream: error.upstream.as_ref(),
        }
    }
}

impl Reply {
    /// An answer of `status` with `body` as its JSON.
    pub fn json(status: u16, body: &impl Serialize) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: to_text(body),
        }
    }

    /// `200 {"ok": true}`, revealing no setting.
    pub fn health() -> Reply {
        Reply::json(
            200,
            &Answer {
                ok: true,
                ..Answer::default()
            },
        )
    }

    /// The documented failure shape, with `answer`'s fields (import id, attempts) added.
    pub(crate) fn error(error: &TriggerError, answer: Answer<'_>) -> Reply {
        let body = Answer {
            ok: false,
            error: Some(ErrorDetail::of(error)),
            upstream_status: error.upstream_status.or(answer.upstream_status),
            ..answer
        };
        let mut reply = Reply::json(error.code.http_status(), &body);
        match error.code {
            ErrorCode::Unauthorized => reply.headers.push(("www-authenticate", "Bearer".into())),
            ErrorCode::UpstreamRateLimited | ErrorCode::IdempotencyKeyInProgress => {
                if let Some(secs) = error.retry_after_secs {
                    reply.headers.push(("retry-after", secs.to_string()));
                }
            }
            _ => {}
        }
        reply
    }

    /// `404 not_found` for a route the worker does not have.
    pub fn not_found() -> Reply {
        Reply::error(
            &TriggerError::new(
                ErrorCode::NotFound,
                "no such route; see POST /imports/{import_id}/start",
            ),
            Answer::default(),
        )
    }

    /// `405 method_not_allowed` with `Allow`.
    pub fn method_not_allowed(allow: &'static str) -> Reply {
        let mut reply = Reply::error(
            &TriggerError::new(
                ErrorCode::MethodNotAllowed,
                format!("this route takes {allow} only"),
            ),
            Answer::default(),
        );
        reply.headers.push(("allow", allow.into()));
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn answers_have_the_documented_fields_and_no_others() {
        let health: Value = serde_json::from_str(&Reply::health().body).unwrap();
        assert_eq!(health, json!({"ok": true}));
        let mut e = TriggerError::new(ErrorCode::ImportNotFound, "Bloomreach answered 404: x");
        e.upstream_status = Some(404);
        e.upstream = UpstreamJson::parse(br#"{"errors": ["x"], "n": 1.50}"#);
        let reply = Reply::error(
            &e,
            Answer {
                import_id: Some("imp"),
                api: Some(ApiKind::DataHub),
                attempts: Some(1),
                duration_ms: Some(7),
                ..Answer::default()
            },
        );
        assert_eq!(reply.status, 404);
        let v: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            v,
            json!({
                "ok": false,
                "error": {"code": "import_not_found", "message": "Bloomreach answered 404: x", "upstream": {"errors": ["x"], "n": 1.5}},
                "import_id": "imp", "api": "data-hub", "upstream_status": 404, "attempts": 1, "duration_ms": 7
            })
        );
        assert!(reply.body.contains(r#""n": 1.50"#), "{}", reply.body);
        let v: Value = serde_json::from_str(&Reply::not_found().body).unwrap();
        assert_eq!(
            v,
            json!({"ok": false, "error": {"code": "not_found", "message": "no such route; see POST /imports/{import_id}/start"}})
        );
    }
}
