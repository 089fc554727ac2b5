//! The pure engine of bloomreach-import-trigger.
//!
//! Everything that decides lives here: validating input, building the exact request
//! Bloomreach receives, reading its answer, the retry policy, parsing settings and
//! schedules, rendering path templates, and the HTTP endpoint's answers. Nothing here
//! does I/O, reads a clock or draws a random number: the Cloudflare Worker and the npm
//! package drive it and pass time and jitter in. This crate depends on no `worker`,
//! `js-sys`, `web-sys` or `wasm-bindgen`, so the compiler keeps it that way.

pub mod account;
pub mod attempts;
pub mod base_url;
pub mod caller_tokens;
pub mod civil_time;
pub mod credentials;
pub mod cron_flow;
pub mod endpoint;
pub mod error;
pub mod http_flow;
pub mod idempotency;
pub mod ids;
mod json_object;
pub mod ledger;
pub mod log_line;
pub mod options;
pub mod path_policy;
pub mod reply;
pub mod request_body;
pub mod retry;
pub mod schedule;
pub mod secret;
pub mod settings;
pub mod template;
pub mod upstream_answer;
pub mod upstream_request;

pub use account::{Account, Target};
pub use attempts::{AttemptOutcome, Attempts, Evidence, StartResult, Step};
pub use base_url::BaseUrl;
pub use caller_tokens::CallerTokens;
pub use credentials::Credentials;
pub use error::{ErrorCode, TriggerError};
pub use ids::{ApiKind, ImportId, PathOverride, ProjectToken, WorkspaceId};
pub use log_line::{Skipped, TriggerLog};
pub use options::StartOptions;
pub use path_policy::PathPrefixes;
pub use reply::Reply;
pub use retry::RetryLimits;
pub use schedule::{RenderedJob, Schedules};
pub use secret::Secret;
pub use settings::{Lookup, Settings};
pub use upstream_answer::{read_answer, Accepted};
pub use upstream_request::{StartRequest, UpstreamRequest};
