"""Polling (real HTTP, real SQLite) and the delivery protocol (ledger, retries, skips)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from notifiers import PermanentError, RecorderNotifier, TransientError
from scheduler.config import parse_config
from scheduler.daemon import Daemon
from scheduler.poll import poll
from scheduler.store import Store

ROWS = [
    ("Project Proposals Open", "Tue, May 6 – Mon, May 19, 11AM PDT (18:00 UTC)"),
    ("Mentee Applications Open", "Wed, May 21 – Tue, Jun 3, 5PM PDT"),
    ("Application Review Period", "Wed, Jun 4 – Tue, Jun 17"),
    ("Mentorship Program Begins", "Mon, Jun 23"),
    ("First Stipend Payments", "Wed, Jul 16"),
    ("Final Mentee Evaluations", "Tue, Aug 19, 11AM PDT (18:00 UTC)"),
]


def document(rows: list[tuple[str, str]] = ROWS) -> str:
    body = "\n".join(f"| {a} | {d} |" for a, d in rows)
    head = "# Term 02 - 2031 June - August\n\n### Timeline\n\n| Activity | Dates |\n|---|---|\n"
    return f"{head}{body}\n"


class Origin:
    """A loopback HTTP server with ETag support whose reply the test changes."""

    def __init__(self) -> None:
        self.body, self.status, self.etag = document().encode(), 200, '"v1"'
        self.seen: list[str | None] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                origin.seen.append(self.headers.get("If-None-Match"))
                if origin.status == 200 and self.headers.get("If-None-Match") == origin.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(origin.status)
                self.send_header("ETag", origin.etag)
                self.send_header("Content-Length", str(len(origin.body)))
                self.end_headers()
                self.wfile.write(origin.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/README.md"

    def serve(self, body: str | bytes, etag: str, status: int = 200) -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.etag, self.status = etag, status


@pytest.fixture
def origin() -> Any:
    server = Origin()
    yield server
    server.server.shutdown()


def test_poll_keeps_the_last_good_version_through_outages(tmp_path: Path, origin: Origin) -> None:
    config = parse_config(f'[[sources]]\nname = "t"\nurl = "{origin.url}"\n', "c.toml")
    source, now = config.sources[0], dt.datetime(2031, 5, 1, tzinfo=dt.UTC)
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        first = poll(source, store, "America/Los_Angeles", now)
        assert first.first and first.error is None and len(first.timeline.events) == 6
        again = poll(source, store, "America/Los_Angeles", now)
        assert origin.seen == [None, '"v1"'] and not again.diff and again.timeline == first.timeline

        outages = [
            ("<!DOCTYPE html><html>Rate limited</html>", 200, "HTML page"),
            ("Internal error", 500, "HTTP 500"),
            ("# Term 02 - 2031\n\nNothing here yet.\n", 200, "timeline"),
            (document(ROWS[:2]), 200, "shrank from 6 to 2"),
        ]
        for n, (body, status, expected) in enumerate(outages):
            origin.serve(body, f'"bad{n}"', status)
            result = poll(source, store, "America/Los_Angeles", now)
            assert expected in (result.error or ""), result.error
            assert result.timeline == first.timeline and not result.diff
        status = store.source_status()[0]
        assert status.failures == 4 and status.etag == '"v1"'

        moved = [(a, d.replace("5PM", "6PM")) for a, d in ROWS]
        origin.serve(document(moved), '"v2"')
        result = poll(source, store, "America/Los_Angeles", now)
        assert result.error is None and [o.title for o, _ in result.diff.moved] == [
            "Mentee Applications Open"
        ]
        uid = result.diff.moved[0][1].uid
        assert store.revisions()[uid].sequence == 1
        assert [(c.kind, c.old, c.new) for c in store.changes()] == [
            ("moved", "2031-05-21 → 2031-06-04T00:00:00Z", "2031-05-21 → 2031-06-04T01:00:00Z")
        ]
        assert store.source_status()[0].failures == 0


CONFIG = """
[service]
database = "sqlite:///{db}"
misfire_grace = "1h"
[[sources]]
name = "t"
path = "{doc}"
[[subscriptions]]
name = "mentees"
notifier = "recorder"
target = ["ok", "flaky", "broken"]
role = "mentee"
leads = ["1d"]
"""


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def make_daemon(tmp_path: Path, now: dt.datetime) -> tuple[Daemon, RecorderNotifier, Clock]:
    doc = tmp_path / "term.md"
    doc.write_text(document())
    text = CONFIG.format(db=(tmp_path / "s.db").as_posix(), doc=doc.as_posix())
    config = parse_config(text, str(tmp_path / "c.toml"))
    recorder, clock = RecorderNotifier(), Clock(now)
    daemon = Daemon(config, Store(config.service.database), {"recorder": recorder}, clock=clock)
    return daemon, recorder, clock


def test_retries_permanent_failures_and_no_second_send(tmp_path: Path) -> None:
    # Applications close 2031-06-04T00:00Z; the 1-day reminder is due 2031-06-03T00:00Z.
    due = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)

    async def scenario() -> None:
        daemon, recorder, clock = make_daemon(tmp_path, due - dt.timedelta(hours=2))
        recorder.fail("flaky", TransientError("try later", retry_after=120))
        recorder.fail("broken", PermanentError("channel_not_found"))
        await daemon.start()
        try:
            job = next(j for j in daemon._planned.values() if "applications" in j.uid)
            clock.now = due
            await daemon.courier.fire(job)
            await daemon.courier.fire(job)  # a second firing sends nothing new
            assert [r.target for r in recorder.sent] == ["ok"]
            clock.now = due + dt.timedelta(minutes=3)
            await daemon.courier.sweep()
            assert [r.target for r in recorder.sent] == ["ok", "flaky"]
            rows = {d.key.target: d for d in daemon.store.deliveries()}
            assert rows["ok"].status == rows["flaky"].status == "sent"
            assert rows["flaky"].late and not rows["ok"].late and rows["flaky"].attempts == 2
            assert rows["broken"].status == "failed" and "channel_not_found" in rows["broken"].error
        finally:
            await daemon.stop()

    asyncio.run(scenario())


def test_reminders_missed_beyond_the_grace_window_are_recorded_as_skipped(tmp_path: Path) -> None:
    due = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)

    async def scenario() -> None:
        daemon, recorder, _clock = make_daemon(tmp_path, due + dt.timedelta(hours=2))
        await daemon.start()
        try:
            job = next(j for j in daemon._planned.values() if "applications" in j.uid)
            await daemon.courier.fire(job)
            assert recorder.sent == []
            rows = daemon.store.deliveries()
            assert {d.status for d in rows} == {"skipped"} and len(rows) == 3
            assert "misfire_grace" in (rows[0].error or "")
        finally:
            await daemon.stop()

    asyncio.run(scenario())


def test_a_reminder_sent_late_says_the_time_really_left(tmp_path: Path) -> None:
    from scheduler.delivery import time_left

    deadline = dt.datetime(2031, 6, 4, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    assert time_left(hour, deadline, deadline - hour) == hour  # on time
    assert time_left(hour, deadline, deadline - hour + dt.timedelta(minutes=4)) == hour
    assert time_left(hour, deadline, deadline - dt.timedelta(seconds=61)) == dt.timedelta(minutes=1)
    assert time_left(hour, deadline, deadline - dt.timedelta(seconds=5)) == dt.timedelta(minutes=1)
    due = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)

    async def scenario() -> None:
        daemon, recorder, clock = make_daemon(tmp_path, due - dt.timedelta(hours=2))
        await daemon.start()
        try:
            job = next(j for j in daemon._planned.values() if "applications" in j.uid)
            clock.now = due + dt.timedelta(minutes=50)  # late, but within misfire_grace
            await daemon.courier.fire(job)
            titles = {r.message.title for r in recorder.sent}
            assert titles and not any("1 day" in t for t in titles), titles
            assert all("23 hours" in t for t in titles), titles
        finally:
            await daemon.stop()

    asyncio.run(scenario())
