"""A throwaway PostgreSQL server for the tests (session scoped).

Finds ``initdb``/``pg_ctl`` in /usr/local/bin, /usr/lib/postgresql/*/bin or PATH.
Without them the tests that need PostgreSQL are skipped, unless the environment
sets ``LFX_CAL_REQUIRE_POSTGRES``, in which case they fail. PostgreSQL refuses
to run as root, so under root the server runs as ``nobody``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE = "LFX_CAL_REQUIRE_POSTGRES"


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server at *server_url*; dropped afterwards."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _tool(name: str) -> str | None:
    places = ["/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for place in places:
        path = Path(place) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _missing(message: str) -> None:
    if os.environ.get(REQUIRE):
        pytest.fail(f"{message} (and {REQUIRE} is set)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start PostgreSQL in a temporary directory; yield a ``postgresql://`` URL to it."""
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) not found")
        return
    base = Path(tempfile.mkdtemp(prefix="lfx-cal-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        os.chown(base, 65534, 65534)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    data, log, port = base / "data", base / "server.log", _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, env=env, cwd=base, check=False
        )

    made = run(initdb, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D", str(data))
    if made.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
    options = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    if started.returncode != 0:
        text = log.read_text() if log.exists() else started.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {text[-2000:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
