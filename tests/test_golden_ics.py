"""The iCalendar output against golden files, byte for byte, in this and in a fresh process.

Rendering twice in one process proves little: a DTSTAMP of *now* agrees with
itself within a second, and so does an order that follows this process's hash
seed. So the bytes are compared with files checked in under
``tests/fixtures/golden`` (DTSTAMP the documented ``20200101T000000Z``), and a
second interpreter with another ``PYTHONHASHSEED`` must print the same bytes.
To change the output on purpose, review the new bytes and replace the golden
file in the same commit.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from feeds.ical import FeedOptions, Revision, deadline_uid, opens_uid, to_ical
from feeds.model import Event
from feeds.timeline import parse_markdown
from tests.conftest import FIXTURES, ROOT

GOLDEN = FIXTURES / "golden"
URL = "https://example.org/term/README.md"


def plain() -> bytes:
    """One term with the default options, from a file source."""
    text = (FIXTURES / "table-utc.md").read_text(encoding="utf-8")
    return to_ical(parse_markdown(text, "table-utc.md").events)


def merged() -> bytes:
    """Two terms (title prefixes), alarms, a description, a revision and URL sources."""
    first = parse_markdown((FIXTURES / "table-utc.md").read_text(encoding="utf-8"), URL).events
    second = parse_markdown((FIXTURES / "dst.md").read_text(encoding="utf-8"), URL).events
    # A row made in code: no zones known (its days follow the feed's zone, Berlin), two
    # categories, no line number, a plain-http source.
    loose = Event(
        "loose@lfx-cal", "lfx-2032-t3", "Evaluations and stipends",
        dt.datetime(2032, 8, 2, 23, 30, tzinfo=dt.UTC), dt.datetime(2032, 8, 5, 6, tzinfo=dt.UTC),
        categories=("evaluation", "stipend"), source="http://example.org/plain.md",
    )  # fmt: skip
    events: list[Event] = [*first[:5], *second[:3], loose]
    options = FeedOptions(
        name="LFX Mentorship (all)",
        description="Every term's dates",
        zone="Europe/Berlin",
        refresh=dt.timedelta(hours=12),
        alarms=(dt.timedelta(days=1), dt.timedelta(minutes=30)),
    )
    moved = Revision(3, dt.datetime(2032, 7, 1, 8, 30, tzinfo=dt.UTC))
    return to_ical(events, options, {events[2].uid: moved})


def test_the_default_feed_is_the_golden_file() -> None:
    data = plain()
    assert data == (GOLDEN / "table-utc.ics").read_bytes()
    assert data.count(b"DTSTAMP:20200101T000000Z\r\n") == data.count(b"BEGIN:VEVENT") > 0


def test_a_merged_feed_with_alarms_and_revisions_is_the_golden_file() -> None:
    assert merged() == (GOLDEN / "merged.ics").read_bytes()


def test_another_process_with_another_hash_seed_writes_the_same_bytes() -> None:
    script = (
        "import sys; from tests.test_golden_ics import plain, merged; "
        "sys.stdout.buffer.write(plain() + b'\\0' + merged())"
    )
    want = (GOLDEN / "table-utc.ics").read_bytes() + b"\0" + (GOLDEN / "merged.ics").read_bytes()
    for seed in ("4242",):  # the parent's seed is random: one other interpreter is enough
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == want


def test_companion_uids_suffix_the_local_part() -> None:
    assert deadline_uid("lfx-2032-t3-x@lfx-cal") == "lfx-2032-t3-x-deadline@lfx-cal"
    assert opens_uid("a@b@c") == "a-opens@b@c"  # before the first "@"
    assert deadline_uid("plain") == "plain-deadline"


def test_term_prefixes_follow_the_option_when_given() -> None:
    one = Event("a@lfx-cal", "lfx-2032-t3", "Kickoff", dt.date(2032, 9, 7))
    other = Event("b@lfx-cal", "lfx-2033-t1", "Kickoff", dt.date(2033, 3, 7))
    summaries = lambda data: [  # noqa: E731
        line for line in data.decode().splitlines() if line.startswith("SUMMARY:")
    ]
    assert summaries(to_ical([one, other], FeedOptions(term_prefix=False))) == [
        "SUMMARY:Kickoff", "SUMMARY:Kickoff",
    ]  # fmt: skip
    assert summaries(to_ical([one], FeedOptions(term_prefix=True))) == [
        "SUMMARY:LFX 2032 T3 · Kickoff"
    ]
    assert summaries(to_ical([one, other])) == [
        "SUMMARY:LFX 2032 T3 · Kickoff", "SUMMARY:LFX 2033 T1 · Kickoff",
    ]  # fmt: skip


def test_an_event_at_the_calendars_edge_is_left_out_not_the_rest() -> None:
    edge = Event("edge@lfx-cal", "lfx-2032-t3", "The end of time", dt.date(9999, 12, 31))
    after = Event("after@lfx-cal", "lfx-2032-t3", "Kickoff", dt.date(2032, 9, 7))
    data = to_ical([edge, after])
    assert b"UID:after@lfx-cal" in data and b"UID:edge@lfx-cal" not in data
