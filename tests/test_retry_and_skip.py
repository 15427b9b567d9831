"""The daemon's delivery promises, each at the level where the README makes it.

- "30 s, 1 min, 2 min, … up to 6 attempts, honouring Retry-After": the pure
  schedule (:func:`scheduler.delivery.backoff`) with its cap, and the courier
  stopping after the sixth attempt and passing a server's Retry-After on;
- "a reminder whose deadline already passed is recorded as skipped" (inside
  ``misfire_grace``, so only the deadline check can skip it);
- "on start it releases the claims a crashed run left" (SQLite): a row still
  leased to a dead run is sent right after a restart, not when the lease ends;
- "a version that lost more than half of its rows is refused": both sides of
  the boundary;
- a failing poll counts in the daemon's own ``lfxcal_source_fetch_failures``.

All in process: a real SQLite ledger, the recorder notifier, a clock the test
moves, and a loopback HTTP origin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
from pathlib import Path

import pytest

from feeds.model import Event
from notifiers import RecorderNotifier, TransientError
from scheduler.changes import LOST_ROWS, suspicious
from scheduler.config import parse_config
from scheduler.daemon import Daemon
from scheduler.delivery import LEASE, MAX_ATTEMPTS, backoff
from scheduler.plan import Job, fan_out
from scheduler.store import Store
from tests.test_poll_delivery import ROWS, Clock, Origin, document

S = dt.timedelta(seconds=1)
CLOSE = dt.datetime(2031, 6, 4, tzinfo=dt.UTC)
"""Mentee applications close (5 PM PDT on Jun 3) in :func:`document`."""

CONFIG = """
[service]
database = "sqlite:///{db}"
misfire_grace = "1h"
[[sources]]
name = "t"
{source}
[[subscriptions]]
name = "mentees"
notifier = "recorder"
target = {targets}
role = "mentee"
leads = ["{lead}"]
changes = {changes}
"""


def daemon_for(
    tmp_path: Path,
    now: dt.datetime,
    *,
    lead: str = "1d",
    url: str | None = None,
    targets: tuple[str, ...] = ("ann",),
    changes: bool = False,
) -> tuple[Daemon, RecorderNotifier, Clock]:
    if url is None:
        doc = tmp_path / "term.md"
        doc.write_text(document())
        source = f'path = "{doc.as_posix()}"'
    else:
        source = f'url = "{url}"'
    text = CONFIG.format(
        db=(tmp_path / "s.db").as_posix(),
        source=source,
        lead=lead,
        targets=json.dumps(targets),
        changes=json.dumps(changes),
    )
    config = parse_config(text, str(tmp_path / "c.toml"))
    recorder, clock = RecorderNotifier(), Clock(now)
    daemon = Daemon(config, Store(config.service.database), {"recorder": recorder}, clock=clock)
    return daemon, recorder, clock


def closing_job(daemon: Daemon) -> Job:
    return next(
        j for j in daemon._planned.values() if "applications" in j.uid and j.kind == "reminder"
    )


def at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the retry schedule, as a pure function -------------------------------------------


def test_the_retry_schedule_doubles_from_thirty_seconds_to_an_hour() -> None:
    waits = [backoff(attempts) / S for attempts in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff(0) / S == 30  # no attempt yet: the first wait
    assert backoff(10_000) / S == 3600  # no overflow for an absurd count
    assert MAX_ATTEMPTS == 6


@pytest.mark.parametrize(
    ("attempts", "retry_after", "seconds"),
    [
        (1, 90.0, 90),  # longer than the schedule: the server wins
        (1, 30.5, 30.5),
        (3, 10.0, 120),  # shorter: the schedule's own wait stays
        (3, 120.0, 120),
        (1, 7200.0, 3600),  # capped at an hour
        (1, 1e308, 3600),
        (1, float("inf"), 30),  # nonsense is ignored, never an overflow
        (1, float("nan"), 30),
        (2, -5.0, 60),
        (2, 0.0, 60),
        (2, None, 60),
    ],
)
def test_retry_after_lengthens_the_wait_up_to_an_hour(
    attempts: int, retry_after: float | None, seconds: float
) -> None:
    assert backoff(attempts, retry_after) / S == seconds


# -- the courier: attempt cap, Retry-After, passed deadline -------------------------------


def test_a_failing_target_is_tried_six_times_on_the_schedule_then_given_up(
    tmp_path: Path,
) -> None:
    due = CLOSE - dt.timedelta(days=1)

    async def scenario() -> None:
        daemon, recorder, clock = daemon_for(tmp_path, due - dt.timedelta(hours=1))
        recorder.fail("ann", *[TransientError("busy") for _ in range(10)])
        await daemon.start()
        try:
            clock.now = due
            await daemon.courier.fire(closing_job(daemon))
            tried_at = [due]
            for _ in range(20):  # more rounds than attempts: the cap must stop it
                (row,) = daemon.store.deliveries()
                if row.retry_at is None:
                    break
                clock.now = at(row.retry_at)
                await daemon.courier.sweep()
                tried_at.append(clock.now)
            (row,) = daemon.store.deliveries()
            gaps = [(b - a) / S for a, b in itertools.pairwise(tried_at)]
            assert gaps == [30, 60, 120, 240, 480]
            assert (row.status, row.attempts, row.retry_at) == ("failed", 6, None)
            assert len(recorder.attempts) == 6 and recorder.sent == []
            clock.now += dt.timedelta(hours=1)
            await daemon.courier.sweep()  # nothing is claimable any more
            assert len(recorder.attempts) == 6
            reminders = daemon.metrics.registry.get_sample_value
            assert reminders("lfxcal_reminders_total", {"outcome": "retried"}) == 5
            assert reminders("lfxcal_reminders_total", {"outcome": "failed"}) == 1
        finally:
            await daemon.stop()

    asyncio.run(scenario())


def test_the_courier_waits_as_long_as_the_server_asks(tmp_path: Path) -> None:
    due = CLOSE - dt.timedelta(days=1)
    asks = {"ann": 200.0, "bob": 7200.0, "cyd": None}  # seconds of Retry-After
    waits = {"ann": 200, "bob": 3600, "cyd": 30}  # the longer of it and 30 s, at most an hour

    async def scenario() -> None:
        daemon, recorder, clock = daemon_for(
            tmp_path, due - dt.timedelta(hours=1), targets=tuple(asks)
        )
        for target, retry_after in asks.items():
            recorder.fail(target, TransientError("rate limited", retry_after=retry_after))
        await daemon.start()
        try:
            clock.now = due
            await daemon.courier.fire(closing_job(daemon))
            rows = {row.key.target: row for row in daemon.store.deliveries()}
            assert {t: (r.status, r.attempts) for t, r in rows.items()} == dict.fromkeys(
                asks,
                ("pending", 1),  # waiting for its retry
            )
            assert {t: (at(r.retry_at) - due) / S for t, r in rows.items()} == waits
            for target, wait in sorted(waits.items(), key=lambda item: item[1]):
                clock.now = due + (wait - 1) * S
                await daemon.courier.sweep()  # not yet
                assert target not in [r.target for r in recorder.sent]
                clock.now = due + wait * S
                await daemon.courier.sweep()
                assert [r.target for r in recorder.sent][-1] == target
            assert len(recorder.sent) == 3
        finally:
            await daemon.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("after_close", "status"),
    [(dt.timedelta(0), "skipped"), (dt.timedelta(minutes=1), "skipped"), (-S * 60, "sent")],
)
def test_a_reminder_whose_deadline_passed_is_skipped_even_within_the_grace(
    tmp_path: Path, after_close: dt.timedelta, status: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A 30-minute reminder fired 30 (or 31) minutes late: well within misfire_grace (1 h),
    # so only the deadline check can stop it. A minute before the close it still goes out.

    async def scenario() -> None:
        daemon, recorder, clock = daemon_for(tmp_path, CLOSE - dt.timedelta(hours=2), lead="30m")
        await daemon.start()
        try:
            clock.now = CLOSE + after_close
            await daemon.courier.fire(closing_job(daemon))
            (row,) = daemon.store.deliveries()
            assert row.status == status
            counted = daemon.metrics.registry.get_sample_value
            uid = "lfx-2031-t2-mentee-applications-open@lfx-cal"
            if status == "skipped":
                assert recorder.sent == []
                assert row.error == (
                    "the deadline 2031-06-04T00:00:00Z passed before the reminder could be sent"
                )
                assert counted("lfxcal_reminders_total", {"outcome": "skipped"}) == 1
                assert f"skipped {uid} -> ann: {row.error}" in caplog.messages
            else:
                assert row.late and "1 minute" in recorder.sent[0].message.text
                assert counted("lfxcal_reminders_total", {"outcome": "late"}) == 1
                assert counted("lfxcal_reminders_total", {"outcome": "sent"}) is None
                # The notifier gets the ledger key as its idempotency key.
                key = f"mentees/reminder/{uid}/1800/2031-06-04T00:00:00Z/ann"
                assert recorder.sent[0].key == key
        finally:
            await daemon.stop()

    asyncio.run(scenario())


# -- restart over a claim a crashed run left (SQLite) ------------------------------------


def test_a_restart_releases_the_claim_a_crashed_run_left(tmp_path: Path) -> None:
    due = CLOSE - dt.timedelta(days=1)

    async def crashed_run() -> None:
        # The first run wrote and claimed the key, then died before sending (its lease
        # runs until due + 5 min). Its own stop() would release only its own claims.
        daemon, _recorder, _clock = daemon_for(tmp_path, due - dt.timedelta(hours=1))
        await daemon.start()
        try:
            job = closing_job(daemon)
            event: Event = daemon.courier.events[job.uid]
            keys = fan_out(job, event, daemon.courier.subscriptions)
            daemon.store.ensure([(key, job.due) for key in keys], due)
            assert daemon.store.claim(keys, "host:4242:000000", due, LEASE) == keys
        finally:
            await daemon.stop()

    async def restart() -> None:
        daemon, recorder, _clock = daemon_for(tmp_path, due + dt.timedelta(minutes=1))
        (row,) = daemon.store.deliveries()
        assert (row.status, row.owner) == ("claimed", "host:4242:000000")
        await daemon.start()
        try:
            await daemon.courier.sweep()  # one minute later, long before the lease ends
            assert [r.target for r in recorder.sent] == ["ann"]
            (row,) = daemon.store.deliveries()
            assert row.status == "sent" and row.owner == daemon.owner
        finally:
            await daemon.stop()

    asyncio.run(crashed_run())
    asyncio.run(restart())


# -- the lost-rows boundary ------------------------------------------------------------


def _events(count: int) -> list[Event]:
    return [Event(f"e{n}@t", "t", f"row {n}", dt.date(2031, 6, 1 + n)) for n in range(count)]


@pytest.mark.parametrize(
    ("before", "after", "refused"),
    [
        (10, 5, False),  # exactly half is kept: accepted
        (10, 4, True),  # one fewer than half: refused
        (11, 6, False),
        (11, 5, True),  # 5 < 5.5
        (4, 2, False),
        (4, 1, True),  # the smallest timeline judged
        (3, 0, False),  # fewer than four rows: too small to judge
        (10, 10, False),
        (10, 30, False),
    ],
)
def test_lost_rows_boundary_on_both_sides(before: int, after: int, refused: bool) -> None:
    assert LOST_ROWS == 0.5
    reason = suspicious(_events(before), _events(after))
    assert (reason is not None) == refused
    if refused:
        assert f"shrank from {before} to {after} events" in (reason or "")


# -- the fetch-failure metric after a real failing poll -----------------------------------


def test_a_failing_poll_counts_in_the_daemons_metrics(tmp_path: Path) -> None:
    origin = Origin()
    origin.serve("Internal error", '"e1"', 500)
    now = dt.datetime(2031, 5, 1, tzinfo=dt.UTC)

    async def scenario() -> None:
        daemon, _recorder, clock = daemon_for(tmp_path, now, url=origin.url)
        value = daemon.metrics.registry.get_sample_value
        await daemon.start()  # polls once: HTTP 500
        try:
            source = daemon.config.sources[0]
            assert value("lfxcal_source_fetch_failures_total", {"source": "t"}) == 1
            assert value("lfxcal_source_last_success_seconds", {"source": "t"}) is None
            origin.serve("<!DOCTYPE html><html>Sign in</html>", '"e2"')
            await daemon.poll(source)
            assert value("lfxcal_source_fetch_failures_total", {"source": "t"}) == 2
            origin.serve(document(), '"v1"')
            clock.now = now + dt.timedelta(minutes=5)
            await daemon.poll(source)
            assert value("lfxcal_source_fetch_failures_total", {"source": "t"}) == 2
            last = value("lfxcal_source_last_success_seconds", {"source": "t"})
            assert last == clock.now.timestamp()
            rendered = daemon.metrics.render().decode()
            assert 'lfxcal_source_fetch_failures_total{source="t"} 2.0' in rendered
        finally:
            await daemon.stop()
            origin.server.shutdown()

    asyncio.run(scenario())


def test_the_time_a_late_reminder_states() -> None:
    from scheduler.delivery import LATE_SLACK, time_left

    hour, minute = dt.timedelta(hours=1), dt.timedelta(minutes=1)
    assert dt.timedelta(minutes=5) == LATE_SLACK
    assert time_left(hour, CLOSE, CLOSE - 55 * minute) == hour  # five minutes late: on time
    assert time_left(hour, CLOSE, CLOSE - 55 * minute + S) == 54 * minute  # whole minutes left
    assert time_left(hour, CLOSE, CLOSE - 90 * S) == minute
    assert time_left(hour, CLOSE, CLOSE - 30 * S) == minute  # never "0 minutes"
    assert time_left(hour, CLOSE, CLOSE - 3 * hour) == hour  # early stays the lead


async def _settled(daemon: Daemon, recorder: RecorderNotifier, count: int) -> None:
    """Wait (at most 10 s) until the poll's alert task sent *count* and left no claim open."""
    for _ in range(1000):
        claimed = [d for d in daemon.store.deliveries() if d.status == "claimed"]
        if len(recorder.sent) >= count and not claimed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(recorder.sent)} of {count} messages sent")


