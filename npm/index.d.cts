// The package's entry points, as declared for `require` (this file) and for `import`
// (index.d.mts, the same text, copied by scripts/build-npm). The types are in types.d.ts.
import type { StartImportOptions, StartImportRequest, StartImportResult } from "./types.js";

export type * from "./types.js";

/** Builds the request without sending it. Throws a StartImportError on invalid options. */
export declare function buildStartImportRequest(options: StartImportOptions): StartImportRequest;

/** Sends the start, retrying only where no run can have started. Rejects on invalid options. */
export declare function startImport(options: StartImportOptions): Promise<StartImportResult>;

declare const api: {
  buildStartImportRequest: typeof buildStartImportRequest;
  startImport: typeof startImport;
};
export default api;
