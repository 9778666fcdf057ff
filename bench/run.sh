#!/usr/bin/env bash
# npm run bench: every benchmark, side by side with its peers in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
# bench/proxy.ts and bench/tenants.ts need wrk (the load generator), bench/proxy.ts nginx (a peer),
# both Debian packages: installed when missing (the test suite needs neither)
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx)
if ((${#missing[@]})); then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
# the `ten` binary runs the bundle when it is fresh (bench/tenants.ts times `ten ps`)
node scripts/build-cli.mjs
node --import tsx bench/wake.ts
node --import tsx bench/proxy.ts # also writes docs/benchmarks-proxy.svg
node --import tsx bench/exporter.ts # the metrics exporter on and off
node --import tsx bench/tenants.ts
node --import tsx bench/logs.ts
