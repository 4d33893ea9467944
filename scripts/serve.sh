#!/usr/bin/env bash
# Starts the server on the embedded SQLite default (./data/straddle.db).
# Extra arguments go to `straddle serve` (see `straddle serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_rust
exec cargo run --release --quiet --bin straddle -- serve "$@"
