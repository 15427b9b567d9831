"""Broken far ends (issue 10): a hung SMTP server, an absurd Retry-After, stopping on time.

A real daemon (in process) with real notifiers against real servers on loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifiers import RecorderNotifier, create
from notifiers.slack import SlackNotifier
from notifiers.workers import Workers
from scheduler.config import Config, parse_config
from scheduler.daemon import Daemon
from scheduler.delivery import backoff
from scheduler.store import Store
from tests._servers_hostile import SilentSMTP
from tests._servers_slack import FakeSlack, Reply
from tests.test_poll_delivery import Clock, document

# Applications close 2031-06-04T00:00Z; the 1-day reminder is due 2031-06-03T00:00Z.
DUE = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)
CONFIG = """
[service]
database = "sqlite:///{db}"
[[sources]]
name = "t"
path = "{doc}"
[[subscriptions]]
name = "first"
notifier = "{slow}"
target = {targets}
role = "mentee"
leads = ["1d"]
[[subscriptions]]
name = "rec"
notifier = "recorder"
target = ["ok"]
role = "mentee"
leads = ["1d"]
[notifiers.{slow}]
{table}
"""
TABLES = {
    "email": 'host = "127.0.0.1"\nfrom = "lfx@example.org"\nsecurity = "none"',
    "slack": 'token_env = "T"',
}


def config(tmp_path: Path, slow: str, targets: list[str]) -> Config:
    doc = tmp_path / "term.md"
    doc.write_text(document())
    text = CONFIG.format(
        db=(tmp_path / "s.db").as_posix(),
        doc=doc.as_posix(),
        slow=slow,
        targets=targets,
        table=TABLES[slow],
    )
    return parse_config(text, str(tmp_path / "c.toml"))


@pytest.fixture
def silent() -> Iterator[SilentSMTP]:
    server = SilentSMTP()
    yield server
    server.close()


def email(port: int, timeout: float) -> object:
    table = {"host": "127.0.0.1", "port": port, "security": "none", "timeout": timeout}
    # One connection: these tests follow one lane (several lanes: test_fanout_lanes.py).
    return create("email", {**table, "from": "lfx@example.org", "reconnects": 0, "connections": 1})


async def _statuses(daemon: Daemon) -> dict[str, tuple[str, str]]:
    rows = await asyncio.to_thread(daemon.store.deliveries)
    return {d.key.target: (d.status, d.error or "") for d in rows}


def test_a_hung_smtp_server_delays_only_email(tmp_path: Path, silent: SilentSMTP) -> None:
    targets = ["a@example.net", "b@example.net", "c@example.net"]
    conf = config(tmp_path, "email", targets)
    recorder = RecorderNotifier()

    async def scenario() -> None:
        notifiers = {"email": email(silent.port, timeout=6), "recorder": recorder}
        daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))  # type: ignore[arg-type]
        await daemon.start()
        try:
            job = next(j for j in daemon._planned.values() if "applications" in j.uid)
            fire = asyncio.create_task(daemon.courier.fire(job))
            for _ in range(600):
                if recorder.sent:
                    break
                await asyncio.sleep(0.05)
            assert [r.target for r in recorder.sent] == ["ok"]
            # e-mail, earlier in the fan-out, is still waiting for its server
            assert (await _statuses(daemon))["a@example.net"][0] == "claimed"
            await asyncio.wait_for(fire, 120)
            rows = await _statuses(daemon)
            assert {rows[t][0] for t in targets} == {"pending"}  # all retried later
            assert "unreachable" in rows["a@example.net"][1]
            assert "not tried" in rows["b@example.net"][1]  # not 3 × the timeout in a row
            assert silent.connections == 1
        finally:
            await daemon.stop()

    asyncio.run(scenario())


def test_stop_does_not_wait_for_a_hung_smtp_server(tmp_path: Path, silent: SilentSMTP) -> None:
    conf = config(tmp_path, "email", ["a@example.net"])

    async def scenario() -> None:
        notifiers = {"email": email(silent.port, timeout=120), "recorder": RecorderNotifier()}
        daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))  # type: ignore[arg-type]
        await daemon.start()
        job = next(j for j in daemon._planned.values() if "applications" in j.uid)
        daemon._tasks.add(asyncio.create_task(daemon.courier.fire(job)))
        for _ in range(200):
            if silent.connections:
                break
            await asyncio.sleep(0.05)
        assert silent.connections == 1
        await daemon.stop(timeout=2)
        for notifier in notifiers.values():
            notifier.close()  # must not wait for the batch stuck on the server
        rows = await _statuses(daemon)
        assert rows["a@example.net"][0] == "pending"  # released for the next run
        daemon.store.close()

    started = time.monotonic()
    asyncio.run(scenario())  # and asyncio.run must not join a thread stuck for 120 s
    assert time.monotonic() - started < 60


def test_retry_after_1e12_is_clamped_and_the_fan_out_goes_on(tmp_path: Path) -> None:
    assert backoff(1, 1e12) == dt.timedelta(hours=1)
    assert backoff(1, float("inf")) == backoff(1, float("nan")) == backoff(1)
    assert backoff(10**9) == dt.timedelta(hours=1)
    conf = config(tmp_path, "slack", ["#a", "#b"])
    recorder = RecorderNotifier()

    with FakeSlack() as slack:
        slack.then(
            "/api/chat.postMessage",
            *[Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1e12"})] * 2,
        )
        table = {"token_env": "T", "base_url": slack.base_url, "min_interval": 0, "timeout": 5}
        backend = SlackNotifier.from_config(table, {"T": "xoxb-test"})

        async def scenario() -> None:
            notifiers = {"slack": backend, "recorder": recorder}
            daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))  # type: ignore[arg-type]
            await daemon.start()
            try:
                job = next(j for j in daemon._planned.values() if "applications" in j.uid)
                await daemon.courier.fire(job)
                rows = await asyncio.to_thread(daemon.store.deliveries)
                by_target = {d.key.target: d for d in rows}
                assert by_target["ok"].status == "sent"
                assert by_target["#a"].status == by_target["#b"].status == "pending"
                assert by_target["#a"].retry_at == "2031-06-03T01:00:00Z"  # clamped to 1 h
                assert not [d for d in rows if d.status == "claimed"]
            finally:
                await daemon.stop()

        asyncio.run(scenario())
        assert len(slack.posts()) == 2  # one attempt each, no wait of 1e12 s in a thread


def test_a_notifier_pool_never_grows_past_its_size_and_never_blocks_exit() -> None:
    pool, gate = Workers("t", 2), threading.Event()
    running: set[str] = set()

    def task(n: int) -> int:
        running.add(threading.current_thread().name)
        gate.wait(30)
        return n

    futures = [pool.submit(task, n) for n in range(10)]
    time.sleep(0.2)
    assert len(pool._threads) == 2 and all(t.daemon for t in pool._threads)
    gate.set()
    assert [f.result(30) for f in futures] == list(range(10))
    assert running <= {"t-0", "t-1"}
    pool.shutdown(wait=True)


def test_a_hung_smtp_server_does_not_stop_change_detection(
    tmp_path: Path, silent: SilentSMTP
) -> None:
    from tests.test_poll_delivery import ROWS

    doc = tmp_path / "term.md"
    doc.write_text(document())
    text = f"""
