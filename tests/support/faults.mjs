// The fault matrix: each way the Bloomreach stand-in can fail (its scenario names),
// what a start through the worker answers, the outcome code (null: success) and how
// many requests Bloomreach receives, with 3 attempts at most. One table for the
// worker's and the npm package's tests; docs/behaviour.md ("Retries") says why.
export const FAULT_LIMITS = { attemptTimeoutMs: 800, deadlineMs: 5000, maxAttempts: 3 };

/** { scenario, status (the worker's answer), code, requests } */
export const FAULTS = [
  ["ratelimited", 503, "upstream_rate_limited", 3],
  ["ratelimiteddate", 200, null, 2],
  ["ratelimitednoheader", 200, null, 2],
  ["unavailable", 502, "upstream_error", 3],
  ["servererror", 502, "upstream_error", 1],
  ["badgateway", 502, "upstream_error", 1],
  ["gatewaytimeout", 502, "upstream_error", 1],
  ["hang", 504, "upstream_unreachable", 1],
  ["reset", 504, "upstream_unreachable", 1],
  ["malformed", 422, "upstream_rejected", 1],
  ["malformedok", 200, null, 1],
  ["html", 502, "upstream_error", 1],
  ["empty", 422, "upstream_rejected", 1],
  ["huge", 502, "upstream_error", 1],
  ["forbidden", 502, "upstream_auth_failed", 1],
  ["rejected", 422, "upstream_rejected", 1],
  ["redirect", 502, "upstream_error", 1],
].map(([scenario, status, code, requests]) => ({ scenario, status, code, requests }));
