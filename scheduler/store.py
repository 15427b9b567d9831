"""The reminder daemon's persistent store: SQLite or PostgreSQL through SQLAlchemy Core.

It keeps the last good version of each source, fetch health, change history,
uid aliases and the delivery ledger. Every method is one short transaction and
the store is safe to share between threads (the daemon calls it through
``asyncio.to_thread``) and between daemons on one database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

from feeds.ical import Revision
from feeds.jsonout import timeline_dict, timeline_from_dict
from feeds.model import Timeline
from feeds.public import sane_timeline
from scheduler import ledger, ledger_postgres
from scheduler.ledger_base import (
    Backlog,
    Delivery,
    DeliveryKey,
    Ledger,
    Mark,
    Move,
    Progress,
    Status,
)
from scheduler.presence import Presence, release_orphans
from scheduler.schema import (
    ChangeRecord,
    SourceStatus,
    aliases,
    changes,
    metadata,
    open_engine,
    parse_stamp,
    probe_engine,
    probes,
    revisions,
    settings,
    source_status,
    stamp,
    upsert,
    versions,
)

__all__ = ["ChangeRecord", "Delivery", "DeliveryKey", "SourceStatus", "Store"]


def zones_of(timeline: Timeline) -> dict[str, list[str | None]]:
    """The written zones of a timeline's events by UID (stored next to the JSON contract)."""
    return {e.uid: list(e.zones) for e in timeline.events if e.zones != (None, None)}


def with_zones(timeline: Timeline, zones: Mapping[str, Sequence[str | None]]) -> Timeline:
    """*timeline* with the written zones stored by :func:`zones_of` put back."""
    if not zones:
        return timeline
    events = tuple(
        replace(e, zones=(zones[e.uid][0], zones[e.uid][1])) if e.uid in zones else e
        for e in timeline.events
    )
    return replace(timeline, events=events)


