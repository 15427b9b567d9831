"""The ledger statements PostgreSQL runs its own way: keys as arrays, not ``VALUES`` lists.

A fan-out writes and claims keys 500 at a time. :mod:`scheduler.ledger` joins a
``VALUES`` list of the keys to the unique key index, which suits SQLite; on
PostgreSQL that statement is 100 kB of text that psycopg parsed again at every
chunk (about a third of a fan-out's CPU). Here the keys go in as one array per
column, ``unnest(:a_subscription, …) AS wanted(subscription, …)``: the statement
text is the same for any number of keys, so SQLAlchemy compiles it once and
psycopg parses it once (the statement objects are built per chunk, which costs
little: SQLAlchemy finds the compiled form by its cache key).
``tests/test_fanout_lanes.py`` checks with ``EXPLAIN`` that the claim is still
one index lookup per key.

:class:`~scheduler.store.Store` calls these on PostgreSQL instead of
:func:`scheduler.ledger.claim` and :func:`scheduler.ledger.ensure`; their
results are the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, and_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.selectable import TableValuedAlias

from scheduler.ledger import KEY_COLS, chunks, claim_statement
from scheduler.ledger_base import DeliveryKey, Status
from scheduler.schema import KEY_COLUMNS, deliveries, key_of, stamp, upsert

_D = deliveries.c


def _array_params(keys: Sequence[DeliveryKey]) -> dict[str, Any]:
    """The key columns of *keys* as one array each (``a_<column>``), for ``unnest``."""
    columns = zip(*keys, strict=True)  # every key has all six columns
    return {f"a_{name}": list(values) for name, values in zip(KEY_COLUMNS, columns, strict=True)}


def _unnested(extra: Sequence[str] = ()) -> TableValuedAlias:
    """``unnest(:a_subscription, …) AS wanted(subscription, …)``: a row per key (and *extra*)."""
    names = [*KEY_COLUMNS, *extra]
    types = {c.name: c.type for c in deliveries.c}
    arrays = [bindparam(f"a_{name}", type_=ARRAY(types[name])) for name in names]
    return func.unnest(*arrays).table_valued(*names).render_derived(name="wanted")


def _claim_by_arrays() -> Update:
    wanted = _unnested()
    on = and_(*(c == wanted.c[c.name] for c in KEY_COLS))
    base = select(_D.id).select_from(wanted).join(deliveries, on)
    owner: ColumnElement[str] = bindparam("c_owner", type_=String)
    now: ColumnElement[str] = bindparam("c_now", type_=String)
    until: ColumnElement[str] = bindparam("c_until", type_=String)
    return claim_statement(base, None, KEY_COLS, owner, now, until)


def _ensure_by_arrays() -> Any:
    wanted = _unnested(["due"])
    columns = [*KEY_COLUMNS, "due", "status", "attempts", "late", "updated_at"]
    rows = select(
        *(wanted.c[name] for name in [*KEY_COLUMNS, "due"]),
        literal(Status.PENDING.value),
        literal(0),
        literal(False),
        bindparam("e_now", type_=String),
    )
    return upsert(deliveries, "postgresql").from_select(columns, rows).on_conflict_do_nothing()


def claim(
    conn: Connection, keys: Sequence[DeliveryKey], owner: str, now: dt.datetime, lease: dt.timedelta
) -> list[DeliveryKey]:
    """:func:`scheduler.ledger.claim` with the keys as arrays: the claimed keys, in order."""
    times = {"c_owner": owner, "c_now": stamp(now), "c_until": stamp(now + lease)}
    got: set[DeliveryKey] = set()
    for chunk in chunks(list(dict.fromkeys(keys))):
        rows = conn.execute(_claim_by_arrays(), {**times, **_array_params(chunk)})
        got.update(key_of(row) for row in rows)
    return [key for key in dict.fromkeys(keys) if key in got]


def ensure(
    conn: Connection, rows: Sequence[tuple[DeliveryKey, dt.datetime]], at: dt.datetime
) -> None:
    """:func:`scheduler.ledger.ensure` with the keys as arrays: pending rows for new keys."""
    if not rows:
        return
    params = _array_params([key for key, _ in rows])
    params["a_due"] = [stamp(due) for _, due in rows]
    conn.execute(_ensure_by_arrays(), {**params, "e_now": stamp(at)})
