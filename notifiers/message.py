"""Message content, built once from an event and rendered by every backend.

:func:`build_message` is a pure function of the event, the kind of message and
its lead time or change: Slack, e-mail and the console all say the same thing
because they all render the same :class:`Message`. Its ``title`` is one line
(control characters and line breaks collapsed); its ``text`` is plain,
unescaped text — each backend escapes for its own format.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.model import Endpoint, Event, as_instant
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


@dataclass(frozen=True, slots=True)
class Change:
    """One changed value of an event, as text: ``what`` moved from ``old`` to ``new``."""

    what: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Message:
    """Everything a backend needs to say about one event, already worded.

    ``deadline`` is a UTC instant; when ``all_day`` is true the document gave
    only a date and ``deadline`` is the start of that day in ``zone``.
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
    """Write a date (``Tue 25 May 2027``) or an instant in *zone* and in UTC."""
    if not isinstance(value, dt.datetime):
        return value.strftime("%a %d %b %Y")
    local = value.astimezone(zone)
    utc = value.astimezone(dt.UTC)
    text = local.strftime("%a %d %b %Y, %H:%M %Z")
    if local.utcoffset() != dt.timedelta(0):
        text += utc.strftime(" (%H:%M UTC)")
    return text


def _zone(name: str) -> ZoneInfo:
    try:
        return get_zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "zone", f"{name!r} is not a known time zone", "use an IANA name such as 'UTC'"
        ) from None


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
) -> Message:
    """Word a message about *event*; pure (no clock, no I/O).

    A reminder needs *lead* (the time left before the deadline); a change needs
    *change* (see :func:`changed_from`). *zone* is the zone dates are written
    in for the text; Slack readers also see the deadline in their own zone.
    """
    kind = Kind(kind)
    where = _zone(zone)
    event = clean_event(public_event(event))  # every output shows the public source, clean text
    name = one_line(event.title) or "(untitled)"
    deadline_text = human_endpoint(event.deadline, where)
    if kind is Kind.REMINDER:
        if lead is None:
            raise ConfigError("lead", "a reminder needs a lead time", "pass lead=timedelta(...)")
        title = f"Reminder: {name} — {human_duration(lead)} to go"
        first = f"{name}: deadline {deadline_text} ({human_duration(lead)} to go)."
    elif kind is Kind.OPENING:
        title = f"Now open: {name}"
        if event.end is not None:
            first = (
                f"{name} is open from {human_endpoint(event.start, where)} until {deadline_text}."
            )
        else:
            first = f"{name}: {deadline_text}."
    else:
        if change is None:
            raise ConfigError("change", "a change message needs the change", "pass change=Change")
        title = f"Changed: {name}"
        first = f"{name}: the {change.what} moved from {change.old} to {change.new}."
    lines = [first, f"Term: {event.term}", *event.notes]
    if source_url is None and event.source.startswith(("http://", "https://")):
        source_url = event.source
    elif source_url is not None:
        source_url = public_source(source_url)
    return Message(
        kind=kind,
        event=event,
        title=title,
        text="\n".join(lines),
        deadline=as_instant(event.deadline, where),
        all_day=not isinstance(event.deadline, dt.datetime),
        deadline_text=deadline_text,
        term=event.term,
        zone=zone,
        source_url=source_url,
        feed_url=feed_url,
        lead=lead,
        change=change,
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
