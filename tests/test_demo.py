"""The README's run command: ``lfx-cal serve`` with no config prints a reminder within a minute."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feeds.timeline import parse_markdown
from feeds.zones import zone
from lfx_cal.demo import demo_config, demo_document
from scheduler.plan import jobs_for
from tests._daemon import free_port


def test_the_demo_term_puts_the_first_reminder_within_a_minute(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 21, 11, 22, 59, tzinfo=dt.UTC)
    config, banner = demo_config(tmp_path / "demo", now, "127.0.0.1:8080")
    timeline = parse_markdown(demo_document(now), "term.md")
    assert timeline.warnings == () and len(timeline.events) == 12
    jobs = jobs_for(timeline.events, config.subscriptions, zone("UTC"), after=now)
    assert now < jobs[0].due <= now + dt.timedelta(seconds=60)
    assert (tmp_path / "demo" / "term.md").is_file() and "term.md" in banner


@pytest.mark.parametrize("second", [0.0, 0.5, 30.0, 59.9])
def test_the_first_reminder_comes_fifteen_seconds_after_start_then_every_two_minutes(
    tmp_path: Path, second: float
) -> None:
    now = dt.datetime(2026, 11, 21, 11, 22, tzinfo=dt.UTC) + dt.timedelta(seconds=second)
    config, _ = demo_config(tmp_path / "demo", now, "127.0.0.1:8080")
    timeline = parse_markdown(demo_document(now), "term.md")
    jobs = jobs_for(timeline.events, config.subscriptions, zone("UTC"), after=now)
    due = sorted(job.due for job in jobs if job.kind == "reminder")
    assert now + dt.timedelta(seconds=14) < due[0] <= now + dt.timedelta(seconds=16)
    assert {b - a for a, b in itertools.pairwise(due)} == {dt.timedelta(minutes=2)}


@pytest.mark.slow
def test_serve_without_config_prints_a_reminder_within_a_minute(tmp_path: Path) -> None:
    log = tmp_path / "out.txt"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lfx_cal", "serve", "--listen", f"127.0.0.1:{free_port()}"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        end = time.monotonic() + 65
        while time.monotonic() < end and "[reminder] " not in log.read_text():
            assert process.poll() is None, log.read_text()
            time.sleep(0.5)
        # issue 11's wording; the lead is the demo's (45 s to 1m45s, see lfx_cal.demo)
        lead = r"(1 minute|\d+ seconds)( \d+ seconds?)?"
        assert re.search(rf"\[reminder\] Project proposals close in {lead} — ", log.read_text())
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0, log.read_text()