def test_change_alerts_are_sent_retried_and_counted(tmp_path: Path) -> None:
    now = CLOSE - dt.timedelta(days=10)

    async def scenario() -> None:
        daemon, recorder, clock = daemon_for(tmp_path, now, targets=("ann", "bob"), changes=True)
        value = daemon.metrics.registry.get_sample_value
        await daemon.start()
        try:
            source = daemon.config.sources[0]
            doc = tmp_path / "term.md"
            recorder.fail("bob", TransientError("busy", retry_after=60))
            doc.write_text(document().replace("5PM PDT", "6PM PDT"))  # applications close later
            await daemon.poll(source)
            await _settled(daemon, recorder, 1)
            (alert,) = recorder.sent
            assert alert.target == "ann" and alert.message.kind == "changed"
            assert alert.message.title.startswith("Changed: Mentee applications")
            uid = "lfx-2031-t2-mentee-applications-open@lfx-cal"
            old, new = "2031-05-21 → 2031-06-04T00:00:00Z", "2031-05-21 → 2031-06-04T01:00:00Z"
            assert alert.key == f"mentees/changed/{uid}/0/{old}|{new}/ann"
            # bob's alert is retried by the sweep a minute later, rebuilt from the ledger key.
            clock.now = now + dt.timedelta(minutes=1)
            await daemon.courier.sweep()
            assert [r.target for r in recorder.sent] == ["ann", "bob"]
            # The retry is worded from the key alone (old and new dates as stored).
            assert recorder.sent[1].message.title == (
                f"Changed: Mentee applications — the dates moved to {new}"
            )
            assert value("lfxcal_reminders_total", {"outcome": "retried"}) == 1
            assert value("lfxcal_reminders_total", {"outcome": "sent"}) == 2  # never "late"
            # A removed row is an alert too (its event is kept to word it).
            doc.write_text(document([r for r in ROWS if "Applications" not in r[0]]))
            await daemon.poll(source)
            await _settled(daemon, recorder, 4)
            removed = [r for r in recorder.sent[2:]]
            assert {r.target for r in removed} == {"ann", "bob"}
            assert all(r.message.kind == "changed" for r in removed)
            assert all(r.key.endswith(f"/{new}|-/{r.target}") for r in removed)
        finally:
            await daemon.stop()

    asyncio.run(scenario())


