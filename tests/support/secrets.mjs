// Fails when any test secret or caller token appears in the given texts, plain,
// base64-encoded (alone or as Basic credentials) or URL-encoded.
import assert from "node:assert/strict";
import { SECRETS } from "./worker-harness.mjs";

export function forbiddenStrings() {
  const tokens = SECRETS.TRIGGER_TOKENS.split(",");
  const plain = [SECRETS.BLOOMREACH_API_KEY_ID, SECRETS.BLOOMREACH_API_SECRET, ...tokens];
  const pair = `${SECRETS.BLOOMREACH_API_KEY_ID}:${SECRETS.BLOOMREACH_API_SECRET}`;
  const b64 = (s) => Buffer.from(s).toString("base64");
  return [...plain, pair, b64(pair), b64(pair).replace(/=+$/, ""), ...plain.map(b64).map((s) => s.replace(/=+$/, "")), ...plain.map(encodeURIComponent), encodeURIComponent(pair)];
}

/**
 * Fails when a secret appears in `texts`, and when there are fewer than `atLeast`
 * texts: a scan of nothing (a file run alone, a capture that broke) proves nothing.
 */
export function assertNoSecrets(texts, atLeast = 10) {
  assert.ok(texts.length >= atLeast, `only ${texts.length} answers and log lines to scan; expected at least ${atLeast}`);
  const forbidden = forbiddenStrings();
  for (const text of texts) {
    for (const secret of forbidden) {
      assert.ok(!text.includes(secret), `a secret leaked (${secret.slice(0, 4)}…) in: ${text.slice(0, 200)}`);
    }
  }
}
