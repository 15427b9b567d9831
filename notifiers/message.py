"""Message content, built once from an event and rendered by every backend.

:func:`build_message` is a pure function of the event, the kind of message and
its lead time or change: Slack, e-mail and the console all say the same thing
because they all render the same :class:`Message`. What the row means (when it
closes, whether it is a period, a deadline or an informational day) comes from
:mod:`feeds.meaning`; the words say what happens and when, in the program zone
and UTC: "Mentee applications close in 1 day — Tue, Feb 10, 11:00 AM PST
(19:00 UTC)", "Mentee applications are open until …", "Today: first stipend
payments". The subject is the title in sentence case without a trailing
"Open"/"Deadline"/"Due", so a reminder never reads as if something opens. Its ``title`` is one line
(control characters and line breaks collapsed); its ``text`` is plain,
unescaped text — each backend escapes for its own format.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.meaning import (
    RowKind,
    Rules,
    close_of,
    day_start,
    is_info_day,
    kind_of,
    reminder_instant,
    subject,
)
from feeds.model import Endpoint, Event
from feeds.public import clean_event, clean_text, public_event, public_source
from feeds.zones import zone as get_zone
from notifiers.errors import ConfigError

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029\s]+")
_UNITS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


class Kind(StrEnum):
    """What a message is about."""

    REMINDER = "reminder"
    """A deadline is coming up (sent a lead time before it)."""
    OPENING = "opening"
    """A period (applications, proposals…) has opened."""
    CHANGED = "changed"
    """A date in the timeline moved: the message carries old → new."""
    TODAY = "today"
    """An informational day (stipend payments, program start) is today."""


@dataclass(frozen=True, slots=True)
class Change:
    """One changed value of an event, as text: ``what`` moved from ``old`` to ``new``."""

    what: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """How the one reader of a personal message leaves (RFC 8058) or changes what they get.

    ``https`` takes the one-click POST, ``mailto`` is the mail fallback and
    ``manage`` the page to change role, leads and zone. Only self-service
    subscribers have one; configured subscriptions (channels, lists) do not.
    """

    https: str
    mailto: str
    manage: str


@dataclass(frozen=True, slots=True)
class Message:
    """Everything a backend needs to say about one event, already worded.

    ``deadline`` is the UTC instant the message is about (a close, or an
    informational row's start); when ``all_day`` is true the document gave only
    a date. ``deadline_text`` writes it for people and ``when_label`` says what
    it is ("closes", "open until", "today", "at").
    """

    kind: Kind
    event: Event
    title: str
    text: str
    deadline: dt.datetime
    all_day: bool
    deadline_text: str
    term: str
    zone: str = "UTC"
    source_url: str | None = None
    feed_url: str | None = None
    lead: dt.timedelta | None = None
    change: Change | None = None
    when_label: str = "deadline"
    unsubscribe: Unsubscribe | None = None
    """A personal message's unsubscribe and manage links (None for configured targets)."""


def one_line(text: str) -> str:
    """Collapse line breaks, control characters and runs of spaces into single spaces.

    Escape sequences, C1 controls and bidi overrides are removed first
    (:func:`feeds.public.clean_text`).
    """
    return _CONTROL.sub(" ", clean_text(text)).strip()


def human_duration(value: dt.timedelta) -> str:
    """Write a lead time for people: ``1 day``, ``2 days 12 hours``, ``15 minutes``."""
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for name, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}" + ("s" if count != 1 else ""))
    return " ".join(parts[:2]) or "now"


def human_endpoint(value: Endpoint, zone: ZoneInfo) -> str:
    """Write a date (``Tue, May 25, 2027``) or an instant in *zone* and in UTC."""
    if not isinstance(value, dt.datetime):
        return f"{value:%a, %b} {value.day}, {value.year}"
    return human_instant(value, zone, year=True)


def human_instant(value: dt.datetime, zone: ZoneInfo, *, year: bool = False) -> str:
    """``Tue, Feb 10, 11:00 AM PST (19:00 UTC)`` (UTC alone when *zone* is UTC)."""
    local = value.astimezone(zone)
    clock = f"{local.hour % 12 or 12}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"
    text = f"{local:%a, %b} {local.day}" + (f", {local.year}" if year else "")
    text += f", {clock} {local.tzname()}"
    if local.utcoffset() != dt.timedelta(0):
        text += f" ({value.astimezone(dt.UTC):%H:%M} UTC)"
    return text


