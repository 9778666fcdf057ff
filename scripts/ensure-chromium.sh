#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (test/e2e/dashboard.test.ts) when
# /usr/bin/chromium is missing, we are root and apt-get is there. Never fails the caller: when it
# cannot install, it says why, and the test skips itself with the reason.
# Usage: scripts/ensure-chromium.sh   (npm test runs it through scripts/run-tests.mjs)
set -u
BIN=/usr/bin/chromium
if [ -x "$BIN" ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "ensure-chromium: $BIN missing and not root: the browser test will be skipped" >&2; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "ensure-chromium: $BIN missing and no apt-get: the browser test will be skipped" >&2; exit 0; fi
echo "ensure-chromium: installing Debian's chromium (once)…" >&2
export DEBIAN_FRONTEND=noninteractive
# the package lists may be missing or stale on a fresh machine: update once, then install
if ! apt-get install -y -qq --no-install-recommends chromium >/tmp/ensure-chromium.log 2>&1; then
  apt-get update -qq >>/tmp/ensure-chromium.log 2>&1
  apt-get install -y -qq --no-install-recommends chromium >>/tmp/ensure-chromium.log 2>&1 \
    || { echo "ensure-chromium: apt-get install chromium failed (see /tmp/ensure-chromium.log): the browser test will be skipped" >&2; exit 0; }
fi
[ -x "$BIN" ] && echo "ensure-chromium: installed $($BIN --version 2>/dev/null)" >&2
exit 0
