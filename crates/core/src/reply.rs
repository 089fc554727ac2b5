//! The JSON answers of the HTTP endpoint, built once here so every shell answers alike.

use crate::error::{ErrorCode, TriggerError};
use crate::json::{Map, Value};
use crate::json_object;

/// An HTTP answer: status, extra headers, JSON body. Every answer carries
/// `content-type: application/json` and `cache-control: no-store` besides these.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// `200 {"ok": true}`, revealing no setting.
    pub fn health() -> Reply {
        Reply::json(200, &json_object([("ok", Value::from(true))]))
    }

    /// The documented failure shape; `extra` adds top-level fields (import id, attempts).
    pub fn error(error: &TriggerError, extra: Map) -> Reply {
        let mut detail = Map::new();
        detail.insert("code".into(), error.code.as_str().into());
        detail.insert("message".into(), error.message.clone().into());
        if let Some(upstream) = &error.upstream {
            detail.insert("upstream".into(), upstream.clone());
        }
        let mut body = Map::new();
        body.insert("ok".into(), false.into());
        body.insert("error".into(), Value::Object(detail));
        if let Some(status) = error.upstream_status {
            body.insert("upstream_status".into(), status.into());
        }
        body.extend(extra);
        let mut reply = Reply::json(error.code.http_status(), &Value::Object(body));
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
            Map::new(),
        )
    }

    /// `405 method_not_allowed` with `Allow`.
    pub fn method_not_allowed(allow: &'static str) -> Reply {
        let mut reply = Reply::error(
            &TriggerError::new(
                ErrorCode::MethodNotAllowed,
                format!("this route takes {allow} only"),
            ),
            Map::new(),
        );
        reply.headers.push(("allow", allow.into()));
        reply
    }
}
