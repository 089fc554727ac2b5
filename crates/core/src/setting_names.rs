//! The names of the worker's settings and bindings (docs/behaviour.md, "Configuration
//! of the worker"), apart from the code that reads them, so that `account` and
//! `settings` each depend on the names rather than on each other.

pub const API_KEY_ID: &str = "BLOOMREACH_API_KEY_ID";
pub const API_SECRET: &str = "BLOOMREACH_API_SECRET";
pub const TRIGGER_TOKENS: &str = "TRIGGER_TOKENS";
pub const PROJECT_TOKEN: &str = "BLOOMREACH_PROJECT_TOKEN";
pub const WORKSPACE_ID: &str = "BLOOMREACH_WORKSPACE_ID";
pub const API_BASE: &str = "BLOOMREACH_API_BASE";
pub const ALLOWED_PATH_PREFIXES: &str = "ALLOWED_PATH_PREFIXES";
pub const SCHEDULES: &str = "SCHEDULES";
pub const ATTEMPT_TIMEOUT_MS: &str = "UPSTREAM_ATTEMPT_TIMEOUT_MS";
pub const DEADLINE_MS: &str = "UPSTREAM_DEADLINE_MS";
pub const MAX_ATTEMPTS: &str = "UPSTREAM_MAX_ATTEMPTS";
/// How long the ledger keeps a record, in seconds.
pub const IDEMPOTENCY_TTL_SECONDS: &str = "IDEMPOTENCY_TTL_SECONDS";
/// `enabled` turns on the panic route, for tests.
pub const PANIC_TEST_ROUTE: &str = "PANIC_TEST_ROUTE";
/// The ledger's Durable Object binding.
pub const START_LEDGER: &str = "START_LEDGER";
/// How long the start history keeps an ended entry, in days.
pub const HISTORY_RETENTION_DAYS: &str = "HISTORY_RETENTION_DAYS";
/// `enabled` turns on the ledger object's test calls (clean-up at a given time, fill, alarm).
pub const HISTORY_TEST_HOOKS: &str = "HISTORY_TEST_HOOKS";
/// `off` or `false` turns the operator page off.
pub const OPERATOR_PAGE: &str = "OPERATOR_PAGE";
/// The most seconds a start pushed back by Bloomreach is held, from when it began.
pub const HOLD_MAX_SECONDS: &str = "HOLD_MAX_SECONDS";
