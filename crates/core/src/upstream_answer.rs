//! Reading Bloomreach's answer into success or a documented error, keeping its message.
//!
//! Bloomreach's errors come in several shapes (docs/bloomreach.md, "Answers"): `errors` as a list,
//! as a map of lists, as `{code, message}`, a top-level `error`, or no JSON at all (an
//! HTML page from a proxy, an empty body). All of them end up as one readable line.

use crate::error::{ErrorCode, TriggerError, UpstreamJson};
use serde_json::Value;

/// Bodies larger than this are not parsed as JSON (a proxy's error page can be huge).
const MAX_JSON_BYTES: usize = 64 * 1024;
/// How much of an answer's body a shell needs to read: one byte past the JSON limit
/// tells a body too large to be JSON from one that fits; nothing after it is used.
pub const ANSWER_READ_LIMIT: usize = MAX_JSON_BYTES + 1;
/// Bloomreach's JSON body is passed on whole only up to this size.
const MAX_PASSED_ON_BYTES: usize = 4 * 1024;
/// The longest upstream text kept in a message, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Bloomreach accepted the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub status: u16,
}

/// Turns Bloomreach's status and body into the outcome of the start.
pub fn read_answer(status: u16, body: &[u8]) -> Result<Accepted, TriggerError> {
    let json = parse_json(body);
    if (200..300).contains(&status) {
        // `{"success": false}` under a 2xx is a refusal all the same.
        let refused = json
            .as_ref()
            .and_then(|v| v.get("success"))
            .and_then(Value::as_bool)
            == Some(false);
        if !refused {
            return Ok(Accepted { status });
        }
    }
    if status == 0 || (300..400).contains(&status) {
        // Redirects are never followed: a 302/303 would turn the POST into a GET
        // elsewhere, and a login page's 200 would read as "started". What happened
        // behind it is unknown, so it is an error that may have started a run.
        let shown = if status == 0 {
            "with an opaque redirect".to_owned()
        } else {
            status.to_string()
        };
        let mut error = TriggerError::new(
            ErrorCode::UpstreamError,
            format!("Bloomreach answered {shown}: a redirect, which is not followed (check the API base); the import may or may not have started"),
        );
        error.upstream_status = (status != 0).then_some(status);
        return Err(error);
    }
    let text = describe(json.as_ref(), body);
    let code = match status {
        401 | 403 => ErrorCode::UpstreamAuthFailed,
        400 if text.to_ascii_lowercase().contains("could not authenticate") => {
            ErrorCode::UpstreamAuthFailed
        }
        404 => ErrorCode::ImportNotFound,
        429 => ErrorCode::UpstreamRateLimited,
        200..=299 | 400..=499 => ErrorCode::UpstreamRejected,
        _ => ErrorCode::UpstreamError,
    };
    let mut error = TriggerError::new(code, format!("Bloomreach answered {status}: {text}"));
    error.upstream_status = Some(status);
    if json.is_some() && body.len() <= MAX_PASSED_ON_BYTES {
        error.upstream = UpstreamJson::parse(body);
    }
    Err(error)
}

