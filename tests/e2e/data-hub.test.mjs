// Bloomreach Data hub (`"api": "data-hub"`) end to end in workerd: HTTP starts with and
// without a body, dry runs, Idempotency-Key, a cron job, and the defaults of a
// deployment that has only a workspace id.
import { it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startStandin } from "../support/bloomreach-standin.mjs";
import { startWorker, allOutput, SECRETS, TOKEN, PROJECT } from "../support/worker-harness.mjs";
import { assertNoSecrets } from "../support/secrets.mjs";

const WORKSPACE = "ws-5f1e8c9a";
const BASIC = "Basic " + Buffer.from(`${SECRETS.BLOOMREACH_API_KEY_ID}:${SECRETS.BLOOMREACH_API_SECRET}`).toString("base64");
const hubPath = (id, ws = WORKSPACE) => `/data/v2/workspaces/${ws}/imports/${id}/start`;
const SCHEDULES = { "0 3 * * *": [{ import_id: "dw-daily", api: "data-hub", path: "s3://exports/{date}/orders.parquet", time_offset: "-1d" }, { import_id: "engagement-daily" }] };

let standin, both, workspaceOnly;
before(async () => {
  standin = await startStandin();
  both = await startWorker({ upstream: standin.url, bindings: { BLOOMREACH_WORKSPACE_ID: WORKSPACE, SCHEDULES: JSON.stringify(SCHEDULES) } });
  workspaceOnly = await startWorker({ upstream: standin.url, bindings: { BLOOMREACH_WORKSPACE_ID: WORKSPACE, BLOOMREACH_PROJECT_TOKEN: "  ", SCHEDULES: JSON.stringify(SCHEDULES) } });
});
after(async () => {
  await both?.close();
  await workspaceOnly?.close();
  await standin?.close();
});
beforeEach(() => standin.reset());

const start = (w, id, body, { query = "", headers = {} } = {}) =>
  w.fetch(`/imports/${id}/start${query}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });

it("\"api\": \"data-hub\" starts the workspace's import, with no body when no field is given", async () => {
  const res = await start(both, "dw-plain", { api: "data-hub" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.api, "data-hub");
  const [got] = standin.for("dw-plain");
  assert.equal(got.path, hubPath("dw-plain"));
  assert.equal(got.headers.authorization, BASIC);
  assert.equal(got.headers["content-type"], undefined);
  assert.equal(got.bodyBytes, 0);
});

it("a data-hub body carries path and test_connection as data-v1 does", async () => {
  const res = await start(both, "dw-body", { api: "data-hub", path: "s3://exports/x.parquet", test_connection: false });
  assert.equal(res.status, 200, res.text);
  const [got] = standin.for("dw-body");
  assert.equal(got.body, '{"path":"s3://exports/x.parquet","test_connection":false}');
  assert.equal(got.headers["content-type"], "application/json");
});

it("a dry run shows the workspace route and sends nothing", async () => {
  const res = await start(both, "dw-dry", { api: "data-hub" }, { query: "?dry_run=1" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.api, "data-hub");
  assert.equal(res.body.request.url, standin.url + hubPath("dw-dry"));
  assert.equal(res.body.request.headers.authorization, "Basic ***");
  assert.equal(standin.requests.length, 0);
});

it("with both ids, a request without api is data-v1 to the project", async () => {
  assert.equal((await start(both, "ev-default")).status, 200);
  assert.equal(standin.for("ev-default")[0].path, `/data/v1/projects/${PROJECT}/imports/ev-default/start`);
});

it("a deployment with only a workspace id defaults to data-hub; data-v1 there is 500 naming BLOOMREACH_PROJECT_TOKEN", async () => {
  const res = await start(workspaceOnly, "dw-default");
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.api, "data-hub");
  assert.equal(standin.for("dw-default")[0].path, hubPath("dw-default"));
  const v1 = await start(workspaceOnly, "dw-v1", { api: "data-v1" });
  assert.equal(v1.status, 500, v1.text);
  assert.equal(v1.body.error.code, "misconfigured");
  assert.match(v1.body.error.message, /^BLOOMREACH_PROJECT_TOKEN:/);
  assert.equal(standin.for("dw-v1").length, 0);
});

it("Bloomreach's 403 for a key of another workspace is upstream_auth_failed with its message", async () => {
  const res = await start(both, "forbidden_dw", { api: "data-hub" });
  assert.equal(res.status, 502, res.text);
  assert.equal(res.body.error.code, "upstream_auth_failed");
  assert.match(res.body.error.message, /No permission/);
});

it("Idempotency-Key: the api after its default is part of the request", async () => {
  const key = { "idempotency-key": "dw-key-1" };
  assert.equal((await start(workspaceOnly, "dw-idem", undefined, { headers: key })).status, 200);
  const same = await start(workspaceOnly, "dw-idem", { api: "data-hub" }, { headers: key });
  assert.equal(same.headers.get("idempotent-replayed"), "true", "data-hub written out is the default here");
  const other = await start(both, "dw-idem2", { api: "data-hub" }, { headers: key });
  assert.equal(other.status, 200, "another deployment's scope (project and workspace) is another record");
  const reused = await start(both, "dw-idem2", undefined, { headers: key });
  assert.equal(reused.status, 422, "data-v1 is another request than data-hub");
  assert.equal(standin.for("dw-idem").length, 1);
});

it("a cron job with \"api\": \"data-hub\" starts the workspace's import with its rendered path", async () => {
  assert.equal(await both.scheduled("0 3 * * *", Date.UTC(2026, 10, 28, 3)), "ok");
  const [dw] = standin.for("dw-daily");
  assert.equal(dw.path, hubPath("dw-daily"));
  assert.equal(dw.body, '{"path":"s3://exports/2026-11-27/orders.parquet"}');
  assert.equal(standin.for("engagement-daily")[0].path, `/data/v1/projects/${PROJECT}/imports/engagement-daily/start`);
  // With only a workspace, the job without api is data-hub too.
  assert.equal(await workspaceOnly.scheduled("0 3 * * *", Date.UTC(2026, 10, 29, 3)), "ok");
  assert.equal(standin.for("engagement-daily")[1].path, hubPath("engagement-daily"));
});

it("no answer or log line holds a secret", () => {
  assert.ok(allOutput().length > 10);
  assertNoSecrets(allOutput());
});
