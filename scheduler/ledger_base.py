"""The delivery ledger's interface: what the daemon and its courier need from a store.

Modelled on APScheduler 3.x's ``BaseJobStore``: one abstract base class,
:class:`Ledger`, with one documented method per operation, and the value types
those methods take and return. Callers hand it typed values — a :class:`Kind`,
a :class:`Status`, aware ``datetime`` instants, a :class:`ChangeKey` — and the
backend (:class:`scheduler.store.Store`, SQL through :mod:`scheduler.ledger`)
turns them into stored text in one place.

The protocol, for one delivery: :meth:`Ledger.ensure` writes the row as
``pending``; :meth:`Ledger.claim` (or :meth:`Ledger.claim_due` for retries and
expired leases) makes it ``claimed`` by one owner until a lease ends; the
courier sends and records the outcome with :meth:`Ledger.mark` (a batch of
:class:`Mark` values in one transaction; :meth:`Ledger.mark_sent` and
:meth:`Ledger.mark_failed` record one) or :meth:`Ledger.mark_skipped`. A
claimed key is never claimed again before its lease ends, so a key is sent at
most once per lease, whatever the number of daemons.

Marks are batched, not deferred: the courier hands each outcome to a group
commit and waits for it before the same connection sends its next message, so a
``kill -9`` can repeat only the messages whose outcome was not yet committed —
at most one per connection, the ones on the wire.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import NamedTuple

from feeds.formats import instant_text, parse_instant
from notifiers.message import Kind

__all__ = [
    "LIVE",
    "Backlog",
    "ChangeKey",
    "Delivery",
    "DeliveryKey",
    "Kind",
    "Ledger",
    "Mark",
    "Move",
    "Progress",
    "Status",
]


class Status(StrEnum):
    """Where a ledger row stands (the values are what the database stores)."""

    PENDING = "pending"
    """Written, not yet claimed (or waiting for its ``retry_at`` after a failure)."""
    CLAIMED = "claimed"
    """Owned by one daemon until its lease ends; being sent."""
    SENT = "sent"
    """Delivered (possibly late)."""
    FAILED = "failed"
    """Failed for good: a permanent error or too many attempts."""
    SKIPPED = "skipped"
    """Never to be sent: too late, the event moved, or already sent under an older key."""
    CANCELLED = "cancelled"
    """Withdrawn before it was claimed: its deadline moved or its row was removed."""


LIVE = (Status.PENDING, Status.CLAIMED)
"""The statuses of a row that may still be sent."""

_NONE = "-"


class ChangeKey(NamedTuple):
    """What a ``changed`` alert is about: the dates before and after (None: no row).

    Its :attr:`text` (``old|new``, ``-`` for none) is the ``instant`` of the
    alert's :class:`DeliveryKey`; :meth:`parse` reads it back.
    """

    old: str | None
    new: str | None

    @property
    def text(self) -> str:
        """The stored form: ``old|new``, ``-`` for a side that has no row."""
        return f"{self.old or _NONE}|{self.new or _NONE}"

    @classmethod
    def parse(cls, text: str) -> ChangeKey:
        """The change a stored ``old|new`` text names."""
        old, _, new = text.partition("|")
        return cls(None if old == _NONE else old, None if new == _NONE else new)


class DeliveryKey(NamedTuple):
    """What makes one delivery unique: who gets which notice about which instant, where.

    ``instant`` is the stored identity: a ``YYYY-MM-DDTHH:MM:SSZ`` instant, or
    a change's ``old|new`` text for kind ``changed``. Build keys with
    :meth:`of` and read them with :attr:`at` / :attr:`change`.
    """

    subscription: str
    kind: Kind
    uid: str
    lead_s: int
    instant: str
    target: str

    @classmethod
    def of(
        cls,
        subscription: str,
        kind: Kind,
        uid: str,
        lead: dt.timedelta,
        about: dt.datetime | ChangeKey,
        target: str,
    ) -> DeliveryKey:
        """The key of a notice about an instant (or, for ``changed``, a change)."""
        instant = about.text if isinstance(about, ChangeKey) else instant_text(about)
        return cls(subscription, kind, uid, int(lead.total_seconds()), instant, target)

    @property
    def at(self) -> dt.datetime:
        """The instant this notice is about (not for kind ``changed``)."""
        return parse_instant(self.instant)

    @property
    def change(self) -> ChangeKey:
        """The change a ``changed`` alert is about."""
        return ChangeKey.parse(self.instant)


class Delivery(NamedTuple):
    """One ledger row, as stored (instants as ``YYYY-MM-DDTHH:MM:SSZ`` text)."""

    key: DeliveryKey
    due: str
    status: Status
    attempts: int
    late: bool
    owner: str | None
    sent_at: str | None
    receipt: str | None
    error: str | None
    retry_at: str | None
    updated_at: str

    @property
    def due_at(self) -> dt.datetime:
        """When the delivery was due, as an aware UTC datetime."""
        return parse_instant(self.due)


class Move(NamedTuple):
    """A reminder an earlier model keyed by another instant (see :meth:`Ledger.carry_over`)."""

    kind: Kind
    uid: str
    lead: dt.timedelta
    instant: dt.datetime
    """The instant the current model keys it by."""
    legacy: dt.datetime
    """The instant the earlier model keyed it by."""


class Mark(NamedTuple):
    """One send's outcome to record (build with :meth:`sent` or :meth:`failed`)."""

    key: DeliveryKey
    at: dt.datetime
    status: Status
    """SENT; PENDING (a failed attempt, retried from ``retry_at``); or FAILED for good."""
    late: bool = False
    receipt: str | None = None
    error: str | None = None
    retry_at: dt.datetime | None = None

    @classmethod
    def sent(cls, key: DeliveryKey, at: dt.datetime, *, late: bool, receipt: str) -> Mark:
        """*key* was delivered at *at* (``late`` when after its due time)."""
        return cls(key, at, Status.SENT, late=late, receipt=receipt)

    @classmethod
    def failed(
        cls, key: DeliveryKey, at: dt.datetime, error: str, *, retry_at: dt.datetime | None
    ) -> Mark:
        """A failed attempt: pending again from *retry_at*, or failed for good when None."""
        status = Status.FAILED if retry_at is None else Status.PENDING
        return cls(key, at, status, error=error, retry_at=retry_at)


