#!/usr/bin/env bash
# Runs Schemathesis (every check; coverage, fuzzing and stateful phases)
# against a live server on one backend, seeded with data so the stateful
# links reach real customers and paykeys. The document is first loaded with
# openapi-spec-validator. Exits non-zero on any failure.
#
# Usage: scripts/fuzz-openapi.sh DATABASE_URL [MAX_SECONDS]
#   DATABASE_URL  sqlite://PATH or postgres://… (an empty database)
#   MAX_SECONDS   time budget of the Schemathesis run (default 150)
# Environment: STRADDLE_BIN (default target/debug/straddle),
#   SCHEMATHESIS (default .venv-openapi/bin/schemathesis),
#   FUZZ_REPORT_DIR (default: a temporary directory; JUnit and NDJSON reports),
#   FUZZ_SEED (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

DB_URL="$1"
MAX_SECONDS="${2:-150}"
BIN="${STRADDLE_BIN:-target/debug/straddle}"
SCHEMATHESIS="${SCHEMATHESIS:-.venv-openapi/bin/schemathesis}"
WORK="$(mktemp -d)"
REPORT_DIR="${FUZZ_REPORT_DIR:-$WORK/report}"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

admin() { "$BIN" admin "$@" --database-url "$DB_URL" --secrets-file "$WORK/secrets" --output json; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

admin bootstrap >/dev/null
# An account allowed to unmask, so the `unmasked` operations answer 200 too.
ACCOUNT="$(admin accounts create --name fuzz --allow-unmask | field account_id)"
KEY="$(admin keys create --account "$ACCOUNT" | field api_key)"
"$BIN" admin seed --database-url "$DB_URL" --secrets-file "$WORK/secrets" \
    --account "$ACCOUNT" --customers 20 --paykeys-per-customer 2 >/dev/null 2>&1

"$BIN" serve --addr 127.0.0.1:0 --database-url "$DB_URL" --secrets-file "$WORK/secrets" \
    --background-delay-ms 100 --rate-limit 0 >"$WORK/stdout" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    BASE="$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$WORK/stdout")"
    [ -n "$BASE" ] && break
    sleep 0.2
done
[ -n "$BASE" ] || { echo "server did not start:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }

"$(dirname "$SCHEMATHESIS")/python" tests/openapi/validate_document.py "$BASE/openapi.json"
status=0
"$SCHEMATHESIS" --config-file tests/openapi/schemathesis.toml run "$BASE/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-time "$MAX_SECONDS" \
    --workers 1 \
    --seed "${FUZZ_SEED:-1}" \
    --header "Authorization: Bearer $KEY" \
    --report junit,ndjson --report-dir "$REPORT_DIR" \
    --suppress-health-check too_slow,filter_too_much \
    || status=$?
if [ "$status" -ne 0 ] && grep -q ' 500 \| panicked' "$WORK/server.log"; then
    echo "--- server log (errors)" >&2
    grep -i 'error\|panic' "$WORK/server.log" | tail -20 >&2
fi
exit "$status"
