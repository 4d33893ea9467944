#!/usr/bin/env bash
# Runs the whole test suite: Rust unit and HTTP integration tests, then the
# official Python SDK conformance suite, each on SQLite and on PostgreSQL.
#
# PostgreSQL: STRADDLE_TEST_DATABASE_URL if set, else postgres://postgres@127.0.0.1:5432/test.
# When none answers, the script starts or installs a local one where it can
# (Debian/Ubuntu, as root or with sudo); otherwise it says how to run that part.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_rust

PG_URL="${STRADDLE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

pg_answers() {
    local hostport="${PG_URL#*@}"; hostport="${hostport%%/*}"
    local host="${hostport%%:*}" port="${hostport##*:}"
    [ "$port" = "$hostport" ] && port=5432
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

start_or_install_postgres() {
    if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
        echo "==> starting the local PostgreSQL cluster"
        as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    elif command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
        echo "==> installing PostgreSQL from the distribution's packages"
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        local version; version="$(ls /etc/postgresql | head -n1)"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" || true
        as_root su postgres -c "createdb test" 2>/dev/null || true
        PG_URL="postgres://postgres:postgres@127.0.0.1:5432/test"
    fi
    for _ in $(seq 1 30); do pg_answers && return 0; sleep 1; done
    return 1
}

ensure_python_venv() {
    if ! command -v python3 >/dev/null 2>&1; then
        echo "==> installing Python 3 from the distribution's packages"
        as_root apt-get update -qq && as_root apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "==> creating the Python virtualenv for the SDK conformance suite"
        python3 -m venv .venv 2>/dev/null || {
            as_root apt-get install -y -qq python3-venv >/dev/null && python3 -m venv .venv
        }
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/conformance/requirements.txt
}

# The current official SDK (webhook verification) in a virtualenv of its own.
ensure_python_venv_sdk1() {
    [ -x .venv-sdk1/bin/python ] || python3 -m venv .venv-sdk1
    .venv-sdk1/bin/python -m pip install -q --disable-pip-version-check \
        -r tests/conformance/requirements-sdk1.txt "$(grep '^pytest==' tests/conformance/requirements.txt)"
}

# Drops databases left behind by interrupted PostgreSQL test runs.
drop_stale_test_databases() {
    command -v psql >/dev/null 2>&1 || return 0
    for db in $(psql "$PG_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'straddle_test_%'" 2>/dev/null); do
        psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
}

echo "==> building"
cargo build --workspace --all-targets --locked

echo "==> Rust tests on SQLite"
env -u STRADDLE_TEST_DATABASE_URL cargo test --workspace --locked

ensure_python_venv
echo "==> Python SDK (straddle==0.5.0) conformance on SQLite"
env -u STRADDLE_TEST_DATABASE_URL .venv/bin/python -m pytest -q tests/conformance
ensure_python_venv_sdk1
echo "==> Python SDK (straddle[webhooks]==1.0.5) webhooks on SQLite"
env -u STRADDLE_TEST_DATABASE_URL .venv-sdk1/bin/python -m pytest -q tests/conformance/test_webhooks_sdk1.py

if pg_answers || start_or_install_postgres; then
    drop_stale_test_databases
    echo "==> Rust tests on PostgreSQL ($PG_URL)"
    STRADDLE_TEST_DATABASE_URL="$PG_URL" cargo test --workspace --locked
    echo "==> Python SDK conformance on PostgreSQL"
    STRADDLE_TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest -q tests/conformance
    STRADDLE_TEST_DATABASE_URL="$PG_URL" .venv-sdk1/bin/python -m pytest -q tests/conformance/test_webhooks_sdk1.py
    drop_stale_test_databases
else
    cat >&2 <<MSG
==> PostgreSQL suite NOT run: nothing answers at $PG_URL and this script could
    not start or install PostgreSQL here. To run it, start a PostgreSQL server
    and point the tests at a database the user may create databases in:
      STRADDLE_TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB scripts/test.sh
MSG
    if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
# Bridge widget end to end: the published @straddlecom/bridge-react host
# component, on a page of its own origin, drives the widget the real binary
# serves, in headless Chromium (Debian's package; playwright-core only drives
# it). Screenshots of every step are kept in e2e/widget/artifacts/.
if [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Chromium from the distribution's packages"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "==> installing Node.js and npm from the distribution's packages"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || true
fi
command -v npm >/dev/null 2>&1 || { echo "==> the widget end-to-end test needs Node.js 20+ and npm; install them and run scripts/test.sh again" >&2; exit 1; }
echo "==> Bridge widget end to end (headless Chromium)"
(cd e2e/widget && npm ci --no-audit --no-fund --loglevel=error && npm test)
echo "==> all suites passed"
