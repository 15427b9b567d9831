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

from feeds.ical import FeedOptions, Revision, to_ical
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
    events: list[Event] = [*first[:5], *second[:3]]
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
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == want
