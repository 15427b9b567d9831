"""The SQL delivery ledger: statements on the ``deliveries`` table, each given a connection.

This is where the typed values of :mod:`scheduler.ledger_base` (kinds,
statuses, datetimes, change keys) become the stored text and back.

:class:`~scheduler.store.Store` wraps every function here in one short
transaction. A claim is one ``WITH picked AS MATERIALIZED (SELECT id ... FOR UPDATE
SKIP LOCKED) UPDATE ... WHERE id IN (SELECT id FROM picked) AND <claimable>
RETURNING`` statement, so two daemons never both own a row (SQLAlchemy leaves
``FOR UPDATE`` out on SQLite, whose writers are serialized). The keys to claim
come in as a ``VALUES`` list (:func:`_by_keys`, compiled once per size by
:class:`_Prepared`), joined to the unique key index; on PostgreSQL
:mod:`scheduler.ledger_postgres` claims and writes keys as arrays instead.

Outcomes are recorded in batches (:func:`mark`): one prepared ``UPDATE ... WHERE
<key> = (:bound)`` executed for every mark of the batch in one transaction
(``executemany``: SQLite steps the one statement, psycopg pipelines it), so a
fan-out pays one commit per batch instead of one per message. Each row is found
through the unique key index, whatever the size of the ledger.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    or_,
    select,
    tuple_,
    update,
    values,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Update

from feeds.formats import parse_instant
from scheduler.ledger_base import (
    LIVE,
    Backlog,
    Delivery,
    DeliveryKey,
    Kind,
    Mark,
    Move,
    Progress,
    Status,
)
from scheduler.schema import KEY_COLUMNS, deliveries, delivery_of, key_of, stamp, upsert

CHUNK = 2000
"""Most bound values in one ``IN`` list (well under SQLite's and PostgreSQL's limits)."""

_D = deliveries.c
KEY_COLS = [deliveries.c[name] for name in KEY_COLUMNS]
"""The key columns of ``deliveries``, in :data:`~scheduler.schema.KEY_COLUMNS` order."""


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """*items* in slices of at most *size* (one statement each)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ``status || ''`` is the status that no index can serve. Without statistics SQLite
# takes ``status = ?`` for a selective index term and would walk every pending row
# rather than look up the few ids or keys it was given.
_STATUS: ColumnElement[str] = _D.status.concat("")


def _claimable(now: str | ColumnElement[str], *, indexed: bool = False) -> ColumnElement[bool]:
    status = _D.status if indexed else _STATUS
    either = or_(
        and_(status == Status.PENDING.value, or_(_D.retry_at.is_(None), _D.retry_at <= now)),
        and_(status == Status.CLAIMED.value, _D.lease_until < now),
    )
    # The IN list only leads the planner to the (status, due) index; it would add
    # nothing to the unindexed form, which runs prepared (no expanding IN there).
    return and_(status.in_(LIVE), either) if indexed else either


@functools.lru_cache(maxsize=4)
def _by_keys(size: int) -> Select[Any]:
    """``SELECT id`` of the rows of *size* keys: the keys joined to the unique key index.

    The keys are a ``WITH wanted(<key columns>) AS (VALUES ...)`` of bound
    parameters (:func:`_key_params` gives their values), so the statement has one
    shape per size and SQLAlchemy compiles it once, not once per chunk. One
    statement per chunk, one index lookup per key (``SEARCH ... USING INDEX
    uq_deliveries_key`` on SQLite, a nested loop over the index on PostgreSQL):
    O(chunk), whatever else the ledger holds. A row-value ``IN`` list would be
    one statement too, but SQLite answers it by scanning the whole index.
    """
    columns = [column(c.name, c.type) for c in KEY_COLS]
    rows = [tuple(bindparam(f"w{n}_{c.name}", type_=c.type) for c in KEY_COLS) for n in range(size)]
    wanted = values(*columns, name="wanted").data(rows).cte("wanted")
    on = and_(*(c == wanted.c[c.name] for c in KEY_COLS))
    return select(_D.id).select_from(wanted).join(deliveries, on)


def _key_params(keys: Sequence[DeliveryKey]) -> dict[str, Any]:
    """The bound values of ``_by_keys(len(keys))`` for *keys*."""
    return {
        f"w{n}_{name}": value
        for n, key in enumerate(keys)
        for name, value in zip(KEY_COLUMNS, key, strict=True)
    }


def ids_of(
    conn: Connection, keys: Sequence[DeliveryKey], statuses: Collection[Status]
) -> list[int]:
    """Row ids of *keys* whose status is in *statuses* (one statement per chunk of keys)."""
    found: list[int] = []
    for chunk in chunks(list(dict.fromkeys(keys))):
        query = _by_keys(len(chunk)).where(_STATUS.in_(statuses))
        found.extend(row[0] for row in conn.execute(query, _key_params(chunk)))
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


