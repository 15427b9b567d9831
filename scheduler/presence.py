"""Which daemons sharing a PostgreSQL ledger are alive: one advisory lock each.

A daemon takes a session-level ``pg_advisory_lock`` named after its owner id on
a connection it keeps for its whole life, before it claims anything.
PostgreSQL drops the lock the moment that session ends — a clean exit,
``kill -9``, a crash or a lost host — so when another daemon *can* take the
lock, the owner is gone, and its claimed deliveries go back to pending at once
instead of waiting out their lease. The check and the release happen in one
transaction under ``pg_try_advisory_xact_lock``, so an owner cannot come back
in between.

SQLite needs none of this: one process uses a file, and it releases every claim
it finds when it starts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from scheduler import ledger
from scheduler.ledger_base import Status
from scheduler.schema import deliveries

_D = deliveries.c


def owner_key(owner: str) -> int:
    """The 64-bit advisory lock key of *owner* (a stable hash of its id)."""
    digest = hashlib.blake2b(owner.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Presence:
    """*owner*'s lock on its own PostgreSQL session, held until :meth:`close`."""

    def __init__(self, engine: Engine, owner: str) -> None:
        self.owner = owner
        self._engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # one connection, asked from worker threads
        self._take()

    def _take(self) -> None:
        conn = self._engine.connect()
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": owner_key(self.owner)})
        conn.commit()  # the lock belongs to the session; only the transaction ends
        self._conn = conn

    def held(self) -> bool:
        """True if the session (hence the lock) survived; retake it if it did not.

        False means the lock was lost for a while: other daemons may have put
        this owner's claims back, so claims made before now must not be sent.
        """
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1")).close()
                    self._conn.rollback()
                    return True
                except SQLAlchemyError:  # the session is gone (server restart, network)
                    self._conn.invalidate()
                    self._conn.close()
                    self._conn = None
            self._take()
            return False

    def close(self) -> None:
        """End the session: the lock goes with it."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def release_orphans(conn: Connection, owner: str, at: dt.datetime) -> int:
    """Put back the claims of owners other than *owner* whose lock is free; return how many."""
    others = select(_D.owner).where(_D.status == Status.CLAIMED, _D.owner != owner).distinct()
    released = 0
    for (other,) in conn.execute(others).all():
        free = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": owner_key(other)})
        if free.scalar():
            released += ledger.release(conn, other, at)
    return released