def _day(value: dt.date) -> str:
    return f"{value:%a, %b} {value.day}"


def close_text(value: Endpoint, rules: Rules) -> str:
    """When a row closes, for people: the instant, or the date and what it means."""
    if isinstance(value, dt.datetime):
        return human_instant(value, rules.tz)
    if rules.deadline_time is None:
        noon = dt.datetime.combine(value, dt.time(12), rules.tz)
        return f"{_day(value)}, end of day ({noon.tzname()})"
    return human_instant(close_of(value, rules), rules.tz)


_CLOSES = re.compile(r"\bclos(e|es|ed|ing)\b", re.IGNORECASE)


def _plural(name: str) -> bool:
    last = name.rsplit(" ", 1)[-1].lower()
    return last.endswith("s") and not last.endswith("ss")


def _lower_first(name: str) -> str:
    first = name.split(" ", 1)[0]
    return (
        name
        if first.isupper() or not first[:1].isupper() or not first[1:].islower()
        else (name[:1].lower() + name[1:])
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return get_zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "zone", f"{name!r} is not a known time zone", "use an IANA name such as 'UTC'"
        ) from None


def _stamp_text(text: str, zone: str) -> str:
    """``2026-12-15T10:00:00Z`` (a ledger stamp) as people read it; other text as is."""
    from feeds.jsonout import endpoint_from_text

    try:
        return human_endpoint(endpoint_from_text(text), _zone(zone))
    except (ValueError, ConfigError):
        return text


def changed_from(old: Event, new: Event, *, zone: str = "UTC") -> Change | None:
    """Describe how *new* differs from *old* (deadline first, then start, then title)."""
    where = _zone(zone)
    if old.deadline != new.deadline:
        return Change(
            "deadline", human_endpoint(old.deadline, where), human_endpoint(new.deadline, where)
        )
    if old.start != new.start:
        return Change("start", human_endpoint(old.start, where), human_endpoint(new.start, where))
    if old.title != new.title:
        return Change("title", one_line(old.title), one_line(new.title))
    return None