[service]
database = "sqlite:///{(tmp_path / "s.db").as_posix()}"
[[sources]]
name = "t"
path = "{doc.as_posix()}"
[[subscriptions]]
name = "mail"
notifier = "email"
target = ["a@example.net"]
changes = true
[[subscriptions]]
name = "rec"
notifier = "recorder"
target = ["ok"]
changes = true
[notifiers.email]
host = "127.0.0.1"
from = "lfx@example.org"
"""
    conf = parse_config(text, str(tmp_path / "c.toml"))
    recorder = RecorderNotifier()

    def moved(day: str) -> str:
        return document([(ROWS[0][0], day), *ROWS[1:]])

    async def scenario() -> None:
        notifiers = {"email": email(silent.port, timeout=120), "recorder": recorder}
        daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))  # type: ignore[arg-type]
        await daemon.start()
        try:
            source = conf.sources[0]
            for day in ("Tue, May 20, 2031", "Wed, May 21, 2031"):
                doc.write_text(moved(day))
                result = await asyncio.wait_for(daemon.poll(source), 30)  # never waits on SMTP
                assert result.diff.moved, day
                for _ in range(200):
                    if len(recorder.sent) >= 1 + (day.startswith("Wed")):
                        break
                    await asyncio.sleep(0.05)
            assert len(recorder.sent) == 2  # both changes reached the recorder
            assert silent.connections >= 1  # while e-mail is still stuck on its server
        finally:
            await daemon.stop(timeout=2)
            for notifier in notifiers.values():
                notifier.close()
            daemon.store.close()

    asyncio.run(scenario())
