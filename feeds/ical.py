"""RFC 5545 calendars from timelines, byte-for-byte deterministic.

Shape of what is written (documented in the README):

* a single day → an all-day event (``DTSTART;VALUE=DATE``, exclusive ``DTEND``);
* a single instant → a 15-minute timed event starting at the instant, in UTC;
* a period → an all-day span over the days the document prints
  (``TRANSP:TRANSPARENT`` and ``X-MICROSOFT-CDO-BUSYSTATUS:FREE``, so it blocks
  no time, in Outlook either) and, for each endpoint given as an instant, a
  15-minute companion at it: "Opens: …" (UID with ``-opens``) and "Closes: …"
  (UID with ``-deadline``, as before), so every time the document gives shows
  in every client.

Days as printed: an instant's day is its wall-clock date in the zone it was
written in (``Event.zones``; the program zone when unknown), so "Mon, Aug 3,
00:00 UTC" starts a span on Aug 3 and "Aug 20, 23:59 AoE" ends one on Aug 20
(see :func:`feeds.meaning.span_days`). Companion titles use the row's subject
("Closes: Mentee applications"); in merged feeds (events of several terms, or
``term_prefix=True``: the all and role feeds) every title starts with a short
term name ("LFX 2026 T3 · …"). UIDs of existing events never change.

UIDs come from the events; DTSTAMP is the caller's ``stamp`` (never *now*);
SEQUENCE and LAST-MODIFIED come from ``revisions`` (change history) when given.
No METHOD (a published feed), REFRESH-INTERVAL with ``VALUE=DURATION`` and a
proper X-PUBLISHED-TTL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from icalendar import Alarm, Calendar, vDuration
from icalendar import Event as VEvent

from feeds.durations import format_duration
from feeds.meaning import Rules, span_days, subject, term_label
from feeds.model import Endpoint, Event, endpoint_text

PRODID = "-//lfx-cal//lfx-cal//EN"
DEADLINE_LENGTH = dt.timedelta(minutes=15)
DEFAULT_STAMP = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
"""DTSTAMP used when the caller knows no better time: fixed, so output is stable."""


class Revision(NamedTuple):
    """Change-history facts for one UID: how often it moved and when it last did."""

    sequence: int = 0
    modified: dt.datetime | None = None


class FeedOptions(NamedTuple):
    """What a calendar is called and how clients should treat it."""

    name: str = "LFX Mentorship"
    description: str = ""
    zone: str = "America/Los_Angeles"
    refresh: dt.timedelta = dt.timedelta(hours=6)
    alarms: tuple[dt.timedelta, ...] = ()
    stamp: dt.datetime = DEFAULT_STAMP
    term_prefix: bool | None = None
    """Start titles with a short term name: None = when the events span several terms."""


def deadline_uid(uid: str) -> str:
    """The UID of a period's closing-instant event."""
    return _suffixed(uid, "deadline")


def opens_uid(uid: str) -> str:
    """The UID of a period's opening-instant event."""
    return _suffixed(uid, "opens")


def _suffixed(uid: str, suffix: str) -> str:
    local, _, domain = uid.partition("@")
    return f"{local}-{suffix}@{domain}" if domain else f"{uid}-{suffix}"


def _describe(event: Event) -> str:
    lines: list[str] = []
    if event.end is not None:
        lines.append(f"From {_human(event.start)} to {_human(event.end)}.")
    lines.extend(event.notes)
    lines.append(f"Categories: {', '.join(event.categories)}")
    lines.append(f"Source: {event.source}" + (f" (line {event.line})" if event.line else ""))
    return "\n".join(lines)


def _human(value: Endpoint) -> str:
    text = endpoint_text(value)
    return text.replace("T", " ").replace(":00Z", " UTC") if "T" in text else text


