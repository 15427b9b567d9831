"""Tables, row types and engine set-up of the reminder daemon's store (SQLAlchemy Core).

Every instant is stored as ``YYYY-MM-DDTHH:MM:SSZ`` text in UTC, which sorts
and compares the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool, StaticPool

from feeds.formats import INSTANT, instant_text, parse_instant
from scheduler.errors import ConfigError
from scheduler.ledger_base import Delivery as Delivery
from scheduler.ledger_base import DeliveryKey as DeliveryKey
from scheduler.ledger_base import Kind, Status

STAMP = INSTANT

metadata = MetaData()

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("fetched_at", Text, nullable=False),
    Column("digest", Text, nullable=False),
    Column("timeline_json", Text, nullable=False),
    Index("ix_versions_source_id", "source", "id"),
)

source_status = Table(
    "source_status",
    metadata,
    Column("source", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_attempt", Text),
    Column("last_success", Text),
    Column("last_error", Text),
    Column("failures", Integer, nullable=False, default=0),
)

revisions = Table(
    "revisions",
    metadata,
    Column("uid", Text, primary_key=True),
    Column("sequence", Integer, nullable=False),
    Column("modified", Text),
)

changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("uid", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("old", Text),
    Column("new", Text),
    Column("at", Text, nullable=False),
)

aliases = Table(
    "aliases",
    metadata,
    Column("uid", Text, primary_key=True),
    Column("canonical", Text, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
"""Facts about the store itself, e.g. since when the current meaning model keys reminders."""

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("uid", Text, nullable=False),
    Column("lead_s", Integer, nullable=False),
    Column("instant", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("due", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("owner", Text),
    Column("lease_until", Text),
    Column("retry_at", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("late", Boolean, nullable=False, default=False),
    Column("sent_at", Text),
    Column("receipt", Text),
    Column("error", Text),
    Column("updated_at", Text, nullable=False),
    UniqueConstraint(
        "subscription", "kind", "uid", "lead_s", "instant", "target", name="uq_deliveries_key"
    ),
    Index("ix_deliveries_uid", "uid"),
    Index("ix_deliveries_status_due", "status", "due"),
)

probes = Table(
    "probes",
    metadata,
    Column("owner", Text, primary_key=True),
    Column("at", Text, nullable=False),
)
"""One row per daemon, rewritten by its health probe: proof that the database takes writes."""

KEY_COLUMNS = ("subscription", "kind", "uid", "lead_s", "instant", "target")
"""The columns of a :class:`DeliveryKey`, in order."""

STATUSES = tuple(Status)
"""Every status a ledger row can have."""


class SourceStatus(NamedTuple):
    """How fetching one source went lately."""

    source: str
    etag: str | None
    last_modified: str | None
    last_attempt: str | None
    last_success: str | None
    last_error: str | None
    failures: int


class ChangeRecord(NamedTuple):
    """One change seen in a source: an event ``added``, ``removed`` or ``moved``."""

    source: str
    uid: str
    kind: str
    old: str | None
    new: str | None
    at: str


def stamp(value: dt.datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    Raises ``ValueError`` for a naive datetime.
    """
    return instant_text(value)


def parse_stamp(text: str) -> dt.datetime:
    """Read a stored ``YYYY-MM-DDTHH:MM:SSZ`` instant as an aware UTC datetime."""
    return parse_instant(text)


def key_of(row: Any) -> DeliveryKey:
    """The :class:`DeliveryKey` of a result row that has the key columns."""
    return DeliveryKey(
        row.subscription, Kind(row.kind), row.uid, int(row.lead_s), row.instant, row.target
    )


def delivery_of(row: Any) -> Delivery:
    """A :class:`Delivery` from a result row of the ``deliveries`` table."""
    return Delivery(
        key=key_of(row),
        due=row.due,
        status=Status(row.status),
        attempts=int(row.attempts),
        late=bool(row.late),
        owner=row.owner,
        sent_at=row.sent_at,
        receipt=row.receipt,
        error=row.error,
        retry_at=row.retry_at,
        updated_at=row.updated_at,
    )


