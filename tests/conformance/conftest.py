"""Fixtures that start our server and hand out official-SDK clients for it.

The suite drives the real binary: `admin` subcommands create accounts and keys,
`serve` runs the API on a free port. Every client validates responses strictly,
so any response the SDK's types cannot parse fails the test. The suite runs with
`straddle==0.5.0` (.venv) and `straddle==1.0.5` (.venv-sdk1); see sdk.py.

Environment:
    STRADDLE_BIN                 server binary (default: <repo>/target/debug/straddle)
    STRADDLE_TEST_DATABASE_URL   postgres:// URL to use instead of a fresh SQLite file
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import straddle

import sdk

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / "target" / "debug" / "straddle"

STARTUP_TIMEOUT_S = 60
SHUTDOWN_TIMEOUT_S = 10
ADMIN_TIMEOUT_S = 60
BACKGROUND_DELAY_MS = "200"

LISTENING_LINE = re.compile(r"^listening on (http://\S+)$")


@dataclass(frozen=True)
class Server:
    binary: Path
    database_url: str
    base_url: str
    log_path: Path
    platform_account_id: str
    platform_api_key: str

    def admin(self, *args: str) -> dict:
        return run_admin(self.binary, self.database_url, *args)

    def connect(self, api_key: str) -> straddle.Straddle:
        """An SDK client for this server that validates every response strictly."""
        return sdk.connect(
            api_key=api_key,
            base_url=self.base_url,
            _strict_response_validation=True,
            max_retries=0,
        )


def run_admin(binary: Path, database_url: str, *args: str) -> dict:
    """Run `straddle admin ARGS --database-url URL --output json` and parse its stdout."""
    command = [str(binary), "admin", *args, "--database-url", database_url, "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=ADMIN_TIMEOUT_S, check=False)
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"`{' '.join(command)}` did not print JSON on stdout:\n{result.stdout}", pytrace=False)


def _binary() -> Path:
    binary = Path(os.environ.get("STRADDLE_BIN", DEFAULT_BINARY))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"server binary not found at {binary}; run `cargo build` or set STRADDLE_BIN", pytrace=False)
    return binary


def _database_url(tmp_dir: Path) -> str:
    """A fresh database for the session: a new PostgreSQL database beside
    STRADDLE_TEST_DATABASE_URL (created with psql, dropped by scripts/test.sh),
    else an SQLite file."""
    base = os.environ.get("STRADDLE_TEST_DATABASE_URL")
    if not base:
        return f"sqlite://{tmp_dir / 'straddle.db'}"
    name = f"straddle_test_{uuid.uuid4().hex}"
    subprocess.run(["psql", base, "-qc", f"CREATE DATABASE {name}"], check=True)
    return f"{base.rsplit('/', 1)[0]}/{name}"


def _forward_lines(stream, lines: queue.Queue) -> None:
    """Keep reading the server's stdout so the pipe never fills; None marks EOF."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for_listening_line(process: subprocess.Popen, log_path: Path) -> str:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_forward_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        line = lines.get(timeout=STARTUP_TIMEOUT_S)
    except queue.Empty:
        line = None
    match = LISTENING_LINE.match(line or "")
    if match is None:
        process.kill()
        process.wait()
        pytest.fail(
            f"server did not announce `listening on http://HOST:PORT` (first stdout line: {line!r})\n"
            f"stderr tail:\n{_tail(log_path)}",
            pytrace=False,
        )
    return match.group(1)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = _binary()
    tmp_dir = tmp_path_factory.mktemp("straddle")
    database_url = _database_url(tmp_dir)
    platform = run_admin(binary, database_url, "bootstrap")

    log_path = tmp_dir / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--database-url",
                database_url,
                "--environment",
                "sandbox",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "STRADDLE_BACKGROUND_DELAY_MS": BACKGROUND_DELAY_MS},
        )
    try:
        base_url = _wait_for_listening_line(process, log_path)
        yield Server(
            binary=binary,
            database_url=database_url,
            base_url=base_url,
            log_path=log_path,
            platform_account_id=platform["account_id"],
            platform_api_key=platform["api_key"],
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[straddle.Straddle]:
    """A client for the bootstrap platform, which may not unmask."""
    with server.connect(server.platform_api_key) as sdk:
        yield sdk


@pytest.fixture(scope="session")
def unmasking_client(server: Server) -> Iterator[straddle.Straddle]:
    """A client for a second platform account, created with `--allow-unmask`."""
    account = server.admin("accounts", "create", "--name", f"unmasking-{uuid.uuid4().hex[:8]}", "--allow-unmask")
    key = server.admin("keys", "create", "--account", account["account_id"])
    with server.connect(key["api_key"]) as sdk:
        yield sdk


@pytest.fixture(scope="session")
def embedded_account_id(server: Server) -> str:
    """An embedded account under the bootstrap platform (for `Straddle-Account-Id`)."""
    account = server.admin(
        "accounts", "create", "--name", f"embedded-{uuid.uuid4().hex[:8]}", "--parent", server.platform_account_id
    )
    return account["account_id"]
