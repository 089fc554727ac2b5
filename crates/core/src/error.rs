//! The error every decision in the core can end in. Its codes are exactly the
//! documented ones (docs/behaviour.md, "The HTTP endpoint"), so the HTTP status, the JSON `code` and the npm error's
//! `code` all come from one place.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::fmt;

/// The documented error codes, one variant each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    PathNotAllowed,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    ImportNotFound,
    UpstreamRejected,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamError,
    UpstreamUnreachable,
    Misconfigured,
    /// An `Idempotency-Key` reused with another request.
    IdempotencyKeyReused,
    /// A request with this `Idempotency-Key` is under way.
    IdempotencyKeyInProgress,
    /// A start with this `Idempotency-Key` began and its outcome was never recorded.
    UpstreamOutcomeUnknown,
    /// The ledger (the `START_LEDGER` Durable Object) failed; nothing was started.
    LedgerUnavailable,
    /// `GET /starts/{start_id}` of an id the history does not hold.
    StartNotFound,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::PathNotAllowed,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::ImportNotFound,
        ErrorCode::UpstreamRejected,
        ErrorCode::UpstreamAuthFailed,
        ErrorCode::UpstreamRateLimited,
        ErrorCode::UpstreamError,
        ErrorCode::UpstreamUnreachable,
        ErrorCode::Misconfigured,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::IdempotencyKeyInProgress,
        ErrorCode::UpstreamOutcomeUnknown,
        ErrorCode::LedgerUnavailable,
        ErrorCode::StartNotFound,
    ];

    /// The code of its JSON name, if it is one.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The code as it appears in JSON answers and on npm errors.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::PathNotAllowed => "path_not_allowed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::ImportNotFound => "import_not_found",
            ErrorCode::UpstreamRejected => "upstream_rejected",
            ErrorCode::UpstreamAuthFailed => "upstream_auth_failed",
            ErrorCode::UpstreamRateLimited => "upstream_rate_limited",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::UpstreamUnreachable => "upstream_unreachable",
            ErrorCode::Misconfigured => "misconfigured",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::IdempotencyKeyInProgress => "idempotency_key_in_progress",
            ErrorCode::UpstreamOutcomeUnknown => "upstream_outcome_unknown",
            ErrorCode::LedgerUnavailable => "ledger_unavailable",
            ErrorCode::StartNotFound => "start_not_found",
        }
    }

    /// The HTTP status the worker answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::PathNotAllowed => 403,
            ErrorCode::NotFound | ErrorCode::ImportNotFound | ErrorCode::StartNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UpstreamRejected | ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::UpstreamAuthFailed
            | ErrorCode::UpstreamError
            | ErrorCode::UpstreamOutcomeUnknown => 502,
            ErrorCode::UpstreamRateLimited | ErrorCode::LedgerUnavailable => 503,
            ErrorCode::IdempotencyKeyInProgress => 409,
            ErrorCode::UpstreamUnreachable => 504,
            ErrorCode::Misconfigured => 500,
        }
    }
}

impl ErrorCode {
    /// The exit status of the npm package's command line for this outcome:
    /// 2 invalid input or settings, 3 Bloomreach refused the start, 4 Bloomreach refused
    /// the credentials, 5 Bloomreach failed or could not be reached.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::Misconfigured
            | ErrorCode::PathNotAllowed
            | ErrorCode::PayloadTooLarge
            | ErrorCode::NotFound
            | ErrorCode::MethodNotAllowed
            | ErrorCode::Unauthorized
            | ErrorCode::IdempotencyKeyReused
            | ErrorCode::IdempotencyKeyInProgress
            | ErrorCode::StartNotFound => 2,
            ErrorCode::ImportNotFound
            | ErrorCode::UpstreamRejected
            | ErrorCode::UpstreamRateLimited => 3,
            ErrorCode::UpstreamAuthFailed => 4,
            ErrorCode::UpstreamError
            | ErrorCode::UpstreamUnreachable
            | ErrorCode::UpstreamOutcomeUnknown
            | ErrorCode::LedgerUnavailable => 5,
        }
    }
}

/// In JSON, a code is its name.
impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with its documented code, a message for humans (never holding a secret),
/// and, for upstream errors, what Bloomreach said.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerError {
    pub code: ErrorCode,
    pub message: String,
    /// Bloomreach's own error body, when it was JSON and small enough to pass on.
    pub upstream: Option<UpstreamJson>,
    /// Bloomreach's status, when it answered.
    pub upstream_status: Option<u16>,
    /// Seconds the caller should wait, for `upstream_rate_limited`.
    pub retry_after_secs: Option<u64>,
}

impl TriggerError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        TriggerError {
            code,
            message: message.into(),
            upstream: None,
            upstream_status: None,
            retry_after_secs: None,
        }
    }

    /// `invalid_request` naming the field at fault.
    pub fn invalid(field: &str, problem: &str) -> Self {
        Self::new(ErrorCode::InvalidRequest, format!("{field}: {problem}"))
    }

    /// `misconfigured`, naming settings but never showing their values.
    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Misconfigured, message)
    }
}

impl fmt::Display for TriggerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for TriggerError {}

/// Bloomreach's JSON answer, passed on in `error.upstream` as Bloomreach wrote it: its
/// numbers, key order and spacing untouched.
#[derive(Clone, Debug)]
pub struct UpstreamJson(Box<RawValue>);

impl UpstreamJson {
    /// `text` when it is one JSON value (white space around it dropped).
    pub fn parse(text: &[u8]) -> Option<UpstreamJson> {
        serde_json::from_slice(text).ok().map(UpstreamJson)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for UpstreamJson {
    fn eq(&self, other: &UpstreamJson) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for UpstreamJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_contract_status() {
        let expected = [
            ("invalid_request", 400),
            ("unauthorized", 401),
            ("path_not_allowed", 403),
            ("not_found", 404),
            ("method_not_allowed", 405),
            ("payload_too_large", 413),
            ("import_not_found", 404),
            ("upstream_rejected", 422),
            ("upstream_auth_failed", 502),
            ("upstream_rate_limited", 503),
            ("upstream_error", 502),
            ("upstream_unreachable", 504),
            ("misconfigured", 500),
            ("idempotency_key_reused", 422),
            ("idempotency_key_in_progress", 409),
            ("upstream_outcome_unknown", 502),
            ("ledger_unavailable", 503),
            ("start_not_found", 404),
        ];
        // Equal lengths first: `zip` would skip a code added without its row here.
        assert_eq!(ErrorCode::ALL.len(), expected.len());
        for (code, (name, status)) in ErrorCode::ALL.iter().zip(expected) {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.http_status(), status, "{name}");
        }
    }

    #[test]
    fn exit_codes_tell_input_refusal_auth_and_reachability_apart() {
        assert_eq!(ErrorCode::InvalidRequest.exit_code(), 2);
        assert_eq!(ErrorCode::ImportNotFound.exit_code(), 3);
        assert_eq!(ErrorCode::UpstreamRejected.exit_code(), 3);
        assert_eq!(ErrorCode::UpstreamAuthFailed.exit_code(), 4);
        assert_eq!(ErrorCode::UpstreamUnreachable.exit_code(), 5);
        assert!(ErrorCode::ALL
            .iter()
            .all(|c| (2..=5).contains(&c.exit_code())));
        assert!(ErrorCode::ALL
            .iter()
            .all(|c| ErrorCode::from_name(c.as_str()) == Some(*c)));
        assert_eq!(ErrorCode::from_name("nope"), None);
    }
}
