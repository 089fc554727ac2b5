# Shared by the scripts in this folder: progress messages, and installing what a
# fresh machine lacks (each step checks first, so a warm run installs nothing).
# Source it; do not run it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export PATH="$ROOT/node_modules/.bin:$CARGO_HOME/bin:$PATH"
# wrangler and miniflare run offline: no telemetry, no account look-ups.
export WRANGLER_SEND_METRICS=false DO_NOT_TRACK=1 CLOUDFLARE_CF_FETCH_ENABLED=false


step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
fail() { printf '\n\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

# The wasm-bindgen version Cargo.lock pins; the CLI must match it exactly.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown || fail "rustup could not add wasm32-unknown-unknown"
  fi
}

# ensure_cargo_tool BINARY CRATE VERSION: installs CRATE at VERSION unless BINARY is it.
ensure_cargo_tool() {
  local bin="$1" crate="$2" version="$3"
  # `wasm-bindgen --version` prints "name version".
  if "$CARGO_HOME/bin/$bin" --version 2>/dev/null | grep -qE "(^| )$version\$"; then
    return 0
  fi
  step "Installing $crate $version (cargo install; a few minutes, once per machine)"
  cargo install "$crate" --version "$version" || fail "cargo install $crate $version failed"
}

ensure_node_modules() {
  if [ ! -x "$ROOT/node_modules/.bin/wrangler" ] || [ ! -x "$ROOT/node_modules/.bin/node" ] \
     || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    step "Installing wrangler, workerd, miniflare, esbuild, binaryen, Node 22, typescript, publint and attw (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed"
  fi
  node --version | grep -q '^v22\.' || fail "node_modules/.bin/node is not Node 22"
}

ensure_tools() {
  command -v cargo >/dev/null || fail "cargo is missing: install Rust with rustup"
  command -v npm >/dev/null || fail "npm is missing: install Node.js 20 or later"
  ensure_wasm_target
  # Not --locked: wasm-bindgen-cli's own lock names a crate version the registry lacks.
  ensure_cargo_tool wasm-bindgen wasm-bindgen-cli "$(locked_wasm_bindgen_version)"
  ensure_node_modules
}

# shrink_wasm IN OUT [FLAG...]: wasm-opt -Oz with names and producers stripped, and the
# features workerd and Node support (the list worker-build uses). The pinned
# binaryen's wasm-opt: Debian's older one fails on this output.
shrink_wasm() {
  local in="$1" out="$2"
  shift 2
  wasm-opt "$in" -o "$out" -Oz --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types "$@" \
    || fail "wasm-opt failed on $in"
}

# A free TCP port on 127.0.0.1.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Debian's Chromium, for the operator page's browser tests (no browser download from
# elsewhere works on these machines).
ensure_chromium() {
  if ! command -v chromium >/dev/null; then
    step "Installing Chromium for the browser tests (apt-get install chromium; once per machine)"
    command -v apt-get >/dev/null || fail "chromium is missing and there is no apt-get: install Debian's chromium package"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
  fi
  chromium --version >/dev/null 2>&1 || fail "chromium is installed but does not run"
}

# Node 20.9, the oldest Node the npm package supports, for its tests only.
ensure_node20() {
  local dir="$ROOT/tests/npm/node20"
  if [ ! -x "$dir/node_modules/.bin/node" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    step "Installing Node 20.9 for the npm package's tests (npm ci in tests/npm/node20)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/npm/node20 failed"
  fi
}