class Backlog(NamedTuple):
    """Deliveries due and not yet done (pending or claimed, due by some instant)."""

    rows: int
    oldest_due: dt.datetime | None
    """The earliest due time among them (None when there are none)."""


class Progress(NamedTuple):
    """A notice being fanned out: one (kind, uid, lead, instant) with rows still to send."""

    kind: Kind
    uid: str
    lead_s: int
    instant: str
    first_due: str
    total: int
    """Rows of this notice in the ledger (every subscription target)."""
    done: int
    """Rows sent, failed, skipped or cancelled."""

    @property
    def left(self) -> int:
        """Rows still pending or claimed."""
        return self.total - self.done


class Ledger(ABC):
    """What the daemon and its courier need from the delivery ledger.

    Every method is one short transaction, safe to call from several threads
    and from several daemons on one database. Instants are aware datetimes
    (stored in UTC, whole seconds); a naive one raises ``ValueError``. Nothing
    here reads the wall clock: every "now" is the caller's (the daemon's
    injected clock).
    """

    @abstractmethod
    def ensure(self, rows: Sequence[tuple[DeliveryKey, dt.datetime]], at: dt.datetime) -> None:
        """Write each ``(key, due)`` as a pending row, at *at*, unless the key is already there.

        A key already in the ledger (whatever its status) is left alone.
        """

    @abstractmethod
    def claim(
        self, keys: Sequence[DeliveryKey], owner: str, now: dt.datetime, lease: dt.timedelta
    ) -> list[DeliveryKey]:
        """Atomically claim the claimable rows of *keys* for *owner* until ``now + lease``.

        Claimable: pending (and past any ``retry_at``), or claimed with an
        expired lease. Returns the keys claimed, in the order of *keys*.
        """

    @abstractmethod
    def claim_due(
        self, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int = 500
    ) -> list[Delivery]:
        """Claim up to *limit* claimable rows due by *now* (retries, expired leases).

        Returns them earliest due first.
        """

    @abstractmethod
    def mark_sent(self, key: DeliveryKey, at: dt.datetime, *, late: bool, receipt: str) -> None:
        """Record that *key* was delivered at *at* (``late`` when after its due time)."""

    @abstractmethod
    def mark_failed(
        self, key: DeliveryKey, at: dt.datetime, error: str, *, retry_at: dt.datetime | None
    ) -> None:
        """Record a failed attempt: pending again from *retry_at*, or failed for good when None."""

    def mark(self, marks: Sequence[Mark]) -> None:
        """Record every outcome of *marks* in one transaction (a batch of sends).

        The default records them one by one; SQL backends override it.
        """
        for m in marks:
            if m.status == Status.SENT:
                self.mark_sent(m.key, m.at, late=m.late, receipt=m.receipt or "")
            else:
                self.mark_failed(m.key, m.at, m.error or "", retry_at=m.retry_at)

    @abstractmethod
    def backlog(self, now: dt.datetime) -> Backlog:
        """How many deliveries are due by *now* and still pending or claimed, and the oldest."""

    @abstractmethod
    def progress(self, now: dt.datetime) -> list[Progress]:
        """The notices with rows due by *now* still pending or claimed (fan-outs under way)."""

    @abstractmethod
    def mark_skipped(self, keys: Sequence[DeliveryKey], at: dt.datetime, reason: str) -> None:
        """Mark the rows of *keys* that are still pending or claimed as skipped, for *reason*."""

    @abstractmethod
    def cancel(self, uid: str, keep: dt.datetime | None, at: dt.datetime) -> int:
        """Cancel pending rows of *uid*; return how many.

        With *keep* None every pending row of *uid* goes (the row was removed).
        Otherwise only reminders about another deadline than *keep* go: openings,
        "today" notices and change alerts stay.
        """

    @abstractmethod
    def carry_over(self, moves: Sequence[Move], at: dt.datetime) -> tuple[int, int]:
        """Re-key reminders an earlier model keyed by another instant; no double sends.

        The first call on a ledger records *at* as the moment the current model
        took over; only rows last touched before it are carried over. Pending
        ones are cancelled; for each one already sent or claimed, the new key is
        written as skipped. Returns ``(cancelled, carried)``.
        """

    @abstractmethod
    def release(self, owner: str | None = None, *, at: dt.datetime) -> int:
        """Put claimed rows (of *owner*, or everyone's) back to pending at *at*; how many."""

    @abstractmethod
    def hold(self, owner: str) -> bool:
        """Announce that *owner* is alive before it claims anything.

        Later calls return False when that presence was lost (and retaken) since
        the previous call: what *owner* claimed before may have been taken over.
        A backend with one process per ledger always returns True.
        """

    @abstractmethod
    def release_orphans(self, owner: str, at: dt.datetime) -> int:
        """Put back the claims of owners (other than *owner*) that are gone; how many."""

    @abstractmethod
    def recover(self, owner: str, at: dt.datetime) -> int:
        """At start-up: put back the claims no live daemon holds any more; how many.

        Where one process owns the ledger every open claim is a crashed run's;
        where several may share it, only those of owners that are gone.
        """

    @abstractmethod
    def deliveries(
        self, *, statuses: Collection[Status] | None = None, limit: int = 200
    ) -> list[Delivery]:
        """Ledger rows, newest due first, optionally only those with one of *statuses*."""

    @abstractmethod
    def counts(self) -> dict[Status, int]:
        """Number of ledger rows per status."""

    @abstractmethod
    def probe(self, owner: str, now: dt.datetime, margin: dt.timedelta) -> int:
        """Health probe: write one small row; return how many deliveries are overdue.

        Overdue: claimable for more than *margin* and still not done. Raises when
        the ledger takes no writes.
        """
