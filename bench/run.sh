#!/usr/bin/env bash
# npm run bench: every benchmark, side by side with its peers in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
# bench/proxy.ts and bench/tenants.ts need wrk (the load generator), bench/proxy.ts nginx (a peer),
# bench/isolation.ts bubblewrap (the sandbox level), all Debian packages: installed when missing
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if ((${#missing[@]})); then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
# the `ten` binary runs the bundle when it is fresh (bench/tenants.ts times `ten ps`)
node scripts/build-cli.mjs
# every instance runs under build/tenement-init (rebuilt when its source is newer)
node scripts/build-init.mjs
node --import tsx bench/wake.ts
node --import tsx bench/proxy.ts # also writes docs/benchmarks-proxy.svg
node --import tsx bench/exporter.ts # the metrics exporter on and off
node --import tsx bench/tenants.ts
node --import tsx bench/logs.ts
node --import tsx bench/isolation.ts # the isolation levels' start-up cost
