"""timeline_from_dict is the exact inverse of timeline_dict (through real JSON text)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.jsonout import timeline_dict, timeline_from_dict
from feeds.load import load
from feeds.model import CATEGORIES, Endpoint, Event, Notice, Term, Timeline
from tests.conftest import FIXTURES, seed_documents


def _round_trip(timeline: Timeline) -> Timeline:
    return timeline_from_dict(json.loads(json.dumps(timeline_dict(timeline))))


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
instants = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2200, 12, 31),
    timezones=st.just(dt.UTC),
).map(lambda value: value.replace(microsecond=0))
endpoints: st.SearchStrategy[Endpoint] = st.one_of(dates, instants)
texts = st.text(max_size=40)
small = st.integers(min_value=0, max_value=10_000)
months = st.none() | st.integers(min_value=1, max_value=12)

events = st.builds(
    Event,
    uid=texts,
    term=texts,
    title=texts,
    start=endpoints,
    end=st.none() | endpoints,
    categories=st.lists(st.sampled_from(CATEGORIES), max_size=3).map(tuple),
    notes=st.lists(texts, max_size=3).map(tuple),
    line=small,
    source=texts,
)
terms = st.builds(
    Term,
    id=texts,
    year=st.none() | st.integers(min_value=1900, max_value=2200),
    number=st.none() | st.integers(min_value=1, max_value=4),
    title=texts,
    first_month=months,
    last_month=months,
)
timelines = st.builds(
    Timeline,
    source=texts,
    term=terms,
    events=st.lists(events, max_size=6).map(tuple),
    warnings=st.lists(st.builds(Notice, line=small, message=texts), max_size=3).map(tuple),
    url=st.none() | texts,
)


@given(timelines)
def test_generated_timelines_round_trip(timeline: Timeline) -> None:
    back = _round_trip(timeline)
    assert back == timeline
    for got, want in zip(back.events, timeline.events, strict=True):
        assert type(got.start) is type(want.start)
        assert type(got.end) is type(want.end)


def _documents() -> list[Path]:
    return sorted(FIXTURES.rglob("*.md")) + seed_documents()


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_documents_round_trip(path: Path) -> None:
    timeline = load(str(path))
    assert timeline.events
    assert _round_trip(timeline) == timeline
    data = timeline_dict(timeline)
    assert "url" not in data  # the documented keys only, for a file source
    assert all(set(e) == {"uid", "title", "categories", "start", "end", "notes", "line"}
               for e in data["events"])  # fmt: skip


def test_a_term_with_months_and_a_url_round_trips() -> None:
    term = Term("lfx-2030-t1", 2030, 1, "Spring – “cohort”", first_month=3, last_month=5)
    moment = dt.datetime(2030, 3, 1, 17, 0, tzinfo=dt.UTC)
    event = Event("a@lfx-cal", term.id, "Ümlaut ✓", dt.date(2030, 2, 1), moment, ("review",),
                  ("note",), 7, "README.md")  # fmt: skip
    timeline = Timeline("README.md", term, (event,), (Notice(7, "odd"),), "https://x.test/r")
    data = timeline_dict(timeline)
    assert data["term"]["first_month"] == 3 and data["url"] == "https://x.test/r"
    assert data["events"][0]["end"] == "2030-03-01T17:00:00Z"
    assert timeline_from_dict(data) == timeline
    moved = Timeline("other.md", term, (event,))
    assert timeline_dict(moved)["events"][0]["source"] == "README.md"
    assert timeline_from_dict(timeline_dict(moved)) == moved
