//! The pure engine of bloomreach-import-trigger.
//!
//! Everything that decides lives here: validating input, building the exact request
//! Bloomreach receives, reading its answer, the retry policy, parsing settings and
//! schedules, rendering path templates, and the HTTP endpoint's answers. Nothing here
//! does I/O, reads a clock or draws a random number: the Cloudflare Worker and the npm
//! package drive it and pass time and jitter in. This crate depends on no `worker`,
//! `js-sys`, `web-sys` or `wasm-bindgen`, so the compiler keeps it that way.
//!
//! Modules that the shells use by path are public; the others are private, and what
//! the shells need of them is re-exported below, so the compiler sees what is unused.

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod account;
mod attempts;
mod base_url;
pub mod call_batch;
mod caller_tokens;
pub mod civil_time;
pub mod cleanup;
mod credentials;
pub mod cron_expr;
pub mod cron_flow;
pub mod endpoint;
mod error;
pub mod history;
pub mod history_routes;
pub mod hold;
pub mod http_flow;
pub mod idempotency;
mod ids;
mod json_text;
pub mod ledger;
pub mod log_line;
pub mod operator_page;
mod options;
mod path_policy;
mod reply;
pub mod request_body;
pub mod respond_async;
pub mod retry;
pub mod schedule;
mod secret;
mod setting_names;
mod settings;
pub mod store;
pub mod template;
#[cfg(test)]
mod test_support;
mod upstream_answer;
mod upstream_request;

pub use account::{Account, Target};
pub use attempts::{AttemptOutcome, Attempts, Evidence, StartResult, Step};
pub use base_url::BaseUrl;
pub use caller_tokens::CallerTokens;
pub use credentials::Credentials;
pub use error::{ErrorCode, TriggerError, UpstreamJson};
pub use ids::{ApiKind, ImportId, PathOverride, ProjectToken, WorkspaceId};
pub use log_line::{Skipped, TriggerLog};
pub use options::StartOptions;
pub use path_policy::PathPrefixes;
pub use reply::Reply;
pub use retry::RetryLimits;
pub use schedule::{RenderedJob, Schedules};
pub use secret::Secret;
pub use setting_names::{
    ALLOWED_PATH_PREFIXES, API_BASE, API_KEY_ID, API_SECRET, ATTEMPT_TIMEOUT_MS, DEADLINE_MS,
    HISTORY_RETENTION_DAYS, HISTORY_TEST_HOOKS, HOLD_MAX_SECONDS, IDEMPOTENCY_TTL_SECONDS,
    MAX_ATTEMPTS, OPERATOR_PAGE, PANIC_TEST_ROUTE, PROJECT_TOKEN, SCHEDULES, START_LEDGER,
    TRIGGER_TOKENS, WORKSPACE_ID,
};
pub use settings::{Lookup, SettingValue, Settings};
pub use upstream_answer::{read_answer, Accepted, ANSWER_READ_LIMIT};
pub use upstream_request::{RequestView, StartRequest, UpstreamRequest};
