"""The structured YAML term schedule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feeds.errors import NoTimelineError, ScheduleError
from feeds.load import parse_document
from feeds.model import endpoint_text
from feeds.schedule import parse_schedule
from feeds.sources import Document

GOOD = """\
term:
  year: 2031
  number: 1

schedule:
  - key: proposals_open
    label: Project Proposals Open
    start: 2031-01-07
    end: 2031-01-28
    time: "18:00 UTC"
  - key: info
    label: Info Sessions
    start: 2031-01-13
    time: Times TBD
  - key: applications
    label: Mentee Applications Open
    start: 2031-02-04
    start_time: "00:00 UTC"
    end: 2031-02-17
    end_time: "23:59 UTC"
  - key: later
    label: Something without a date yet
  - key: broken
    label: Broken
    start: 2031-02-30
  - key: evals
    label: Midterm Evaluations
    start: 2031-04-21
    time: "11:00 PT"
    note: "*(Week 6)*"
"""


def test_reads_entries_with_stable_uids_from_keys() -> None:
    timeline = parse_schedule(GOOD, "t.yml")
    assert timeline.term.id == "lfx-2031-t1"
    got = [(e.uid, endpoint_text(e.start), e.end and endpoint_text(e.end)) for e in timeline.events]
    assert got == [
        ("lfx-2031-t1-proposals-open@lfx-cal", "2031-01-07", "2031-01-28T18:00:00Z"),
        ("lfx-2031-t1-info@lfx-cal", "2031-01-13", None),
        ("lfx-2031-t1-applications@lfx-cal", "2031-02-04T00:00:00Z", "2031-02-17T23:59:00Z"),
        ("lfx-2031-t1-evals@lfx-cal", "2031-04-21T18:00:00Z", None),
    ]
    assert timeline.events[1].notes == ("Times TBD",)
    assert timeline.events[3].notes == ("(Week 6)",)
    assert timeline.events[0].line == 6


def test_a_bad_entry_is_a_warning_with_its_line() -> None:
    timeline = parse_schedule(GOOD, "t.yml")
    assert [(w.line, "2031-02-30 does not exist" in w.message) for w in timeline.warnings] == [
        (23, True)
    ]


def test_unquoted_sexagesimal_time_is_explained() -> None:
    text = GOOD.replace('time: "18:00 UTC"', "time: 18:00")
    timeline = parse_schedule(text, "t.yml")
    assert "quoted string" in timeline.warnings[0].message


@pytest.mark.parametrize(
    ("text", "key"),
    [("schedule: []\n", "term"), ("term: {year: 2031, number: 7}\nschedule: []\n", "term"),
     ("term: {year: 2031, number: 1}\n", "schedule"), ("term: [\n", "yaml")],
)  # fmt: skip
def test_malformed_schedules_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text, "bad.yml")
    assert caught.value.key == key and "bad.yml" in str(caught.value)


def test_sniffed_from_text_on_stdin() -> None:
    timeline = parse_document(Document("<stdin>", GOOD))
    assert len(timeline.events) == 4


def test_a_term_written_as_a_string_says_it_must_be_a_mapping_and_echoes_it() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("term: lfx-2027-t1\nschedule: []\n", "bad.yml")
    assert caught.value.key == "term"
    assert "mapping like {year: 2027, number: 1}" in str(caught.value)
    assert "'lfx-2027-t1'" in str(caught.value) and "missing" not in str(caught.value)


SKIPPED_ALL = """\
term: {year: 2031, number: 1}
schedule:
  - activity: Project Proposals Open
    date: 2031-01-07
  - activity: Mentee Applications Open
    date: 2031-02-04
"""


def test_a_schedule_where_every_entry_is_skipped_is_no_timeline(tmp_path: Path) -> None:
    with pytest.raises(NoTimelineError) as caught:
        parse_schedule(SKIPPED_ALL, "t.yml")
    assert "line 3" in str(caught.value) and "label is missing" in str(caught.value)
    with pytest.raises(NoTimelineError, match="no schedule entry has a date"):
        parse_schedule("term: {year: 2031, number: 1}\nschedule: []\n", "t.yml")
    (tmp_path / "t.yml").write_text(SKIPPED_ALL)
    for command in (["show", "t.yml"], ["export", "t.yml", "-o", "t.ics"]):
        result = subprocess.run(
            [sys.executable, "-m", "lfx_cal", *command],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "no timeline found" in result.stderr and "label is missing" in result.stderr
    assert not (tmp_path / "t.ics").exists()