class Store(Ledger):
    """The daemon's database; its delivery ledger is the SQL :class:`~scheduler.ledger_base.Ledger`.

    ``url`` is for display (password masked).
    """

    def __init__(self, url: str) -> None:
        self.url, self._engine = open_engine(url)
        self.is_sqlite: bool = self._engine.dialect.name == "sqlite"
        self._presence: Presence | None = None
        self._probe_engine: Engine | None = None
        self._marking = threading.Lock()
        self._mark_conn: Connection | None = None
        self._serial = threading.Lock() if self.is_sqlite else None
        for attempt in range(3):  # two daemons creating the tables at once may collide
            try:
                metadata.create_all(self._engine, checkfirst=True)
                break
            except DBAPIError:
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        """Close every pooled connection (and end the presence session)."""
        with self._marking:
            if self._mark_conn is not None:
                self._mark_conn.close()
                self._mark_conn = None
        if self._presence is not None:
            self._presence.close()
        if self._probe_engine is not None and self._probe_engine is not self._engine:
            self._probe_engine.dispose()
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _insert(self) -> Any:
        """An ``INSERT ... ON CONFLICT`` builder for this database (see :func:`upsert`)."""
        return partial(upsert, dialect=self._engine.dialect.name)

    # sources / versions

    def last_good(self, source: str) -> tuple[str, Timeline] | None:
        """``(digest, timeline)`` of the newest saved version of *source*, or None.

        The timeline passes :func:`feeds.public.sane_timeline` like a fresh parse,
        so a version saved by an older release cannot bring back control
        characters or calendar-edge dates.
        """
        query = (
            select(versions.c.digest, versions.c.timeline_json)
            .where(versions.c.source == source)
            .order_by(versions.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        data = json.loads(row.timeline_json)
        timeline = with_zones(timeline_from_dict(data), data.get("zones", {}))
        return row.digest, sane_timeline(timeline)

    def save_version(self, source: str, digest: str, timeline: Timeline, at: dt.datetime) -> None:
        """Save a successfully parsed version (nothing happens if it is the newest already)."""
        fetched = stamp(at)
        newest = self.last_good(source)
        if newest is not None and newest[0] == digest:
            return
        row = {
            "source": source,
            "fetched_at": fetched,
            "digest": digest,
            "timeline_json": json.dumps(
                {**timeline_dict(timeline), "zones": zones_of(timeline)}, separators=(",", ":")
            ),
        }
        with self._engine.begin() as conn:
            conn.execute(versions.insert(), row)

    def record_fetch(
        self,
        source: str,
        at: dt.datetime,
        *,
        error: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Record one fetch: a success (``error`` None) or a failure.

        A success sets ``last_success``, clears ``last_error`` and zeroes
        ``failures``; a failure counts one more and keeps ``last_error``.
        ``etag``/``last_modified`` are updated when given, kept otherwise.
        """
        when = stamp(at)
        c = source_status.c
        changes_: dict[str, Any] = {"last_attempt": when}
        if error is None:
            changes_.update(last_success=when, last_error=None, failures=0)
        else:
            changes_.update(last_error=error)
        if etag is not None:
            changes_["etag"] = etag
        if last_modified is not None:
            changes_["last_modified"] = last_modified
        first = {"source": source, **changes_, "failures": 0 if error is None else 1}
        update = {**changes_, "failures": 0 if error is None else c.failures + 1}
        statement = self._insert()(source_status).values(first)
        statement = statement.on_conflict_do_update(index_elements=[c.source], set_=update)
        with self._engine.begin() as conn:
            conn.execute(statement)

    def source_status(self) -> list[SourceStatus]:
        """Fetch health of every source seen, by source name."""
        query = select(source_status).order_by(source_status.c.source)
        with self._engine.connect() as conn:
            return [
                SourceStatus(
                    r.source,
                    r.etag,
                    r.last_modified,
                    r.last_attempt,
                    r.last_success,
                    r.last_error,
                    int(r.failures),
                )
                for r in conn.execute(query)
            ]

    # identity / history

    def aliases(self) -> dict[str, str]:
        """Every alias: uid -> canonical uid."""
        with self._engine.connect() as conn:
            return {r.uid: r.canonical for r in conn.execute(select(aliases))}

    def add_alias(self, uid: str, canonical: str) -> None:
        """Make *uid* an alias of *canonical* (replacing an older alias of *uid*)."""
        statement = self._insert()(aliases).values(uid=uid, canonical=canonical)
        statement = statement.on_conflict_do_update(
            index_elements=[aliases.c.uid], set_={"canonical": canonical}
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    def revisions(self) -> dict[str, Revision]:
        """Every uid's change count and the instant of its last change."""
        with self._engine.connect() as conn:
            return {
                r.uid: Revision(
                    int(r.sequence), None if r.modified is None else parse_stamp(r.modified)
                )
                for r in conn.execute(select(revisions))
            }

    def record_changes(self, records: Sequence[ChangeRecord]) -> None:
        """Append *records* and bump each changed uid's revision once (sequence+1, modified=at).

        ``at`` of a record is ``YYYY-MM-DDTHH:MM:SSZ`` text; a uid's newest ``at`` wins.
        """
        if not records:
            return
        for record in records:
            parse_stamp(record.at)  # ValueError for anything but a stored-form instant
        latest: dict[str, str] = {}
        for record in records:
            latest[record.uid] = max(latest.get(record.uid, record.at), record.at)
        insert = self._insert()(revisions)
        bump = insert.on_conflict_do_update(
            index_elements=[revisions.c.uid],
            set_={"sequence": revisions.c.sequence + 1, "modified": insert.excluded.modified},
        )
        with self._engine.begin() as conn:
            conn.execute(changes.insert(), [r._asdict() for r in records])
            conn.execute(
                bump,
                [{"uid": u, "sequence": 1, "modified": at} for u, at in sorted(latest.items())],
            )

    def changes(self, limit: int = 100) -> list[ChangeRecord]:
        """The newest *limit* change records, newest first."""
        query = select(changes).order_by(changes.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [
                ChangeRecord(r.source, r.uid, r.kind, r.old, r.new, r.at)
                for r in conn.execute(query)
            ]

    # ledger

    @contextlib.contextmanager
    def _one_writer(self) -> Iterator[None]:
        """On SQLite, the writes of a fan-out (ensure, claim, mark) take turns in-process.

        SQLite lets one writer in at a time and makes the others sleep and retry
        (1, 2, 5, 10 ms …, up to busy_timeout): a mark that met the claim of the next
        chunk slept past its end, and an e-mail lane waited on that mark. A lock
        hands the turn over the moment the other write commits. PostgreSQL locks
        rows, not the database: no lock there.
        """
        if self._serial is None:
            yield
            return
        with self._serial:
            yield

    def ensure(self, rows: Sequence[tuple[DeliveryKey, dt.datetime]], at: dt.datetime) -> None:
        """Insert each ``(key, due)`` as pending; keys already in the ledger are left alone."""
        with self._one_writer(), self._engine.begin() as conn:
            (ledger.ensure if self.is_sqlite else ledger_postgres.ensure)(conn, rows, at)

    def claim(
        self, keys: Sequence[DeliveryKey], owner: str, now: dt.datetime, lease: dt.timedelta
    ) -> list[DeliveryKey]:
        """Atomically claim the claimable rows of *keys* until ``now + lease``; return those."""
        with self._one_writer(), self._engine.begin() as conn:
            claim = ledger.claim if self.is_sqlite else ledger_postgres.claim
            return claim(conn, keys, owner, now, lease)

    def claim_due(
        self, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int = 500
    ) -> list[Delivery]:
        """Claim any claimable rows due by *now* (retries, expired leases), earliest first."""
        with self._engine.begin() as conn:
            return ledger.claim_due(conn, owner, now, lease, limit)

    def mark_sent(self, key: DeliveryKey, at: dt.datetime, *, late: bool, receipt: str) -> None:
        """Record that *key* was delivered at *at*."""
        with self._engine.begin() as conn:
            ledger.mark_sent(conn, key, at, late=late, receipt=receipt)

    def mark_failed(
        self, key: DeliveryKey, at: dt.datetime, error: str, *, retry_at: dt.datetime | None
    ) -> None:
        """Record a failure: pending again from *retry_at*, or ``failed`` for good when None."""
        with self._engine.begin() as conn:
            ledger.mark_failed(conn, key, at, error, retry_at=retry_at)

    def mark(self, marks: Sequence[Mark]) -> None:
        """Record every outcome of *marks* (SQLite: one transaction; a naive time: ValueError)."""
        if not marks:
            return
        # One connection kept for the marks: a fan-out writes a batch of marks every
        # millisecond or two, and checking a connection out of the pool and back in
        # (with its reset) per batch cost as much CPU as the UPDATE. A connection
        # that failed is dropped, and the next batch takes a fresh one. On PostgreSQL it
        # runs in autocommit: each mark is one statement on one row, atomic by itself,
        # and psycopg pipelines a batch's statements into one round trip where BEGIN,
        # the statements and COMMIT took three (1 ms per batch, on the lanes' path).
        with self._marking, self._one_writer():
            conn = self._mark_conn
            if conn is None:
                conn = self._engine.connect()
                if not self.is_sqlite:  # see below
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                self._mark_conn = conn
            try:
                with conn.begin():
                    ledger.mark(conn, marks)
            except DBAPIError:
                self._mark_conn = None
                conn.close()
                raise

    def backlog(self, now: dt.datetime) -> Backlog:
        """Deliveries due by *now* and still pending or claimed: how many, the oldest due."""
        with self._engine.connect() as conn:
            return ledger.backlog(conn, now)

    def progress(self, now: dt.datetime) -> list[Progress]:
        """The notices with rows due by *now* still pending or claimed (fan-outs under way)."""
        with self._engine.connect() as conn:
            return ledger.progress(conn, now)

    def mark_skipped(self, keys: Sequence[DeliveryKey], at: dt.datetime, reason: str) -> None:
        """Mark the rows of *keys* still pending or claimed as ``skipped``."""
        stamp(at)
        with self._engine.begin() as conn:
            ledger.mark_skipped(conn, keys, at, reason)

    def cancel(self, uid: str, keep: dt.datetime | None, at: dt.datetime) -> int:
        """Cancel pending reminders of *uid* for another deadline than *keep*.

        With *keep* None, every pending row of *uid* (the row was removed).
        """
        with self._engine.begin() as conn:
            return ledger.cancel(conn, uid, keep, at)

    def carry_over(self, moves: Sequence[Move], at: dt.datetime) -> tuple[int, int]:
        """See :func:`scheduler.ledger.carry_over`: re-key what an earlier model keyed.

        The first call on a store records *at* as the moment the current model
        took over; only rows last touched before it are carried over.
        """
        with self._engine.begin() as conn:
            since = self._setting(conn, "meaning_model_since", stamp(at))
            if not moves:
                return 0, 0
            return ledger.carry_over(conn, moves, since, at)

    def _setting(self, conn: Any, key: str, default: str) -> str:
        """The stored value of *key*, storing *default* first when there is none."""
        conn.execute(
            self._insert()(settings).values(key=key, value=default).on_conflict_do_nothing()
        )
        value: str = conn.execute(
            select(settings.c.value).where(settings.c.key == key)
        ).scalar_one()
        return value

    def release(self, owner: str | None = None, *, at: dt.datetime) -> int:
        """Return claimed rows (of *owner*, or all) to pending at *at*; return how many."""
        with self._engine.begin() as conn:
            return ledger.release(conn, owner, at)

    def hold(self, owner: str) -> bool:
        """PostgreSQL: announce that *owner* is alive (see :mod:`scheduler.presence`).

        Call before claiming anything; later calls return False if the presence
        was lost (and retaken) since the previous call. Always True on SQLite.
        """
        if self.is_sqlite:
            return True
        if self._presence is None:
            self._presence = Presence(self._engine, owner)
            return True
        return self._presence.held()

    def release_orphans(self, owner: str, at: dt.datetime) -> int:
        """PostgreSQL: return the claims of daemons that are gone to pending; how many."""
        if self.is_sqlite:
            return 0
        with self._engine.begin() as conn:
            return release_orphans(conn, owner, at)

    def recover(self, owner: str, at: dt.datetime) -> int:
        """At start-up, put back the claims no live daemon holds; return how many.

        SQLite (one process per file): every claim, a crashed run's. PostgreSQL:
        only those of daemons whose presence lock is gone.
        """
        if self.is_sqlite:
            return self.release(at=at)
        return self.release_orphans(owner, at)

    def deliveries(
        self, *, statuses: Collection[Status] | None = None, limit: int = 200
    ) -> list[Delivery]:
        """Ledger rows, newest due first."""
        with self._engine.connect() as conn:
            return ledger.listing(conn, statuses, limit)

    def probe(self, owner: str, now: dt.datetime, margin: dt.timedelta) -> int:
        """Health probe: write one small row (raises when the database takes no writes).

        It uses a new connection (:func:`~scheduler.schema.probe_engine`). Returns
        the number of deliveries overdue by more than *margin*.
        """
        if self._probe_engine is None:
            self._probe_engine = probe_engine(self._engine)
        values = {"owner": owner[:200], "at": stamp(now)}
        statement = self._insert()(probes).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[probes.c.owner], set_={"at": values["at"]}
        )
        with self._probe_engine.begin() as conn:
            conn.execute(statement)
            return ledger.overdue(conn, now, margin)

    def counts(self) -> dict[Status, int]:
        """Number of ledger rows per status."""
        with self._engine.connect() as conn:
            return ledger.counts(conn)