/// The answer as JSON, read to find its messages (an object keeps the last of two
/// equal keys, as any JSON reader would pass it on).
fn parse_json(body: &[u8]) -> Option<Value> {
    if body.len() > MAX_JSON_BYTES {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// One line of text out of whatever Bloomreach sent.
fn describe(json: Option<&Value>, body: &[u8]) -> String {
    let text = match json.and_then(messages_of) {
        Some(text) => text,
        None => plain_text(body),
    };
    truncate(text.trim(), MAX_MESSAGE_CHARS)
}

/// The messages in a JSON error body, in any of Bloomreach's shapes.
fn messages_of(value: &Value) -> Option<String> {
    let object = value.as_object()?;
    let mut parts = Vec::new();
    if let Some(error) = object.get("error") {
        parts.extend(flatten(None, error));
    }
    if let Some(errors) = object.get("errors") {
        match errors {
            Value::Object(map) if map.contains_key("message") => {
                let message = map.get("message").map(text_of).unwrap_or_default();
                match map.get("code").and_then(Value::as_str) {
                    Some(code) => parts.push(format!("{code}: {message}")),
                    None => parts.push(message),
                }
            }
            other => parts.extend(flatten(None, other)),
        }
    }
    if parts.is_empty() {
        if let Some(message) = object.get("message") {
            parts.extend(flatten(None, message));
        }
    }
    parts.retain(|p| !p.is_empty());
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Strings out of a string, a list or a map of lists, with map keys as labels
/// (except Bloomreach's `_global`, which labels nothing).
fn flatten(label: Option<&str>, value: &Value) -> Vec<String> {
    let with_label = |s: String| match label {
        Some(l) if l != "_global" => format!("{l}: {s}"),
        _ => s,
    };
    match value {
        Value::Array(items) => items.iter().flat_map(|v| flatten(label, v)).collect(),
        Value::Object(map) => map.iter().flat_map(|(k, v)| flatten(Some(k), v)).collect(),
        Value::Null => Vec::new(),
        other => vec![with_label(text_of(other))],
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A non-JSON body: an HTML page's title, or the text itself, or a note that it was empty.
fn plain_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_JSON_BYTES)]);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "(empty body)".to_owned();
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        let title = lower
            .find("<title>")
            .and_then(|start| {
                let from = start + "<title>".len();
                lower[from..]
                    .find("</title>")
                    .map(|len| trimmed[from..from + len].trim())
            })
            .filter(|t| !t.is_empty());
        return match title {
            Some(title) => format!("(HTML page) {title}"),
            None => "(HTML page)".to_owned(),
        };
    }
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_follows_the_read_limit_changes_nothing() {
        // A shell reads at most ANSWER_READ_LIMIT bytes: a longer body reads the same.
        let long = [b"x".repeat(super::ANSWER_READ_LIMIT), b"tail".to_vec()].concat();
        let cut = &long[..super::ANSWER_READ_LIMIT];
        assert_eq!(super::read_answer(500, &long), super::read_answer(500, cut));
        let html = [b"<html><title>Down</title>".to_vec(), b" ".repeat(70_000)].concat();
        assert_eq!(
            super::read_answer(502, &html),
            super::read_answer(502, &html[..super::ANSWER_READ_LIMIT])
        );
    }

    use super::*;

    fn err(status: u16, body: &str) -> TriggerError {
        read_answer(status, body.as_bytes()).unwrap_err()
    }

    #[test]
    fn redirects_are_errors_naming_the_status() {
        for status in [301, 302, 303, 307, 308] {
            let e = read_answer(status, b"<html>login</html>").unwrap_err();
            assert_eq!(e.code, ErrorCode::UpstreamError);
            assert_eq!(e.upstream_status, Some(status));
            assert!(e
                .message
                .starts_with(&format!("Bloomreach answered {status}: a redirect")));
        }
        let opaque = read_answer(0, b"").unwrap_err();
        assert_eq!(opaque.code, ErrorCode::UpstreamError);
        assert_eq!(opaque.upstream_status, None);
        assert!(opaque.message.contains("opaque redirect"));
    }

    #[test]
    fn a_2xx_is_accepted() {
        assert_eq!(
            read_answer(200, br#"{"success": true}"#),
            Ok(Accepted { status: 200 })
        );
        assert_eq!(read_answer(202, b""), Ok(Accepted { status: 202 }));
        assert_eq!(
            read_answer(200, b"<html>ok</html>"),
            Ok(Accepted { status: 200 })
        );
    }

    #[test]
    fn a_2xx_with_success_false_is_rejected() {
        let e = err(
            200,
            r#"{"success": false, "errors": ["Import is not repeated"]}"#,
        );
        assert_eq!(e.code, ErrorCode::UpstreamRejected);
        assert!(e.message.contains("Import is not repeated"));
    }

    #[test]
    fn a_404_is_import_not_found_with_code_and_message() {
        let e = err(
            404,
            r#"{"success": false, "errors": {"code": "NotFoundError", "message": "Import not found"}}"#,
        );
        assert_eq!(e.code, ErrorCode::ImportNotFound);
        assert_eq!(
            e.message,
            "Bloomreach answered 404: NotFoundError: Import not found"
        );
        assert_eq!(e.upstream_status, Some(404));
        assert!(e.upstream.is_some());
    }

    #[test]
    fn the_json_answer_is_passed_on_as_written() {
        let body =
            "\n { \"success\": false,\n  \"errors\": {\"message\": \"x\", \"code\": 1.50} } \n";
        let e = err(400, body);
        assert_eq!(
            e.upstream.as_ref().map(UpstreamJson::as_str),
            Some(body.trim())
        );
        // A number too large for a float, in a JSON answer, is passed on as written.
        let big = r#"{"error": "x", "id": 123456789012345678901234567890}"#;
        assert_eq!(
            err(400, big).upstream.as_ref().map(UpstreamJson::as_str),
            Some(big)
        );
        let reply = crate::endpoint::refusal_reply(&err(400, big));
        assert!(reply.body.contains(big), "{}", reply.body);
    }

    #[test]
    fn a_401_or_403_is_upstream_auth_failed() {
        assert_eq!(err(401, "").code, ErrorCode::UpstreamAuthFailed);
        let e = err(
            403,
            r#"{"success": false, "errors": {"_global": ["No permission to allow trigger imports."]}}"#,
        );
        assert_eq!(e.code, ErrorCode::UpstreamAuthFailed);
        assert_eq!(
            e.message,
            "Bloomreach answered 403: No permission to allow trigger imports."
        );
    }

    #[test]
    fn a_400_could_not_authenticate_is_upstream_auth_failed() {
        let e = err(
            400,
            r#"{"success": false, "errors": ["Could not authenticate request"]}"#,
        );
        assert_eq!(e.code, ErrorCode::UpstreamAuthFailed);
        let e = err(400, r#"{"error": "could not authenticate"}"#);
        assert_eq!(e.code, ErrorCode::UpstreamAuthFailed);
    }

    #[test]
    fn other_4xx_are_upstream_rejected_with_every_error_shape_read() {
        let cases = [
            (
                r#"{"success": false, "errors": {"_global": ["BadRequest: import type cannot be started"]}}"#,
                "BadRequest: import type cannot be started",
            ),
            (r#"{"error": "bad path"}"#, "bad path"),
            (r#"{"success": false, "errors": ["a", "b"]}"#, "a; b"),
            (
                r#"{"errors": {"path": ["must be a URL", "too long"]}}"#,
                "path: must be a URL; path: too long",
            ),
            (r#"{"message": "plain"}"#, "plain"),
            (r#"{"unknown": 1}"#, r#"{"unknown": 1}"#),
            ("not json at all", "not json at all"),
            ("", "(empty body)"),
        ];
        for (body, want) in cases {
            let e = err(400, body);
            assert_eq!(e.code, ErrorCode::UpstreamRejected, "{body}");
            assert_eq!(
                e.message,
                format!("Bloomreach answered 400: {want}"),
                "{body}"
            );
        }
        assert_eq!(err(409, "").code, ErrorCode::UpstreamRejected);
    }

    #[test]
    fn a_429_is_rate_limited_and_5xx_is_upstream_error() {
        assert_eq!(err(429, "").code, ErrorCode::UpstreamRateLimited);
        for s in [500, 502, 503, 504] {
            assert_eq!(err(s, "").code, ErrorCode::UpstreamError);
        }
        assert_eq!(err(302, "").code, ErrorCode::UpstreamError);
    }

    #[test]
    fn an_html_page_gives_its_title() {
        let e = err(502, "<!DOCTYPE html><html><head><title> 502 Bad Gateway </title></head><body>x</body></html>");
        assert_eq!(
            e.message,
            "Bloomreach answered 502: (HTML page) 502 Bad Gateway"
        );
        assert_eq!(e.upstream, None);
        let e = err(500, "<html><body>oops</body></html>");
        assert_eq!(e.message, "Bloomreach answered 500: (HTML page)");
    }

    #[test]
    fn long_bodies_are_cut_and_not_passed_on() {
        let big = format!(r#"{{"error": "{}"}}"#, "x".repeat(10_000));
        let e = err(400, &big);
        assert!(e.message.chars().count() < 600);
        assert_eq!(e.upstream, None);
        let huge = vec![b'y'; 5 * 1024 * 1024];
        let e = read_answer(500, &huge).unwrap_err();
        assert!(e.message.len() < 1000);
    }
}
