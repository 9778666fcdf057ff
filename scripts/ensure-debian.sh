#!/usr/bin/env bash
# Installs Debian packages some tests need, when their program is missing, we are root and apt-get
# is there: chromium for the dashboard's browser test, zsh and fish for the completion test. Never
# fails the caller: when it cannot install, it says why, and the test skips itself with the reason.
# Usage: scripts/ensure-debian.sh PACKAGE=/path/of/its/program ...
#   (npm test runs it through scripts/run-tests.mjs, for the test files that need them)
set -u
export DEBIAN_FRONTEND=noninteractive
LOG=/tmp/ensure-debian.log
for spec in "$@"; do
  pkg="${spec%%=*}" bin="${spec#*=}"
  if [ -x "$bin" ]; then continue; fi
  if [ "$(id -u)" != 0 ]; then echo "ensure-debian: $bin missing and not root: the tests that need $pkg will be skipped" >&2; continue; fi
  if ! command -v apt-get >/dev/null 2>&1; then echo "ensure-debian: $bin missing and no apt-get: the tests that need $pkg will be skipped" >&2; continue; fi
  echo "ensure-debian: installing Debian's $pkg (once)…" >&2
  # the package lists may be missing or stale on a fresh machine: update once, then install
  if ! apt-get install -y -qq --no-install-recommends "$pkg" >>"$LOG" 2>&1; then
    apt-get update -qq >>"$LOG" 2>&1
    apt-get install -y -qq --no-install-recommends "$pkg" >>"$LOG" 2>&1 \
      || { echo "ensure-debian: apt-get install $pkg failed (see $LOG): the tests that need it will be skipped" >&2; continue; }
  fi
  [ -x "$bin" ] && echo "ensure-debian: installed $pkg ($bin)" >&2
done
exit 0
