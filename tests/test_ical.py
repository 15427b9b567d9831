"""The iCalendar output, checked by two independent parsers/validators."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import icalendar
import pytest
import vobject

from feeds.ical import FeedOptions, Revision, deadline_uid, to_ical
from feeds.load import load
from tests.conftest import FIXTURES

DOCS = sorted(FIXTURES.rglob("*.md"))


def validate(data: bytes) -> icalendar.Calendar:
    calendar = icalendar.Calendar.from_ical(data)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    parsed = vobject.readOne(data.decode())
    assert parsed.validate()
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
    return calendar


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_fixture_makes_a_valid_calendar(path: Path) -> None:
    events = load(str(path)).events
    options = FeedOptions(alarms=(dt.timedelta(days=7), dt.timedelta(hours=1)))
    calendar = validate(to_ical(events, options))
    assert "METHOD" not in calendar
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert calendar["X-PUBLISHED-TTL"].to_ical() == b"PT6H"
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == "LFX Mentorship"


def test_shapes_all_day_timed_and_period_with_deadline() -> None:
    events = load(str(FIXTURES / "table-utc.md")).events
    calendar = icalendar.Calendar.from_ical(to_ical(events))
    by_uid = {str(c["UID"]): c for c in calendar.walk("VEVENT")}
    proposals = events[0]  # Wed, Jul 7 – Tue, Jul 27, 18:00 UTC
    span = by_uid[proposals.uid]
    assert span["DTSTART"].dt == dt.date(2032, 7, 7)
    assert span["DTEND"].dt == dt.date(2032, 7, 28)  # exclusive end
    assert span.to_ical().count(b"DTSTART;VALUE=DATE:20320707") == 1
    closing = by_uid[deadline_uid(proposals.uid)]
    assert closing["DTSTART"].dt == dt.datetime(2032, 7, 27, 18, tzinfo=dt.UTC)
    assert b"DTSTART:20320727T180000Z" in closing.to_ical()
    midterm = by_uid[events[6].uid]  # single instant
    assert midterm["DTSTART"].dt == dt.datetime(2032, 10, 19, 19, tzinfo=dt.UTC)
    last_day = by_uid[events[-1].uid]
    assert last_day["DTEND"].dt - last_day["DTSTART"].dt == dt.timedelta(days=1)
    for component in by_uid.values():
        assert "SEQUENCE" in component and "DTSTAMP" in component


def test_revisions_set_sequence_and_last_modified() -> None:
    events = load(str(FIXTURES / "table-utc.md")).events
    when = dt.datetime(2032, 7, 1, 12, tzinfo=dt.UTC)
    data = to_ical(events, revisions={events[0].uid: Revision(3, when)})
    calendar = icalendar.Calendar.from_ical(data)
    first = next(c for c in calendar.walk("VEVENT") if str(c["UID"]) == events[0].uid)
    assert int(first["SEQUENCE"]) == 3
    assert first["LAST-MODIFIED"].dt == when


def test_descriptions_carry_notes_and_source() -> None:
    events = load(str(FIXTURES / "table-utc.md")).events
    text = to_ical(events).decode().replace("\r\n ", "")
    assert "Times TBD" in text and "table-utc.md (line 8)" in text
