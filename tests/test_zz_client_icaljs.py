"""A real client reads every calendar: Mozilla's ical.js (Thunderbird) under several host zones.

What it sees must be what ``show --format json`` says — days, instants, lengths,
companions — with all-day spans on the days the document prints. Read: every
fixture document's export, the edge cases below, and every calendar the other
tests built earlier in the same run (the file name sorts last so that a full
run has them all; under pytest-xdist, all those its worker built; see
``tests/_icaljs.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feeds import ical
from feeds.jsonout import event_dict
from feeds.load import load
from feeds.model import Event
from lfx_cal.cli import cli
from lfx_cal.reading import load_all
from tests._icaljs import PRODUCED, ZONES, compare, read
from tests.conftest import FIXTURES, ROOT, seed_documents

DOCUMENTS = [
    *sorted(FIXTURES.glob("*.md")),
    *sorted(FIXTURES.glob("forms/*.md")),
    *sorted(FIXTURES.glob("lfx/**/README.md")),
    ROOT / "config/example-term.md",
    *seed_documents(),
]


def _export(source: Path, out: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output


def _show(source: Path) -> list[dict[str, object]]:
    """The events of ``show --format json`` (every timeline of the document)."""
    result = CliRunner().invoke(cli, ["show", "--format", "json", str(source)])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    timelines = data if isinstance(data, list) else [data]
    return [event for timeline in timelines for event in timeline["events"]]


def test_every_fixture_export_reads_as_the_json_says(tmp_path: Path) -> None:
    assert len(DOCUMENTS) >= 7
    files, cases = [], []
    for index, source in enumerate(DOCUMENTS):
        out = tmp_path / f"{index}.ics"
        _export(source, out)
        timelines = load_all([str(source)], zone="America/Los_Angeles", term=None)
        events = tuple(e for t in timelines for e in t.events)
        # the events compared are exactly those of ``show --format json``
        shown = _show(source)
        assert [event_dict(e, t.term.id, t.source) for t in timelines for e in t.events] == shown
        files.append(out)
        cases.append((source, events))
    for zone in ZONES:
        seen = read(files, zone)
        for path, (source, events) in zip(files, cases, strict=True):
            problems = compare(events, ical.FeedOptions(), seen[str(path)])
            assert not problems, f"{source.name} under TZ={zone}: {problems}"


def test_every_calendar_the_tests_built_reads_as_built(tmp_path: Path) -> None:
    produced = list(PRODUCED)
    if not produced:
        pytest.skip("no other test built a calendar in this run")
    files = []
    for index, (_events, _options, data) in enumerate(produced):
        path = tmp_path / f"built-{index}.ics"
        path.write_bytes(data)
        files.append(path)
    for zone in ZONES[:2]:
        seen = read(files, zone)
        for path, (events, options, _) in zip(files, produced, strict=True):
            problems = compare(events, options, seen[str(path)])
            assert not problems, f"{path.name} ({options.name}) under TZ={zone}: {problems}"


EDGES = """# Term 03 - 2026 Sept - Nov

## Timeline

| Activity | Dates |
|---|---|
| Mentee Applications Open | Mon, Aug 3, 00:00 UTC – Tue, Aug 18, 2026 5PM PDT |
| Project Proposals | Aug 2 – Aug 20, 2026 23:59 AoE |
| Office hours | Thu, Aug 6, 2026 11AM PDT – Thu, Aug 6, 2026 10PM CEST |
| Program begins | Fri, May 1, 2026 midnight UTC |
| Review | Fri, Oct 30 – Tue, Nov 3, 2026 |
"""


def test_printed_days_and_opening_times_survive_in_a_real_client(tmp_path: Path) -> None:
    source = tmp_path / "README.md"
    source.write_text(EDGES)
    events = {e.title: e for e in load(str(source)).events}
    out = tmp_path / "edges.ics"
    _export(source, out)
    for zone in ZONES:
        seen = {item["uid"]: item for item in read([out], zone)[str(out)]}

        def of(title: str, suffix: str = "", seen: dict[str, dict[str, object]] = seen) -> Any:
            uid = events[title].uid
            if suffix:
                uid = ical.deadline_uid(uid) if suffix == "closes" else ical.opens_uid(uid)
            return seen[uid]

        # "Mon, Aug 3, 00:00 UTC" west of UTC still starts the span on Monday Aug 3
        assert (of("Mentee Applications Open")["first"], of("Mentee Applications Open")["last"]) \
            == ("2026-08-03", "2026-08-18"), zone  # fmt: skip
        assert of("Mentee Applications Open", "opens")["start"] == "2026-08-03T00:00:00Z"
        assert of("Mentee Applications Open", "opens")["summary"] == "Opens: Mentee applications"
        assert of("Mentee Applications Open", "closes")["start"] == "2026-08-19T00:00:00Z"
        # "20 August, 23:59 AoE" ends on Aug 20 although it is Aug 21 in UTC
        assert (of("Project Proposals")["first"], of("Project Proposals")["last"]) == (
            "2026-08-02",
            "2026-08-20",
        )
        assert of("Project Proposals", "closes")["start"] == "2026-08-21T11:59:00Z"
        # opening and closing written in different zones: each keeps its instant and day
        assert of("Office hours", "opens")["start"] == "2026-08-06T18:00:00Z"
        assert of("Office hours", "closes")["start"] == "2026-08-06T20:00:00Z"
        assert of("Office hours")["first"] == of("Office hours")["last"] == "2026-08-06"
        # a single "midnight UTC" instant stays that instant (15 minutes) in every zone
        assert of("Program begins")["start"] == "2026-05-01T00:00:00Z"
        assert of("Program begins")["seconds"] == 900
        assert of("Review")["days"] == 5 and of("Review")["busy"] == "FREE"


def test_the_comparison_catches_a_wrong_day(tmp_path: Path) -> None:
    """The checker is not vacuous: a span shifted by a day is reported."""
    event = Event("x@lfx-cal", "lfx-2026-t3", "Applications", dt.date(2026, 8, 3),
                  dt.date(2026, 8, 18))  # fmt: skip
    path = tmp_path / "one.ics"
    path.write_bytes(ical.to_ical([event]))
    seen = read([path], ZONES[0])[str(path)]
    assert compare([event], ical.FeedOptions(), seen) == []
    moved = Event(event.uid, event.term, event.title, dt.date(2026, 8, 2), event.end)
    assert any("first" in p for p in compare([moved], ical.FeedOptions(), seen))


YAML = """term: {year: 2027, number: 3}
schedule:
  - key: apps
    label: Mentee Applications
    start: 2027-08-03
    start_time: 00:00 UTC
    end: 2027-08-20
    end_time: 23:59 AoE
"""


def test_a_yaml_schedule_keeps_its_printed_days_too(tmp_path: Path) -> None:
    source = tmp_path / "term.yml"
    source.write_text(YAML)
    out = tmp_path / "yaml.ics"
    _export(source, out)
    events = load(str(source)).events
    for zone in ZONES[:2]:
        seen = read([out], zone)[str(out)]
        assert compare(events, ical.FeedOptions(), seen) == []
        assert (seen[0]["first"], seen[0]["last"]) == ("2027-08-03", "2027-08-20")