_KEY = "service.database"
_FIX = "use sqlite:///path/to/lfx-cal.db or postgresql://user:password@host/dbname"


def parse_database_url(url: str) -> URL:
    """Parse a database URL: SQLite or PostgreSQL (psycopg 3), the one place that decides.

    Raises :class:`~scheduler.errors.ConfigError` for a URL that cannot be parsed
    or names another database.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            "<database>", _KEY, f"cannot parse the database URL: {exc}", _FIX
        ) from exc
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        problem = f"unsupported database {parsed.get_backend_name()!r}"
        raise ConfigError("<database>", _KEY, problem, _FIX)
    return parsed


def shown_database(url: str) -> str:
    """*url* as it may be printed: the password masked as ``***`` (as ``check`` shows it).

    A URL that does not parse still has anything between ``://user:`` and ``@`` masked.
    """
    try:
        return parse_database_url(url).render_as_string(hide_password=True)
    except ConfigError:
        return _PASSWORD.sub(r"\1***@", url)


_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def anchor_sqlite(url: str, base: Path) -> str:
    """*url* with a relative SQLite path made absolute against *base* (the config's folder).

    Other URLs (PostgreSQL, in-memory SQLite) come back unchanged.
    """
    parsed = parse_database_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    anchored = parsed.set(database=str((base / database).resolve()))
    if parsed.drivername == "sqlite":
        return f"sqlite:///{anchored.database}" + url[len(f"sqlite:///{database}") :]
    return anchored.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite *url* (None for PostgreSQL or an in-memory database)."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def upsert(table: Table, dialect: str) -> Any:
    """An ``INSERT`` on *table* that can say ``ON CONFLICT``, in *dialect*'s SQL.

    *dialect* is a connection's or engine's ``dialect.name``: ``postgresql``, else
    SQLite (the only two :func:`parse_database_url` lets through).
    """
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL: a commit reaches the OS at once (a killed process
    # loses nothing) but is synced to disk at checkpoints, not on every commit, which
    # cost 5 ms per send outcome in a fan-out. Only a power cut can undo the last
    # commits (at worst a reminder sent in the last moments is sent again).
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 1 MiB of page cache per connection instead of 2: the daemon keeps several
    # (the pool, the marks', the probe's), the OS caches the file anyway, and the
    # ledger's hot pages (the chunk being claimed, the rows being marked) are few.
    cursor.execute("PRAGMA cache_size=-1024")
    cursor.close()


def _engine(parsed: URL) -> Engine:
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, ImportError) as exc:
        problem = f"no usable driver for {parsed.drivername!r}: {exc}"
        raise ConfigError("<database>", _KEY, problem, _FIX) from exc
    if engine.dialect.is_async:
        engine.dispose()
        raise ConfigError("<database>", _KEY, f"{parsed.drivername!r} is an async driver", _FIX)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def probe_engine(engine: Engine) -> Engine:
    """An engine on *engine*'s database that opens a new connection for every use.

    A health probe must see what the next connection would: an SQLite file made
    immutable still takes writes through connections opened before, and a
    PostgreSQL server that went away may not have broken the pooled ones yet.
    An in-memory SQLite database has only its one connection: *engine* itself.
    """
    if isinstance(engine.pool, StaticPool):
        return engine
    fresh = create_engine(engine.url, poolclass=NullPool)
    if fresh.dialect.name == "sqlite":
        event.listen(fresh, "connect", _sqlite_pragmas)
    return fresh


def open_engine(url: str) -> tuple[str, Engine]:
    """An engine for *url* and its display form (password masked).

    ``postgres://`` and ``postgresql://`` mean psycopg 3; SQLite gets WAL and a
    5 s busy timeout. Raises :class:`~scheduler.errors.ConfigError` for a URL
    that cannot be parsed or names an unsupported database or driver.
    """
    parsed = parse_database_url(url)
    return parsed.render_as_string(hide_password=True), _engine(parsed)
