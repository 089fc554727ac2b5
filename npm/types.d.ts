// The package's types. The entry declarations (index.d.cts for `require`, index.d.mts
// for `import`, generated from it by scripts/build-npm) declare the functions.

/** Which Bloomreach API starts the import. */
export type Api = "data-v1" | "imports-v1" | "data-hub";

/** Every error code of bloomreach-import-trigger (the worker's answers and the package's). */
export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "path_not_allowed"
  | "not_found"
  | "method_not_allowed"
  | "payload_too_large"
  | "import_not_found"
  | "upstream_rejected"
  | "upstream_auth_failed"
  | "upstream_rate_limited"
  | "upstream_error"
  | "upstream_unreachable"
  | "misconfigured"
  | "idempotency_key_reused"
  | "idempotency_key_in_progress"
  | "upstream_outcome_unknown"
  | "ledger_unavailable"
  | "start_not_found";

/** The codes a failed `startImport` resolves with. */
export type StartImportFailureCode = Extract<
  ErrorCode,
  | "import_not_found"
  | "upstream_rejected"
  | "upstream_auth_failed"
  | "upstream_rate_limited"
  | "upstream_error"
  | "upstream_unreachable"
>;

/** What every start needs and may set, whichever account it goes to. */
export interface CommonStartImportOptions {
  /** The import to start: 1..128 characters of A-Z a-z 0-9 - _. */
  importId: string;
  /** Private API key ID (a project key, or a workspace key for Data hub). */
  apiKeyId: string;
  /** Private API key secret. */
  apiSecret: string;
  /**
   * API base for every API; default "https://api.exponea.com" for data-v1 and
   * imports-v1, "https://api.bloomreach.com" for data-hub. https only (http for a
   * loopback host).
   */
  baseUrl?: string;
  /** Overrides the import's source path (URL, GCS, S3 or SFTP) for this run only. */
  path?: string;
  /** false skips Bloomreach's source check (Bloomreach's default is true). */
  testConnection?: boolean;
  /** Attempts at most, 1..10 (default 4). Only 429, 503 and refused connections are retried. */
  maxAttempts?: number;
  /** Timeout of one attempt in ms (default 10000). */
  attemptTimeoutMs?: number;
  /** Time for the whole start in ms, waits included (default 25000). */
  deadlineMs?: number;
  /** The fetch to use; default the global fetch. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** An Engagement project: data-v1 (the default) or imports-v1. */
export interface ProjectStartImportOptions extends CommonStartImportOptions {
  /** The project token (Project settings > Access management > API). */
  projectToken: string;
  workspaceId?: undefined;
  /** Default "data-v1"; "imports-v1" for imports made with the Imports Management API. */
  api?: "data-v1" | "imports-v1";
}

/** A Data hub workspace: data-hub (the default with a workspace id alone). */
export interface WorkspaceStartImportOptions extends CommonStartImportOptions {
  /** The workspace id (Workspace settings > Access management > API). */
  workspaceId: string;
  projectToken?: undefined;
  api?: "data-hub";
}

/** Both ids (one key pair, one base): data-v1 by default, any API by name. */
export interface ProjectAndWorkspaceStartImportOptions extends CommonStartImportOptions {
  projectToken: string;
  workspaceId: string;
  api?: Api;
}

/** The options of a start: which account, which import, and how. */
export type StartImportOptions =
  | ProjectStartImportOptions
  | WorkspaceStartImportOptions
  | ProjectAndWorkspaceStartImportOptions;

/** The exact request Bloomreach would receive. */
export interface StartImportRequest {
  method: "POST";
  url: string;
  headers: { authorization: string; "content-type"?: "application/json" };
  /** JSON text, or null when no field is sent (then there is no content-type either). */
  body: string | null;
}

export interface StartImportSuccess {
  ok: true;
  /** Bloomreach's HTTP status. */
  status: number;
  attempts: number;
}

export interface StartImportFailure {
  ok: false;
  /** Bloomreach's HTTP status, or null when it never answered. */
  status: number | null;
  attempts: number;
  code: StartImportFailureCode;
  message: string;
  /** Seconds Bloomreach asked to wait, for upstream_rate_limited. */
  retryAfter?: number;
}

export type StartImportResult = StartImportSuccess | StartImportFailure;

/** An Error thrown (or rejected) for invalid options; `code` is "invalid_request". */
export interface StartImportError extends Error {
  code: "invalid_request" | "internal_error";
}