def build_message(
    event: Event,
    kind: Kind | str,
    *,
    lead: dt.timedelta | None = None,
    change: Change | None = None,
    zone: str = "America/Los_Angeles",
    feed_url: str | None = None,
    source_url: str | None = None,
    rules: Rules | None = None,
    reader_zone: str | None = None,
    unsubscribe: Unsubscribe | None = None,
) -> Message:
    """Word a message about *event*; pure (no clock, no I/O).

    A reminder needs *lead* (the time left before the deadline); a change needs
    *change* (see :func:`changed_from`). *zone* is the zone dates are written
    in for the text (*rules*, when given, also carry ``date_deadline_time``);
    Slack readers also see instants in their own zone.

    *reader_zone* (a self-service subscriber's own zone) changes only how
    instants are written: what a row means (a date-only close is the end of
    that day) still follows *rules* in the program zone, so "closes in 1 day"
    is the same instant for every reader. *unsubscribe* rides along unchanged.
    """
    if reader_zone is not None and reader_zone != zone:
        meaning = rules or Rules(zone)
        message = build_message(
            event, kind, lead=lead, change=change, zone=zone, feed_url=feed_url,
            source_url=source_url, rules=meaning, unsubscribe=unsubscribe,
        )  # fmt: skip
        return _rewritten(message, reader_zone)
    kind = Kind(kind)
    where = _zone(zone)
    event = clean_event(public_event(event))  # every output shows the public source, clean text
    rules = rules or Rules(zone)
    if rules.zone != zone:
        rules = Rules(zone, rules.deadline_time, rules.notice_hour)
    name = subject(one_line(event.title))
    row = kind_of(event)
    closes = close_text(event.deadline, rules)
    are = "are" if _plural(name) else "is"
    all_day = not isinstance(event.deadline, dt.datetime)
    instant = reminder_instant(event, rules)
    label = "closes"
    if row is RowKind.INFO:
        label = "today" if all_day else "at"
        closes = _day(event.start) if isinstance(event.start, dt.date) and all_day else closes
        if not isinstance(event.start, dt.datetime):
            instant = day_start(event.start, rules)
    elif all_day and rules.deadline_time is not None:
        all_day = False
        instant = close_of(event.deadline, rules)
    if kind is Kind.REMINDER:
        if lead is None:
            raise ConfigError("lead", "a reminder needs a lead time", "pass lead=timedelta(...)")
        left = human_duration(lead)
        if row is RowKind.PERIOD or _CLOSES.search(event.title):
            verb = "close" if _plural(name) else "closes"
            title = f"{name} {verb} in {left} — {closes}"
            first = f"{name} {are} open until {closes}: {left} left."
        elif row is RowKind.DEADLINE:
            title = f"{name} due in {left} — {closes}"
            first = f"{name} {are} due {closes}: {left} left."
        else:
            title = f"{name} in {left} — {closes}"
            first = f"{name}: {closes}, in {left}."
    elif kind is Kind.OPENING:
        label = "open until"
        title = f"{name} {are} open until {closes}"
        opened = (
            human_instant(event.start, where)
            if isinstance(event.start, dt.datetime)
            else _day(event.start)
        )
        first = f"{name} opened {opened} and {are} open until {closes}."
    elif kind is Kind.TODAY:
        label = "today"
        title = f"Today: {_lower_first(name)}"
        when_text = closes if isinstance(event.start, dt.datetime) else _day(event.start)
        first = f"{name}: {when_text}."
    else:
        if change is None:
            raise ConfigError("change", "a change message needs the change", "pass change=Change")
        before, after = _stamp_text(change.old, zone), _stamp_text(change.new, zone)
        if change.old in {"", "-"}:  # a row the document did not have before
            title = f"New: {name} — {after}"
            first = f"{name} was added to the schedule: {after}."
        elif change.new == "removed":
            title = f"Removed: {name}"
            first = f"{name} was removed from the schedule (it was {before})."
        else:
            what_moved = change.what
            if what_moved == "deadline" and is_info_day(event):
                what_moved = "date"  # "First stipend payments" has a day, not a deadline
            title = f"Changed: {name} — the {what_moved} moved to {after}"
            first = f"{name}: the {what_moved} moved from {before} to {after}."
    lines = [first, f"Term: {event.term}", *event.notes]
    if source_url is None and event.source.startswith(("http://", "https://")):
        source_url = event.source
    elif source_url is not None:
        source_url = public_source(source_url)
    return Message(
        kind=kind,
        event=event,
        title=one_line(title),
        text="\n".join(lines),
        deadline=instant,
        all_day=all_day,
        deadline_text=closes,
        term=event.term,
        zone=zone,
        source_url=source_url,
        feed_url=feed_url,
        lead=lead,
        change=change,
        when_label=label,
        unsubscribe=unsubscribe,
    )


def _rewritten(message: Message, reader_zone: str) -> Message:
    """*message* with its close written as the instant it is, in *reader_zone*.

    The instant (``message.deadline``) was fixed by the program zone's rules; a
    date-only close ("Jun 3, end of day (PDT)") becomes that instant in the
    reader's zone ("Wed, Jun 4, 4:00 PM JST (07:00 UTC)").
    """
    from dataclasses import replace

    if kind_of(message.event) is RowKind.INFO and message.all_day:
        return replace(message, zone=reader_zone)  # "Today: …" is about a day, not an instant
    old = message.deadline_text
    new = human_instant(message.deadline, _zone(reader_zone))
    return replace(
        message,
        title=message.title.replace(old, new),
        text=message.text.replace(old, new),
        deadline_text=new,
        zone=reader_zone,
        all_day=False,
    )


def sample_message(
    *, now: dt.datetime | None = None, feed_url: str | None = None, zone: str = "UTC"
) -> Message:
    """Build a harmless reminder for ``lfx-cal notify-test``: a deadline one day after *now*."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    event = Event(
        uid="notify-test@lfx-cal",
        term="lfx-cal-test",
        title="lfx-cal test notification",
        start=now + dt.timedelta(days=1),
        notes=("This is a test message from lfx-cal notify-test; no deadline is real.",),
        source="https://github.com/cncf/mentoring",
    )
    return build_message(
        event, Kind.REMINDER, lead=dt.timedelta(days=1), zone=zone, feed_url=feed_url
    )
