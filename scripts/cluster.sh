#!/usr/bin/env bash
# Starts N instances (default 3) of the server on one local PostgreSQL
# database, behind one address served by HAProxy (installed from the
# distribution when missing), so scale-out can be tried in one command.
#
#   scripts/cluster.sh [N]
#
# Environment:
#   DATABASE_URL   PostgreSQL database (default postgres://postgres@127.0.0.1:5432/straddle_cluster;
#                  created when missing)
#   PORT           the shared address's port (default 8080); instance i listens on PORT+i
#                  and serves its metrics on PORT+100+i
#   CLUSTER_DIR    secrets and logs (default ./data/cluster)
#   STRADDLE_BIN   a built `straddle` binary (default: built here with --release)
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

N=${1:-3}
PORT=${PORT:-8080}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/straddle_cluster}
CLUSTER_DIR=${CLUSTER_DIR:-data/cluster}
mkdir -p "$CLUSTER_DIR"

if [ -z "${STRADDLE_BIN:-}" ]; then
    ensure_rust
    cargo build --release --quiet --bin straddle
    STRADDLE_BIN=target/release/straddle
fi
if ! command -v haproxy >/dev/null 2>&1; then
    echo "==> installing HAProxy"
    as_root apt-get install -y haproxy >/dev/null
fi
if command -v psql >/dev/null 2>&1; then
    db=${DATABASE_URL##*/}
    psql "${DATABASE_URL%/*}/postgres" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
        || psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE $db"
fi

# One pair of secrets for every instance, kept beside the logs (mode 0600).
if [ ! -f "$CLUSTER_DIR/secrets.env" ]; then
    (umask 077 && "$STRADDLE_BIN" admin secrets generate > "$CLUSTER_DIR/secrets.env")
fi
set -a
. "$CLUSTER_DIR/secrets.env"
set +a
export STRADDLE_DATABASE_URL=$DATABASE_URL

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

backends=""
for i in $(seq 1 "$N"); do
    log="$CLUSTER_DIR/instance-$i.log"
    "$STRADDLE_BIN" serve --addr "127.0.0.1:$((PORT + i))" \
        --metrics-addr "127.0.0.1:$((PORT + 100 + i))" \
        --instance-id "straddle-$i" >"$log" 2>&1 &
    pids+=("$!")
    # The first instance creates the platform account on an empty database
    # (bootstrap once); the others start after it is ready.
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$((PORT + i))/ready" >/dev/null 2>&1 && break
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log"; exit 1; }
        sleep 0.2
    done
    backends+="    server straddle-$i 127.0.0.1:$((PORT + i)) check inter 1s fall 2 rise 2"$'\n'
done

cat >"$CLUSTER_DIR/haproxy.cfg" <<EOF
global
    log stderr format short local0 warning
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend straddle
    bind 127.0.0.1:$PORT
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /ready
$backends
EOF
haproxy -f "$CLUSTER_DIR/haproxy.cfg" &
pids+=("$!")

echo "$N instances on $DATABASE_URL behind http://127.0.0.1:$PORT"
echo "  metrics: http://127.0.0.1:$((PORT + 101))/metrics … http://127.0.0.1:$((PORT + 100 + N))/metrics"
echo "  secrets: $CLUSTER_DIR/secrets.env; logs: $CLUSTER_DIR/instance-*.log"
if key=$(grep -h '^eyJ' "$CLUSTER_DIR"/instance-1.log); then
    echo "  API key of the new platform account (shown once): $key"
else
    echo "  the database already had an account; make a key with:"
    echo "    set -a; . $CLUSTER_DIR/secrets.env; set +a; $STRADDLE_BIN admin keys create --database-url $DATABASE_URL --account ACCOUNT_ID"
fi
echo "Ctrl-C stops the cluster."
wait
