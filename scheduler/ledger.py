"""The SQL delivery ledger: statements on the ``deliveries`` table, each given a connection.

This is where the typed values of :mod:`scheduler.ledger_base` (kinds,
statuses, datetimes, change keys) become the stored text and back.

:class:`~scheduler.store.Store` wraps every function here in one short
transaction. A claim is one ``WITH picked AS MATERIALIZED (SELECT id ... FOR UPDATE
SKIP LOCKED) UPDATE ... WHERE id IN (SELECT id FROM picked) AND <claimable>
RETURNING`` statement, so two daemons never both own a row (SQLAlchemy leaves
``FOR UPDATE`` out on SQLite, whose writers are serialized).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, func, or_, select, update

from scheduler.ledger_base import LIVE, Delivery, DeliveryKey, Kind, Move, Status
from scheduler.schema import KEY_COLUMNS, deliveries, delivery_of, key_of, stamp, upsert

CHUNK = 2000
"""Most bound values in one ``IN`` list (well under SQLite's and PostgreSQL's limits)."""

_D = deliveries.c
_KEY_COLS = [deliveries.c[name] for name in KEY_COLUMNS]


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ``status || ''`` is the status that no index can serve. Without statistics SQLite
# takes ``status = ?`` for a selective index term and would walk every pending row
# rather than look up the few ids or keys it was given.
_STATUS: ColumnElement[str] = _D.status.concat("")


def _claimable(now: str, *, indexed: bool = False) -> ColumnElement[bool]:
    status = _D.status if indexed else _STATUS
    return and_(
        status.in_(LIVE),
        or_(
            and_(status == Status.PENDING, or_(_D.retry_at.is_(None), _D.retry_at <= now)),
            and_(status == Status.CLAIMED, _D.lease_until < now),
        ),
    )


def _match(key: DeliveryKey) -> ColumnElement[bool]:
    return and_(*(column == value for column, value in zip(_KEY_COLS, key, strict=True)))


def ids_of(
    conn: Connection, keys: Sequence[DeliveryKey], statuses: Collection[Status]
) -> list[int]:
    """Row ids of *keys* whose status is in *statuses*.

    Keys are grouped by everything but the target, so each query is a range scan
    of the unique index (``target IN (...)``), whatever else the ledger holds.
    """
    groups: dict[tuple[object, ...], list[str]] = {}
    for key in dict.fromkeys(keys):
        groups.setdefault(tuple(key[:-1]), []).append(key.target)
    found: list[int] = []
    for prefix, targets in groups.items():
        same = [column == value for column, value in zip(_KEY_COLS[:-1], prefix, strict=True)]
        for chunk in _chunks(targets):
            query = select(_D.id).where(*same, _D.target.in_(chunk), _STATUS.in_(statuses))
            found.extend(row[0] for row in conn.execute(query))
    return found


def ensure(
    conn: Connection, rows: Sequence[tuple[DeliveryKey, dt.datetime]], at: dt.datetime
) -> None:
    """Insert each ``(key, due)`` as a pending row (written at *at*) unless the key is there."""
    now = stamp(at)
    if not rows:
        return
    values = [
        {
            **key._asdict(),
            "due": stamp(due),
            "status": Status.PENDING,
            "attempts": 0,
            "late": False,
            "updated_at": now,
        }
        for key, due in rows
    ]
    conn.execute(upsert(deliveries, conn.dialect.name).on_conflict_do_nothing(), values)


def _claim_where(
    conn: Connection,
    where: ColumnElement[bool],
    owner: str,
    now: str,
    until: str,
    limit: int | None,
    returning: Sequence[ColumnElement[Any]],
) -> Sequence[Row[Any]]:
    # With a limit (claim_due) the (status, due) index is the way in; else the ids are.
    # A MATERIALIZED CTE runs once: a plain IN (subquery) may be rescanned by
    # PostgreSQL, and a rescan with LIMIT would pick further rows.
    picked = (
        select(_D.id)
        .where(where, _claimable(now, indexed=limit is not None))
        .order_by(_D.due, _D.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    statement = (
        update(deliveries)
        .where(_D.id.in_(select(picked.c.id)), _claimable(now))
        .values(
            status=Status.CLAIMED,
            owner=owner,
            lease_until=until,
            attempts=_D.attempts + 1,
            updated_at=now,
        )
        .returning(*returning)
    )
    return conn.execute(statement).all()


def claim(
    conn: Connection, keys: Sequence[DeliveryKey], owner: str, now: dt.datetime, lease: dt.timedelta
) -> list[DeliveryKey]:
    """Claim the claimable rows among *keys* for *owner*; return the keys claimed, in order."""
    at, until = stamp(now), stamp(now + lease)
    ids = ids_of(conn, keys, LIVE)
    got: set[DeliveryKey] = set()
    for chunk in _chunks(ids):
        rows = _claim_where(conn, _D.id.in_(chunk), owner, at, until, None, _KEY_COLS)
        got.update(key_of(row) for row in rows)
    return [key for key in dict.fromkeys(keys) if key in got]


def overdue(conn: Connection, now: dt.datetime, margin: dt.timedelta) -> int:
    """Rows that could have been claimed more than *margin* ago and are still not done."""
    at = stamp(now - margin)
    query = select(func.count()).select_from(deliveries).where(_D.due <= at, _claimable(at))
    return int(conn.execute(query).scalar_one())


def claim_due(
    conn: Connection, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[Delivery]:
    """Claim up to *limit* claimable rows due by *now*, earliest due first."""
    at = stamp(now)
    rows = _claim_where(conn, _D.due <= at, owner, at, stamp(now + lease), limit, [*deliveries.c])
    return sorted((delivery_of(row) for row in rows), key=lambda d: (d.due, d.key))


def mark_sent(
    conn: Connection, key: DeliveryKey, at: dt.datetime, *, late: bool, receipt: str
) -> None:
    """Record that *key* was delivered."""
    conn.execute(
        update(deliveries)
        .where(_match(key))
        .values(
            status=Status.SENT,
            sent_at=stamp(at),
            late=late,
            receipt=receipt,
            error=None,
            lease_until=None,
            retry_at=None,
            updated_at=stamp(at),
        )
    )


def mark_failed(
    conn: Connection, key: DeliveryKey, at: dt.datetime, error: str, *, retry_at: dt.datetime | None
) -> None:
    """Record a failed attempt: back to pending until *retry_at*, or failed for good."""
    status = Status.FAILED if retry_at is None else Status.PENDING
    retry = None if retry_at is None else stamp(retry_at)
    conn.execute(
        update(deliveries)
        .where(_match(key))
        .values(
            status=status,
            retry_at=retry,
            error=error,
            owner=None,
            lease_until=None,
            updated_at=stamp(at),
        )
    )


def mark_skipped(
    conn: Connection, keys: Sequence[DeliveryKey], at: dt.datetime, reason: str
) -> None:
    """Mark the rows of *keys* that are still pending or claimed as skipped, for *reason*."""
    for chunk in _chunks(ids_of(conn, keys, LIVE)):
        conn.execute(
            update(deliveries)
            .where(_D.id.in_(chunk), _STATUS.in_(LIVE))
            .values(
                status=Status.SKIPPED,
                error=reason,
                owner=None,
                lease_until=None,
                updated_at=stamp(at),
            )
        )


def cancel(conn: Connection, uid: str, keep: dt.datetime | None, at: dt.datetime) -> int:
    """Cancel pending rows of *uid* not about the deadline *keep*; return how many.

    With *keep* None every pending row of the uid goes. Otherwise only
    reminders for another deadline go: openings (keyed by the start) and
    ``changed`` alerts (keyed by ``old|new``) stay.
    """
    now = stamp(at)
    where = and_(_D.uid == uid, _STATUS == Status.PENDING)
    if keep is not None:
        where = and_(where, _D.kind == Kind.REMINDER, _D.instant != stamp(keep))
    result = conn.execute(
        update(deliveries).where(where).values(status=Status.CANCELLED, updated_at=now)
    )
    return int(result.rowcount)


def release(conn: Connection, owner: str | None, at: dt.datetime) -> int:
    """Put claimed rows (of *owner*, or everyone's) back to pending at *at*; return how many."""
    now = stamp(at)
    where = _D.status == Status.CLAIMED
    if owner is not None:
        where = and_(where, _D.owner == owner)
    result = conn.execute(
        update(deliveries)
        .where(where)
        .values(status=Status.PENDING, owner=None, lease_until=None, updated_at=now)
    )
    return int(result.rowcount)


def listing(conn: Connection, statuses: Collection[Status] | None, limit: int) -> list[Delivery]:
    """Ledger rows, newest due first, optionally only some statuses."""
    query = select(deliveries).order_by(_D.due.desc(), _D.id.desc()).limit(limit)
    if statuses is not None:
        query = query.where(_D.status.in_(list(statuses)))
    return [delivery_of(row) for row in conn.execute(query)]


def counts(conn: Connection) -> dict[Status, int]:
    """Number of ledger rows per status."""
    query = select(_D.status, func.count()).group_by(_D.status)
    return {Status(status): int(number) for status, number in conn.execute(query)}


def carry_over(
    conn: Connection,
    moves: Sequence[Move],
    since: str,
    at: dt.datetime,
) -> tuple[int, int]:
    """Re-key reminders an earlier model keyed by another instant; no double sends.

    Each :class:`~scheduler.ledger_base.Move` names a reminder: a row of
    the same kind, uid and lead keyed by the legacy instant and last touched
    before *since* (when this model first ran on the store) names the same
    deadline. Rows touched later are this model's own (a legacy instant can
    also be the end of the previous day, a deadline that moved) and are left
    alone. Pending ones are cancelled; for each one already sent (or claimed:
    on the wire), the new key is written as ``skipped`` saying so, so it is
    never claimed. Returns ``(cancelled, carried)``.
    """
    now = stamp(at)
    cancelled = carried = 0
    for move in moves:
        kind, uid, lead_s = move.kind, move.uid, int(move.lead.total_seconds())
        new, legacy = stamp(move.instant), stamp(move.legacy)
        same = and_(
            _D.kind == kind,
            _D.uid == uid,
            _D.lead_s == lead_s,
            _D.instant == legacy,
            _D.updated_at < since,
        )
        result = conn.execute(
            update(deliveries)
            .where(same, _STATUS == Status.PENDING)
            .values(
                status=Status.CANCELLED,
                error=f"re-planned: the same deadline is now keyed {new}",
                updated_at=now,
            )
        )
        cancelled += int(result.rowcount)
        done = conn.execute(
            select(_D.subscription, _D.target, _D.instant, _D.due).where(
                same, _STATUS.in_((Status.SENT, Status.CLAIMED))
            )
        ).all()
        if not done:
            continue
        values = [
            {
                "subscription": row.subscription,
                "kind": kind,
                "uid": uid,
                "lead_s": lead_s,
                "instant": new,
                "target": row.target,
                "due": row.due,
                "status": Status.SKIPPED,
                "attempts": 0,
                "late": False,
                "error": f"already sent for this deadline, keyed {row.instant} before an upgrade",
                "updated_at": now,
            }
            for row in done
        ]
        insert = upsert(deliveries, conn.dialect.name).on_conflict_do_nothing()
        result = conn.execute(insert, values)
        carried += len(values)
    return cancelled, carried
