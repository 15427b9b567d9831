"""What a timeline row means: the one model every reminder, countdown, page and calendar follows.

The parser (``feeds/resolve.py``) says what is *written*: each endpoint is a
calendar date (no time given) or a UTC instant. This module says what that
*means* for people, and nothing else in lfx-cal decides it on its own.

Kinds of row (:func:`kind_of`):

* **period** — the row has a start and an end (``Mentee applications | Feb 1 –
  Feb 10``): it *opens* at its start and *closes* at its end.
* **deadline** — a single date or instant by which something must be done
  (``Proposals due``, ``Final evaluations``).
* **informational day** — a single date or instant that only says something
  happens (``First stipend payments``, ``Program begins``, ``Last day of term``).

A single point is a deadline or informational by its wording first, then its
categories: a title with deadline words (*deadline, due, close(s), closing,
last day to, submit, submission, apply by, register by*) is a deadline; else a
title with event words (*begin(s), start(s), kick-off, payment(s), announce,
notification, results, celebrate, last day of*) is informational; else the
categories ``proposal``, ``application``, ``review`` and ``evaluation`` make a
deadline; anything else is informational.

Times (:class:`Rules` holds the program zone and the two operator knobs):

* An instant close is that instant. A **date-only close is the end of that day
  in the program zone** (the next midnight), or ``[service] date_deadline_time``
  on that day when an operator sets one (e.g. ``17:00``): "due January 20" is
  still open all of January 20.
* A period opens at its start instant, or at the start of its first day in the
  program zone. The "now open" notice goes out at the opening instant, or, for
  a date-only opening, at ``[service] notice_hour`` (default 9) on that day.
* An informational day is "today" all that day; its notice ("Today: …") goes
  out at ``notice_hour`` on the morning of the day. An informational instant
  (a kick-off call at 9 AM PT) is announced at that instant.
* Leads: a reminder is due *lead* before the close. Whole days of a lead are
  counted on the program zone's wall clock (so "1d" before a date-only close
  is the end of the previous day even across a DST change); the rest is
  absolute. On an informational *day* a whole-day lead is due at
  ``notice_hour`` that many days earlier, and a sub-day lead does not apply (a
  day has no hour to count back from): :func:`reminder_due` says so and
  ``lfx-cal check`` prints it.
* "Passed" means the close has come (a period or deadline), or the day / the
  instant is over (informational). "Open" means opened and not yet closed.

Ledger identity: a reminder's key holds :func:`reminder_instant`, which for a
date-only close is the close of the current model. Earlier versions keyed it
with the *start* of that day (:func:`legacy_instant`), so the daemon carries
reminders they sent over to the new key once, on upgrade. Changing
``date_deadline_time`` later moves the key like a moved deadline would.

Calendar days (:func:`written_day`): an all-day span covers the days as
printed, i.e. each instant's wall-clock date in the zone it was written in
(``Event.zones``, filled by the parser); when that is unknown, the program
zone's date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from feeds.durations import format_duration
from feeds.model import Endpoint, Event, local_date
from feeds.zones import zone as get_zone

DAY = dt.timedelta(days=1)


class RowKind(StrEnum):
    """What a row is about (see the module docstring for how it is decided)."""

    PERIOD = "period"
    DEADLINE = "deadline"
    INFO = "info"


_DEADLINE_WORDS = re.compile(
    r"\b(deadlines?|due|clos(e|es|ed|ing)|last day to|submit|submissions?|apply by|"
    r"register by|cut-?off)\b",
    re.IGNORECASE,
)
_EVENT_WORDS = re.compile(
    r"\b(begins?|starts?|kick[\s-]?off|payments?|announce\w*|notifications?|results?|"
    r"celebrat\w*|last day of)\b",
    re.IGNORECASE,
)
_TERM_ID = re.compile(r"lfx-(\d{4})-t(\d+)", re.IGNORECASE)
_DEADLINE_CATEGORIES = frozenset({"proposal", "application", "review", "evaluation"})


@dataclass(frozen=True, slots=True)
class Rules:
    """The program zone and the operator's knobs that turn rows into moments.

    ``deadline_time`` is the local time a date-only close means (None: the end
    of the day); ``notice_hour`` is the local hour of morning notices.
    """

    zone: str = "America/Los_Angeles"
    deadline_time: dt.time | None = None
    notice_hour: int = 9

    @property
    def tz(self) -> ZoneInfo:
        """The program zone."""
        return get_zone(self.zone)


def kind_of(event: Event) -> RowKind:
    """Period, deadline or informational, from the shape, then wording, then categories."""
    if event.end is not None:
        return RowKind.PERIOD
    if _DEADLINE_WORDS.search(event.title):
        return RowKind.DEADLINE
    if _EVENT_WORDS.search(event.title):
        return RowKind.INFO
    if _DEADLINE_CATEGORIES.intersection(event.categories):
        return RowKind.DEADLINE
    return RowKind.INFO


def is_info_day(event: Event) -> bool:
    """True for an informational row given as a date (no time of day)."""
    return kind_of(event) is RowKind.INFO and not isinstance(event.start, dt.datetime)


def _at(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, zone).astimezone(dt.UTC)


def day_start(day: dt.date, rules: Rules) -> dt.datetime:
    """00:00 of *day* in the program zone, as a UTC instant."""
    return _at(day, dt.time(), rules.tz)


def close_of(value: Endpoint, rules: Rules) -> dt.datetime:
    """When an endpoint closes: the instant, or the end of the date (or ``deadline_time``)."""
    if isinstance(value, dt.datetime):
        return value
    if rules.deadline_time is not None:
        return _at(value, rules.deadline_time, rules.tz)
    return day_start(value + DAY, rules)


def closes_at(event: Event, rules: Rules) -> dt.datetime | None:
    """The closing moment of a period or deadline; None for an informational row."""
    if kind_of(event) is RowKind.INFO:
        return None
    return close_of(event.deadline, rules)


def opens_at(event: Event, rules: Rules) -> dt.datetime | None:
    """When a period opens (its start instant, or its first day's 00:00); None otherwise."""
    if event.end is None:
        return None
    if isinstance(event.start, dt.datetime):
        return event.start
    return day_start(event.start, rules)


def opening_due(event: Event, rules: Rules) -> dt.datetime | None:
    """When the "now open" notice goes out: the opening instant, or ``notice_hour`` that day."""
    opens = opens_at(event, rules)
    if opens is None or isinstance(event.start, dt.datetime):
        return opens
    return _at(event.start, dt.time(rules.notice_hour), rules.tz)


def notice_due(event: Event, rules: Rules) -> dt.datetime | None:
    """When an informational row's "Today:" notice goes out (None for other rows)."""
    if kind_of(event) is not RowKind.INFO:
        return None
    if isinstance(event.start, dt.datetime):
        return event.start
    return _at(event.start, dt.time(rules.notice_hour), rules.tz)


def over_at(event: Event, rules: Rules) -> dt.datetime:
    """When the row is "passed": its close, or the end of its day / its instant."""
    closes = closes_at(event, rules)
    if closes is not None:
        return closes
    if isinstance(event.start, dt.datetime):
        return event.start
    return day_start(event.start + DAY, rules)


def reminder_instant(event: Event, rules: Rules) -> dt.datetime:
    """The instant a reminder is *about* (its ledger key): the close, or the row's start."""
    closes = closes_at(event, rules)
    if closes is not None:
        return closes
    if isinstance(event.start, dt.datetime):
        return event.start
    return day_start(event.start, rules)


def count_back(moment: dt.datetime, lead: dt.timedelta, zone: ZoneInfo) -> dt.datetime:
    """*moment* minus *lead*: whole days on *zone*'s wall clock, the rest in absolute time."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    wall = local - dt.timedelta(days=lead.days)
    return dt.datetime.combine(wall.date(), wall.time(), zone).astimezone(dt.UTC) - (
        lead - dt.timedelta(days=lead.days)
    )


def reminder_due(event: Event, lead: dt.timedelta, rules: Rules) -> tuple[dt.datetime | None, str]:
    """When a *lead* reminder about *event* is due, or None and why it does not apply."""
    if is_info_day(event):
        if lead < DAY or lead % DAY:
            return None, (
                f"{event.title!r} is an informational day (no time of day): a"
                f" {_lead_text(lead)} lead does not apply; its notice goes out at"
                f" {rules.notice_hour:02d}:00 {rules.zone} that morning"
            )
        assert isinstance(event.start, dt.date)
        return _at(event.start - lead, dt.time(rules.notice_hour), rules.tz), ""
    return count_back(reminder_instant(event, rules), lead, rules.tz), ""


def _lead_text(lead: dt.timedelta) -> str:
    return format_duration(lead)


def state(event: Event, now: dt.datetime, rules: Rules) -> str:
    """``upcoming``, ``open`` (a period between its opening and close) or ``passed``."""
    if now >= over_at(event, rules):
        return "passed"
    opens = opens_at(event, rules)
    if opens is not None and now >= opens:
        return "open"
    if (
        kind_of(event) is RowKind.INFO
        and not isinstance(event.start, dt.datetime)
        and now >= day_start(event.start, rules)
    ):
        return "open"
    return "upcoming"


def legacy_instant(event: Event, rules: Rules) -> dt.datetime | None:
    """The instant versions before this model keyed a reminder about *event* by, if different.

    They read a date-only close as the *start* of its day; an instant close and
    an informational row's key never moved (None).
    """
    if kind_of(event) is RowKind.INFO or isinstance(event.deadline, dt.datetime):
        return None
    old = day_start(event.deadline, rules)
    return None if old == reminder_instant(event, rules) else old


_TRAILING = re.compile(
    r"\s*[-–—:]?\s*\b(open|opens|deadlines?|due|close|closes|period|window|begins?|starts?)\s*$",
    re.IGNORECASE,
)


def subject(title: str) -> str:
    """The thing a row is about, in sentence case.

    "Mentee Applications Open" → "Mentee applications" (acronyms and names stay).
    """
    text = " ".join(title.split())
    stripped = _TRAILING.sub("", text)
    words = (stripped or text).split(" ")
    out = [words[0]] + [w.lower() if w[:1].isupper() and w[1:].islower() else w for w in words[1:]]
    return " ".join(out) or "(untitled)"


def term_label(term: str) -> str:
    """A short name for a term in merged feeds: ``lfx-2026-t3`` → ``LFX 2026 T3``."""
    match = _TERM_ID.fullmatch(term)
    return f"LFX {match[1]} T{int(match[2])}" if match else term


def written_day(value: Endpoint, written_zone: str | None, rules: Rules) -> dt.date:
    """The calendar day an endpoint was printed on (see the module docstring)."""
    if not isinstance(value, dt.datetime):
        return value
    if written_zone:
        try:
            return value.astimezone(get_zone(written_zone)).date()
        except (ValueError, KeyError):
            pass
    return local_date(value, rules.tz)


def span_days(event: Event, rules: Rules) -> tuple[dt.date, dt.date]:
    """First and last (inclusive) calendar day of a row as printed."""
    first = written_day(event.start, event.zones[0], rules)
    if event.end is None:
        return first, first
    last = written_day(event.end, event.zones[1], rules)
    return first, max(first, last)
