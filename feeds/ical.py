"""RFC 5545 calendars from timelines, byte-for-byte deterministic.

Shape of what is written (documented in the README):

* a single day → an all-day event (``DTSTART;VALUE=DATE``, exclusive ``DTEND``);
* a single instant → a 15-minute timed event starting at the instant, in UTC;
* a period → an all-day span over its days (``TRANSP:TRANSPARENT``, so it does
  not block time) and, when it closes at a known instant, a second 15-minute
  "Deadline:" event at that instant (UID with ``-deadline``), so both the period
  and its closing time show in every client.

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
from feeds.model import Endpoint, Event, endpoint_text, local_date
from feeds.zones import zone as get_zone

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


def deadline_uid(uid: str) -> str:
    """The UID of a period's closing-instant event."""
    local, _, domain = uid.partition("@")
    return f"{local}-deadline@{domain}" if domain else f"{uid}-deadline"


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
        alarm.add("description", f"{title}: {format_duration(lead)} to go")
        parameters = {"RELATED": "END"} if related_end else {}
        alarm.add("trigger", -lead, parameters=parameters)
        component.add_component(alarm)


def _vevents(event: Event, options: FeedOptions, revision: Revision) -> list[VEvent]:
    zone = get_zone(options.zone)
    out: list[VEvent] = []
    description = _describe(event)
    timed_end = event.end is not None and isinstance(event.end, dt.datetime)
    if event.end is None and isinstance(event.start, dt.datetime):
        main = _component(event.uid, event.title, options, revision)
        main.add("dtstart", event.start)
        main.add("dtend", event.start + DEADLINE_LENGTH)
    else:
        first = local_date(event.start, zone)
        last = local_date(event.end if event.end is not None else event.start, zone)
        main = _component(event.uid, event.title, options, revision)
        main.add("dtstart", first)
        main.add("dtend", last + dt.timedelta(days=1))
        main.add("transp", "TRANSPARENT")
    main.add("description", description)
    main.add("categories", [c.upper() for c in event.categories])
    if event.source.startswith(("http://", "https://")):
        main.add("url", event.source)
    out.append(main)
    if timed_end:
        assert isinstance(event.end, dt.datetime)
        closing = _component(deadline_uid(event.uid), f"Deadline: {event.title}", options, revision)
        closing.add("dtstart", event.end)
        closing.add("dtend", event.end + DEADLINE_LENGTH)
        closing.add("description", description)
        closing.add("categories", [c.upper() for c in event.categories])
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
    for event in events:
        try:
            components = _vevents(event, options, revisions.get(event.uid, Revision()))
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