def claim_statement(
    base: Select[Any],
    limit: int | None,
    returning: Sequence[ColumnElement[Any]],
    owner: str | ColumnElement[str],
    now: str | ColumnElement[str],
    until: str | ColumnElement[str],
) -> Update:
    """``UPDATE`` the claimable rows of *base* (ids) to claimed by *owner*, ``RETURNING``."""
    # With a limit (claim_due) the (status, due) index is the way in; else the keys are.
    # A MATERIALIZED CTE runs once: a plain IN (subquery) may be rescanned by
    # PostgreSQL, and a rescan with LIMIT would pick further rows.
    picked = (
        base.where(_claimable(now, indexed=limit is not None))
        .order_by(_D.due, _D.id)
        .limit(limit)
        .with_for_update(of=deliveries, skip_locked=True)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(deliveries)
        .where(_D.id.in_(select(picked.c.id)), _claimable(now))
        .values(
            status=Status.CLAIMED.value,
            owner=owner,
            lease_until=until,
            attempts=_D.attempts + 1,
            updated_at=now,
        )
        .returning(*returning)
    )


class _Prepared:
    """A statement compiled once per dialect whose SQL and parameters go to the driver.

    Two uses, both on the path of every message of a fan-out:

    - A statement with a multi-row ``VALUES`` (the keyed claim) has no cache key
      ("no key" in SQLAlchemy's log), so SQLAlchemy compiles it on every
      execution: for a 500-key chunk that was about 80 ms of the daemon's CPU,
      against 2.5 ms for SQLite to run it, and it held the GIL the e-mail lanes
      needed.
    - A cached statement (an outcome mark) still costs SQLAlchemy a cache-key
      walk and a parameter build per execution: 0.2 ms per mark on SQLite,
      against 0.09 ms through the driver.

    The statement may not hold an expanding ``IN`` list (its SQL would depend on
    the values). Only text, integers, booleans and None may be bound, which the
    drivers take as they are (no SQLAlchemy bind processor is applied), and rows
    come back unconverted: the callers read only text and integers.
    """

    def __init__(self, statement: Update) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def _plan(self, conn: Connection) -> _Plan:
        plan = self._plans.get(conn.dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            assert isinstance(compiled, SQLCompiler) and "POSTCOMPILE" not in compiled.string
            plan = self._plans[conn.dialect.name] = _Plan(compiled)
        return plan

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> CursorResult[Any]:
        """Run the statement on *conn* with *params* (by bind key); every key is required."""
        plan = self._plan(conn)
        return conn.exec_driver_sql(plan.sql, plan.args(params))

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set of *rows* (the driver's executemany)."""
        if rows:
            plan = self._plan(conn)
            conn.exec_driver_sql(plan.sql, [plan.args(row) for row in rows])


class _Plan:
    """How one compiled statement takes its parameters: in order (``?``) or by name."""

    def __init__(self, compiled: SQLCompiler) -> None:
        self.sql = compiled.string
        fixed = {n: b.effective_value for b, n in compiled.bind_names.items() if not b.required}
        by_name = {n: b.key for b, n in compiled.bind_names.items() if b.required}
        self._order: list[tuple[str | None, Any]] | None = None
        if compiled.positiontup is not None:  # (key to read, or None and the fixed value)
            self._order = [(by_name.get(n), fixed.get(n)) for n in compiled.positiontup]
        self._fixed = fixed
        self._by_name = list(by_name.items())

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for *params* (by bind key)."""
        if self._order is not None:
            return tuple([params[key] if key is not None else value for key, value in self._order])
        return self._fixed | {name: params[key] for name, key in self._by_name}


@functools.lru_cache(maxsize=4)
def _claim_keys(size: int) -> _Prepared:
    """The claim of *size* keys (:func:`_by_keys`), owner and times bound, ready to run."""
    owner: ColumnElement[str] = bindparam("c_owner", type_=String)
    now: ColumnElement[str] = bindparam("c_now", type_=String)
    until: ColumnElement[str] = bindparam("c_until", type_=String)
    return _Prepared(claim_statement(_by_keys(size), None, KEY_COLS, owner, now, until))


def claim(
    conn: Connection, keys: Sequence[DeliveryKey], owner: str, now: dt.datetime, lease: dt.timedelta
) -> list[DeliveryKey]:
    """Claim the claimable rows among *keys* for *owner*; return the keys claimed, in order.

    Any database; :func:`scheduler.ledger_postgres.claim` is the faster form there.
    """
    times = {"c_owner": owner, "c_now": stamp(now), "c_until": stamp(now + lease)}
    got: set[DeliveryKey] = set()
    for chunk in chunks(list(dict.fromkeys(keys))):
        rows = _claim_keys(len(chunk)).execute(conn, {**times, **_key_params(chunk)})
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
    due = select(_D.id).where(_D.due <= at)
    statement = claim_statement(due, limit, [*deliveries.c], owner, at, stamp(now + lease))
    rows = conn.execute(statement).all()
    return sorted((delivery_of(row) for row in rows), key=lambda d: (d.due, d.key))


_SENT_VALUES: dict[str, Any] = {
    "status": Status.SENT.value,
    "sent_at": bindparam("m_at"),
    "late": bindparam("m_late"),
    "receipt": bindparam("m_receipt"),
    "error": None,
    "lease_until": None,
    "retry_at": None,
    "updated_at": bindparam("m_at"),
}
_FAILED_VALUES: dict[str, Any] = {
    "status": bindparam("m_status"),
    "retry_at": bindparam("m_retry"),
    "error": bindparam("m_error"),
    "owner": None,
    "lease_until": None,
    "updated_at": bindparam("m_at"),
}
_KEY_PARAMS = tuple(f"k_{name}" for name in KEY_COLUMNS)
_BY_KEY = and_(*(column == bindparam(f"k_{column.name}") for column in KEY_COLS))
# Built and compiled once (see _Prepared): SQLAlchemy's own execution of a cached
# UPDATE still cost about 0.1 ms of the daemon's CPU per message in a fan-out.
_MARK_SENT = _Prepared(update(deliveries).where(_BY_KEY).values(_SENT_VALUES))
_MARK_FAILED = _Prepared(update(deliveries).where(_BY_KEY).values(_FAILED_VALUES))


def mark(conn: Connection, marks: Sequence[Mark]) -> None:
    """Record every outcome of *marks*: one statement for the sent, one for the failed."""
    sent: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for m in marks:
        params = dict(zip(_KEY_PARAMS, m.key, strict=True))
        params["m_at"] = stamp(m.at)
        if m.status == Status.SENT:
            params["m_late"], params["m_receipt"] = m.late, m.receipt
            sent.append(params)
        else:
            status = (Status.FAILED if m.retry_at is None else Status.PENDING).value
            retry = None if m.retry_at is None else stamp(m.retry_at)
            params["m_status"], params["m_retry"], params["m_error"] = status, retry, m.error
            failed.append(params)
    _MARK_SENT.execute_many(conn, sent)
    _MARK_FAILED.execute_many(conn, failed)


def mark_sent(
    conn: Connection, key: DeliveryKey, at: dt.datetime, *, late: bool, receipt: str
) -> None:
    """Record that *key* was delivered."""
    mark(conn, [Mark.sent(key, at, late=late, receipt=receipt)])


def mark_failed(
    conn: Connection, key: DeliveryKey, at: dt.datetime, error: str, *, retry_at: dt.datetime | None
) -> None:
    """Record a failed attempt: back to pending until *retry_at*, or failed for good."""
    mark(conn, [Mark.failed(key, at, error, retry_at=retry_at)])


def backlog(conn: Connection, now: dt.datetime) -> Backlog:
    """Rows due by *now* still pending or claimed: how many, and the earliest due.

    Served by the ``(status, due)`` index: O(backlog), not O(ledger).
    """
    query = select(func.count(), func.min(_D.due)).where(_D.status.in_(LIVE), _D.due <= stamp(now))
    count, oldest = conn.execute(query).one()
    return Backlog(int(count), None if oldest is None else parse_instant(oldest))


def progress(conn: Connection, now: dt.datetime) -> list[Progress]:
    """Notices (kind, uid, lead, instant) with rows due by *now* still pending or claimed.

    The notices come from the ``(status, due)`` index; their totals from the
    ``uid`` index, so the cost follows the fan-outs under way, not the ledger.
    """
    notice = [_D.kind, _D.uid, _D.lead_s, _D.instant]
    live = (
        select(*notice)
        .where(_D.status.in_(LIVE), _D.due <= stamp(now))
        .group_by(*notice)
        .subquery("live")
    )
    done = func.sum(case((_STATUS.in_(LIVE), 0), else_=1))
    query = (
        select(*notice, func.min(_D.due), func.count(), done)
        .where(_D.uid.in_(select(live.c.uid)), tuple_(*notice).in_(select(*live.c)))
        .group_by(*notice)
        .order_by(func.min(_D.due), _D.uid)
    )
    return [
        Progress(Kind(row[0]), row[1], int(row[2]), row[3], row[4], int(row[5]), int(row[6] or 0))
        for row in conn.execute(query)
    ]


def mark_skipped(
    conn: Connection, keys: Sequence[DeliveryKey], at: dt.datetime, reason: str
) -> None:
    """Mark the rows of *keys* that are still pending or claimed as skipped, for *reason*."""
    for chunk in chunks(ids_of(conn, keys, LIVE)):
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
