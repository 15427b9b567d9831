"""Daemons sharing PostgreSQL: a killed daemon's claims come back at once, not after the lease."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scheduler.store import DeliveryKey, Store
from tests._postgres import fresh_database

T0 = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
KEYS = [
    DeliveryKey("team", "reminder", "e@lfx-cal", 86400, "2030-03-02T12:00:00Z", f"slack:#c{n}")
    for n in range(5)
]
CHILD = """
import sys, time
from scheduler.store import Store
from tests.test_presence import KEYS, LEASE, T0
store = Store(sys.argv[1])
store.hold("child")
print(len(store.claim(KEYS, "child", T0, LEASE)), flush=True)
time.sleep(120)
"""


@pytest.fixture
def url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as fresh:
        yield fresh


def test_a_killed_daemons_claims_are_released_by_the_survivor(url: str) -> None:
    root = Path(__file__).resolve().parent.parent
    with Store(url) as survivor:
        assert survivor.hold("survivor")
        survivor.ensure([(k, T0) for k in KEYS], T0)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True, cwd=root
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "5"
            assert survivor.release_orphans("survivor", T0) == 0  # alive: its claims stand
            assert survivor.claim(KEYS, "survivor", T0, LEASE) == []
        finally:
            child.kill()  # SIGKILL: no clean-up runs in the child
            child.wait()
        released = 0
        for _ in range(50):  # the server notices the closed socket within moments
            released += survivor.release_orphans("survivor", T0)
            if released:
                break
            time.sleep(0.1)
        assert released == 5
        assert survivor.claim(KEYS, "survivor", T0, LEASE) == KEYS  # well before the lease ends


def test_a_lost_presence_is_reported_once_and_retaken(url: str) -> None:
    with Store(url) as store, Store(url) as other:
        assert store.hold("a") and store.hold("a")
        store.ensure([(k, T0) for k in KEYS], T0)
        assert store.claim(KEYS, "a", T0, LEASE) == KEYS
        admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:  # the server drops the presence session
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype ="
                    " 'advisory' AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            ).scalar()
        admin.dispose()
        assert ended == 1
        assert other.release_orphans("b", T0) == 5  # meanwhile "a" looks gone
        assert store.hold("a") is False  # so "a" must not send what it claimed before
        assert store.hold("a") is True
        assert other.release_orphans("b", T0) == 0


def test_sqlite_needs_no_presence(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        assert store.hold("a") and store.hold("a")
        store.ensure([(k, T0) for k in KEYS], T0)
        assert store.claim(KEYS, "a", T0, LEASE) == KEYS
        assert store.release_orphans("b", T0) == 0
