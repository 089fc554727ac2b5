/** Which Bloomreach API starts the import. */
export type Api = "data-v1" | "imports-v1";

/** The contract's error codes. */
export type ErrorCode =
  | "invalid_request"
  | "import_not_found"
  | "upstream_rejected"
  | "upstream_auth_failed"
  | "upstream_rate_limited"
  | "upstream_error"
  | "upstream_unreachable";

export interface StartImportOptions {
  /** The project token (Project settings > Access management > API). */
  projectToken: string;
  /** The import to start: 1..128 characters of A-Z a-z 0-9 - _. */
  importId: string;
  /** Private API key ID. */
  apiKeyId: string;
  /** Private API key secret. */
  apiSecret: string;
  /** API base, default "https://api.exponea.com". */
  baseUrl?: string;
  /** Overrides the import's source path (URL, GCS or SFTP) for this run only. */
  path?: string;
  /** false skips Bloomreach's source check (Bloomreach's default is true). */
  testConnection?: boolean;
  /** Default "data-v1"; "imports-v1" for imports made with the Imports Management API. */
  api?: Api;
  /** Attempts at most, 1..10 (default 4). Only 429, 503 and refused connections are retried. */
  maxAttempts?: number;
  /** Timeout of one attempt in ms (default 10000). */
  attemptTimeoutMs?: number;
  /** Time for the whole start in ms, waits included (default 25000). */
  deadlineMs?: number;
  /** The fetch to use; default the global fetch. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

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
  code: Exclude<ErrorCode, "invalid_request">;
  message: string;
  /** Seconds Bloomreach asked to wait, for upstream_rate_limited. */
  retryAfter?: number;
}

export type StartImportResult = StartImportSuccess | StartImportFailure;

/** An Error thrown (or rejected) for invalid options; `code` is "invalid_request". */
export interface StartImportError extends Error {
  code: "invalid_request" | "internal_error";
}

/** Builds the request without sending it. Throws a StartImportError on invalid options. */
export function buildStartImportRequest(options: StartImportOptions): StartImportRequest;

/** Sends the start, retrying only where no run can have started. Rejects on invalid options. */
export function startImport(options: StartImportOptions): Promise<StartImportResult>;

declare const api: {
  buildStartImportRequest: typeof buildStartImportRequest;
  startImport: typeof startImport;
};
export default api;