def test_after_a_slow_failure_the_rest_of_the_chunk_waits_for_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any failure counts as slow here (the threshold is 5 s; a test cannot wait that long).
    monkeypatch.setattr("scheduler.delivery.SLOW_FAILURE", -1.0)
    due = CLOSE - dt.timedelta(days=1)

    async def scenario() -> None:
        daemon, recorder, clock = daemon_for(
            tmp_path, due - dt.timedelta(hours=1), targets=("ann", "bob", "cyd")
        )
        recorder.fail("ann", TransientError("timed out"))
        # One lane for every target, as behind one relay: each target is its own lane by
        # default, and a failure in one lane holds up only that lane.
        monkeypatch.setattr(recorder, "lane", lambda target: "relay")
        await daemon.start()
        try:
            clock.now = due
            await daemon.courier.fire(closing_job(daemon))
            assert [t for _, t in recorder.attempts] == ["ann"]  # bob and cyd not tried
            rows = {row.key.target: row for row in daemon.store.deliveries()}
            for target in ("bob", "cyd"):
                row = rows[target]
                assert row.error == "not tried: the previous send failed after 0 s"
                assert (row.status, row.attempts, at(row.retry_at)) == ("pending", 1, due + 30 * S)
            clock.now = due + 30 * S
            await daemon.courier.sweep()
            assert sorted(r.target for r in recorder.sent) == ["ann", "bob", "cyd"]
        finally:
            await daemon.stop()

    asyncio.run(scenario())
