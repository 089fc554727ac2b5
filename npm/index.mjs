// Node entry for `import`: the same module as `require` gives.
import api from "./index.cjs";

export const { buildStartImportRequest, startImport } = api;
export default api;
