"""An honest /healthz (issue 10): the real application on loopback, real far ends.

Each test builds the service with ``make_app`` and breaks one thing: a source
that drips, a poll that hangs, a database that takes no writes, deliveries that
nobody sends.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scheduler.daemon as daemon_module
from lfx_cal.server import DAEMON, make_app
from scheduler.config import Config, parse_config
from scheduler.daemon import Daemon
from scheduler.plan import Key
from tests._servers_hostile import DrippingOrigin
from tests.test_poll_delivery import document
from tests.test_web_http import Served

SECRETS = ("s3cr3t-pw", "t0k3n-XYZ", "reader:")


def make_config(tmp_path: Path, source: str) -> Config:
    doc = tmp_path / "term.md"
    doc.write_text(document())
    text = f"""
[service]
database = "sqlite:///{(tmp_path / "db" / "s.db").as_posix()}"
{source.replace("DOC", doc.as_posix())}
[[subscriptions]]
name = "rec"
notifier = "recorder"
target = ["ok"]
"""
    (tmp_path / "db").mkdir(exist_ok=True)
    return parse_config(text, str(tmp_path / "c.toml"))


class Service(Served):
    """The whole service (routes + daemon) on loopback."""

    def __init__(self, config: Config) -> None:
        self.app = make_app(config)
        super().__init__(self.app)

    @property
    def daemon(self) -> Daemon:
        return self.app[DAEMON]

    def health(self) -> tuple[int, dict[str, Any]]:
        reply = self.get("/healthz")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Cache-Control"] == "no-store"
        return reply.status, json.loads(reply.body)

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)


def wait_for(check: Callable[[], bool], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def test_listener_opens_before_a_dripping_first_poll_and_healthz_tells(tmp_path: Path) -> None:
    origin = DrippingOrigin("body", interval=0.2)
    source = f'[[sources]]\nname = "t"\nurl = "{origin.url}"\npoll = "1h"\nfetch_deadline = "8s"\n'
    try:
        with Service(make_config(tmp_path, source)) as service:
            status, body = service.health()  # the first poll is still dripping
            assert status == 200 and body["status"] == "ok"
            assert body["sources"]["t"]["polling_for"] is not None
            wait_for(lambda: service.health()[0] == 503)
            status, body = service.health()
            assert body["status"] == "degraded"
            assert body["reasons"] == ["source t: last poll failed"]
            assert "no complete answer within 8 s" in body["sources"]["t"]["last_error"]
            assert not [s for s in SECRETS if s in json.dumps(body)]
    finally:
        origin.close()


def test_a_poll_stuck_past_its_deadline_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = daemon_module.poll
    calls: list[str] = []

    def hanging(*args: Any, **kwargs: Any) -> Any:  # stands in for a parser that never returns
        calls.append("poll")
        if len(calls) > 1:
            release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(daemon_module, "poll", hanging)
    monkeypatch.setattr(daemon_module, "PARSE_BUDGET", 0.0)
    source = '[[sources]]\nname = "t"\npath = "DOC"\npoll = "2s"\nfetch_deadline = "1s"\n'
    with Service(make_config(tmp_path, source)) as service:
        try:
            wait_for(lambda: "stuck" in " ".join(service.health()[1]["reasons"]))
            status, body = service.health()
            assert status == 503 and body["reasons"][0].startswith("source t: poll stuck for")
            assert len(calls) == 2  # later polls of a stuck source are skipped, not piled up
        finally:
            release.set()
        wait_for(lambda: service.health()[0] == 200)


def test_a_database_that_takes_no_writes_is_reported(tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr to make the database immutable")
    source = '[[sources]]\nname = "t"\npath = "DOC"\n'
    with Service(make_config(tmp_path, source)) as service:
        wait_for(lambda: service.health()[1]["sources"]["t"]["last_success"] is not None)
        assert service.health()[0] == 200
        files = [tmp_path / "db", *sorted((tmp_path / "db").iterdir())]
        made = subprocess.run(["chattr", "+i", *map(str, files)], capture_output=True)
        if made.returncode:
            pytest.skip(f"chattr +i not possible here: {made.stderr.decode().strip()}")
        try:
            service.run(service.daemon.probe())
            status, body = service.health()
            assert status == 503 and body["status"] == "degraded"
            assert [r[:22] for r in body["reasons"]] == ["database: cannot write"]
        finally:
            subprocess.run(["chattr", "-i", *map(str, files)], check=True)
        service.run(service.daemon.probe())
        assert service.health()[0] == 200


def test_overdue_deliveries_are_reported_without_a_worker_thread(tmp_path: Path) -> None:
    source = '[[sources]]\nname = "t"\npath = "DOC"\n'
    with Service(make_config(tmp_path, source)) as service:
        wait_for(lambda: service.health()[1]["sources"]["t"]["last_success"] is not None)
        daemon = service.daemon
        service.loop.call_soon_threadsafe(daemon.scheduler.remove_job, "sweep")
        now = daemon.clock()
        key = Key("rec", "reminder", "x@lfx-cal", 60, "2031-01-01T00:00:00Z", "ok")
        daemon.store.ensure([(key, now - daemon_module.dt.timedelta(hours=1))], now)
        daemon.overdue_after = daemon_module.dt.timedelta(minutes=1)
        service.run(daemon.probe())
        # Every thread of asyncio's default pool is now busy: /healthz must not need one.
        blocker = threading.Event()

        async def occupy() -> None:
            loop = asyncio.get_running_loop()
            for _ in range(64):
                loop.run_in_executor(None, blocker.wait, 60)

        service.run(occupy())
        try:
            status, body = service.health()
            assert status == 503 and body["reasons"] == ["deliveries: 1 overdue"]
        finally:
            blocker.set()


PAST_TERM = (
    "# Term 01 - 2024 March - May\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n"
    "| Mentee applications | Mon, Jan 29 - Tue, Feb 13, 2024 |\n"
    "| Last day of term | Fri, May 31 |\n"
)
WEEKDAY_TERM = (
    "# Term 02 - 2031 June - August\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n"
    "| Applications | Mon, May 5 - Fri, May 16 |\n| Kickoff | Sat, June 9 |\n"
    "| Evaluation | Tue, July 15 |\n"
)


def test_healthz_flags_a_past_term_and_years_against_weekdays(tmp_path: Path) -> None:
    (tmp_path / "past.md").write_text(PAST_TERM)
    (tmp_path / "odd.md").write_text(WEEKDAY_TERM)
    sources = (
        f'[[sources]]\nname = "past"\npath = "{(tmp_path / "past.md").as_posix()}"\n'
        f'[[sources]]\nname = "odd"\npath = "{(tmp_path / "odd.md").as_posix()}"\n'
    )
    with Service(make_config(tmp_path, sources)) as service:
        wait_for(lambda: len(service.daemon.timelines) == 2)
        status, body = service.health()
    assert status == 200 and body["status"] == "ok"  # content, not a broken service
    past, odd = body["sources"]["past"]["attention"], body["sources"]["odd"]["attention"]
    assert "all 2 events of term lfx-2024-t1 are in the past" in past[0]
    assert "no reminder will be planned" in past[0]
    assert "print a weekday that does not match" in odd[0] and "lines 8" in odd[0]
    assert len(body["attention"]) == 2


def test_two_sources_of_one_term_keep_every_event(tmp_path: Path) -> None:
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text(WEEKDAY_TERM.replace("Sat, June 9", "Mon, June 9"))
    sources = (
        f'[[sources]]\nname = "a"\npath = "{(tmp_path / "a.md").as_posix()}"\n'
        f'[[sources]]\nname = "b"\npath = "{(tmp_path / "b.md").as_posix()}"\n'
    )
    with Service(make_config(tmp_path, sources)) as service:
        wait_for(lambda: len(service.daemon.events) == 6)
        uids = sorted(service.daemon.events)
    assert "lfx-2031-t2-kickoff@lfx-cal" in uids and "lfx-2031-t2-kickoff-2@lfx-cal" in uids