def _component(uid: str, summary: str, options: FeedOptions, revision: Revision) -> VEvent:
    component = VEvent()
    component.add("uid", uid)
    component.add("dtstamp", options.stamp)
    component.add("summary", summary)
    component.add("sequence", revision.sequence)
    if revision.modified is not None:
        component.add("last-modified", revision.modified)
    return component


def _alarms(component: VEvent, title: str, options: FeedOptions, related_end: bool) -> None:
    for lead in options.alarms:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{title}: in {format_duration(lead)}")
        parameters = {"RELATED": "END"} if related_end else {}
        alarm.add("trigger", -lead, parameters=parameters)
        component.add_component(alarm)


def _timed(uid: str, summary: str, at: dt.datetime, event: Event, options: FeedOptions,
           revision: Revision, description: str) -> VEvent:  # fmt: skip
    component = _component(uid, summary, options, revision)
    component.add("dtstart", at)
    component.add("dtend", at + DEADLINE_LENGTH)
    component.add("description", description)
    component.add("categories", [c.upper() for c in event.categories])
    return component


def _vevents(event: Event, options: FeedOptions, revision: Revision, prefix: str) -> list[VEvent]:
    rules = Rules(options.zone)
    out: list[VEvent] = []
    description = _describe(event)
    title = prefix + event.title
    if event.end is None and isinstance(event.start, dt.datetime):
        main = _component(event.uid, title, options, revision)
        main.add("dtstart", event.start)
        main.add("dtend", event.start + DEADLINE_LENGTH)
    else:
        first, last = span_days(event, rules)
        main = _component(event.uid, title, options, revision)
        main.add("dtstart", first)
        main.add("dtend", last + dt.timedelta(days=1))
        main.add("transp", "TRANSPARENT")
        main.add("x-microsoft-cdo-busystatus", "FREE")
    main.add("description", description)
    main.add("categories", [c.upper() for c in event.categories])
    if event.source.startswith(("http://", "https://")):
        main.add("url", event.source)
    out.append(main)
    name = subject(event.title)
    if event.end is not None and isinstance(event.start, dt.datetime):
        summary = f"{prefix}Opens: {name}"
        out.append(
            _timed(
                opens_uid(event.uid), summary, event.start, event, options, revision, description
            )
        )
    if event.end is not None and isinstance(event.end, dt.datetime):
        summary = f"{prefix}Closes: {name}"
        closing = _timed(
            deadline_uid(event.uid), summary, event.end, event, options, revision, description
        )
        _alarms(closing, event.title, options, related_end=False)
        out.append(closing)
    else:
        _alarms(main, event.title, options, related_end=event.end is not None)
    return out


def build_calendar(
    events: Iterable[Event],
    options: FeedOptions | None = None,
    revisions: Mapping[str, Revision] | None = None,
) -> Calendar:
    """Build the calendar object for *events* (in the order given)."""
    options = options or FeedOptions()
    revisions = revisions or {}
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", options.name)
    calendar.add("x-wr-calname", options.name)
    if options.description:
        calendar.add("description", options.description)
        calendar.add("x-wr-caldesc", options.description)
    calendar.add("refresh-interval", vDuration(options.refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(options.refresh))
    chosen = list(events)
    merged = options.term_prefix
    if merged is None:
        merged = len({event.term for event in chosen}) > 1
    for event in chosen:
        prefix = f"{term_label(event.term)} · " if merged else ""
        revision = revisions.get(event.uid, Revision())
        try:
            components = _vevents(event, options, revision, prefix)
        except OverflowError:  # a date at the calendar's edge: no event rather than no feed
            continue
        for component in components:
            calendar.add_component(component)
    return calendar


def to_ical(
    events: Iterable[Event],
    options: FeedOptions | None = None,
    revisions: Mapping[str, Revision] | None = None,
) -> bytes:
    """Serialize *events* as an iCalendar feed (CRLF line endings, folded lines)."""
    data: bytes = build_calendar(events, options, revisions).to_ical()
    return data
