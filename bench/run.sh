#!/usr/bin/env bash
# npm run bench: every benchmark, side by side with its peers in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
node --import tsx bench/wake.ts
