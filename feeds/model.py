"""The frozen event type that flows through lfx-cal, and the values around it.

An :class:`Event` is one dated row of a term timeline. Each endpoint is either a
:class:`datetime.date` (the document gives no time for it) or an aware
:class:`datetime.datetime` in UTC (it does). ``end`` is inclusive: the last day
or the closing instant as written, or ``None`` for a single point in time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from feeds import formats
from feeds.zones import as_instant, local_date

__all__ = [
    "CATEGORIES",
    "Endpoint",
    "Event",
    "Notice",
    "Term",
    "Timeline",
    "as_instant",
    "endpoint_text",
    "is_instant",
    "local_date",
]

Endpoint = dt.date | dt.datetime
"""A calendar date (no time given) or an aware UTC instant."""

CATEGORIES: tuple[str, ...] = (
    "proposal",
    "application",
    "review",
    "selection",
    "program-start",
    "kickoff",
    "info-session",
    "evaluation",
    "stipend",
    "program-end",
    "results",
    "other",
)
"""Every category an event can carry, in timeline order."""


def is_instant(value: Endpoint) -> bool:
    """Return True when *value* is a UTC instant rather than a calendar date."""
    return isinstance(value, dt.datetime)


def endpoint_text(value: Endpoint) -> str:
    """Format an endpoint as ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` (see feeds.formats)."""
    return formats.endpoint_text(value)


@dataclass(frozen=True, slots=True)
class Term:
    """A mentorship term: ``id`` like ``lfx-2025-t3``; year/number when known."""

    id: str
    year: int | None = None
    number: int | None = None
    title: str = ""
    first_month: int | None = None
    last_month: int | None = None
    months_written: bool = False
    """True when the months come from the document, not from the term number."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning about one line of a source document (line 0: the whole document).

    ``code`` marks warnings an operator must see at once: ``"weekday"`` when a
    printed weekday contradicts the chosen date (see :func:`weekday_doubts`).
    """

    line: int
    message: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One dated timeline row, normalized. Immutable and hashable."""

    uid: str
    term: str
    title: str
    start: Endpoint
    end: Endpoint | None = None
    categories: tuple[str, ...] = ("other",)
    notes: tuple[str, ...] = ()
    line: int = 0
    source: str = ""
    zones: tuple[str | None, str | None] = field(default=(None, None), compare=False)
    """The zone (IANA name, ``UTC``, ``Etc/GMT+12`` for AoE) each endpoint's time was
    written in: (start, end). None for a date, or when the loader could not tell;
    only the calendar's printed days use it (:func:`feeds.meaning.written_day`).
    Not part of the JSON contract, and not compared by change detection."""

    @property
    def deadline(self) -> Endpoint:
        """The moment the row is about: the end of a period, else its start."""
        return self.start if self.end is None else self.end

    @property
    def is_period(self) -> bool:
        """True when the row spans from a start to a (later) end."""
        return self.end is not None

    def deadline_at(self, zone: ZoneInfo) -> dt.datetime:
        """The deadline as a UTC instant; a date-only deadline is the start of that day.

        This is the *value*, not what it means: when a row closes, is due or is
        passed is :mod:`feeds.meaning`'s to say (a date-only close is that day's end).
        """
        return as_instant(self.deadline, zone)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything read from one source: its term, its events and its warnings."""

    source: str
    term: Term
    events: tuple[Event, ...]
    warnings: tuple[Notice, ...] = ()
    url: str | None = None

    def flagged(self, event: Event) -> bool:
        """True when a warning was reported on the event's line (a doubtful row)."""
        return any(notice.line == event.line for notice in self.warnings)
