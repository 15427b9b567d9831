"""Three ``lfx-cal serve`` processes on one real PostgreSQL: each reminder goes out once."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path

import pytest

from scheduler.store import Store
from tests._daemon import Daemon, ceil_minute, free_port, lead_for, wait_for, write_term
from tests._servers_smtp import Handler, start_plain

pytestmark = pytest.mark.slow
RECIPIENTS = [f"mentee{n:02d}@example.org" for n in range(40)]


def test_three_daemons_share_one_database(tmp_path: Path, postgres_url: str) -> None:
    handler = Handler()
    smtp = start_plain(handler)
    t0 = dt.datetime.now(dt.UTC)
    deadline = ceil_minute(t0 + dt.timedelta(seconds=90))
    due = t0 + dt.timedelta(seconds=12)
    write_term(tmp_path / "term.md", [("Mentee Applications Close", deadline)])
    targets = ", ".join(f'"{r}"' for r in RECIPIENTS)
    config = tmp_path / "lfx-cal.toml"
    config.write_text(
        f"""
[service]
database = "{postgres_url}"
misfire_grace = "1m"

[[sources]]
name = "term"
path = "term.md"
poll = "2s"

[[subscriptions]]
name = "mentees"
notifier = "email"
target = [{targets}]
role = "mentee"
leads = ["{lead_for(deadline, due)}"]

[notifiers.email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "lfx-cal@example.org"
"""
    )
    daemons = [Daemon(config, free_port()) for _ in range(3)]
    try:
        for daemon in daemons:
            daemon.start()
        assert time.time() < due.timestamp(), "daemons took too long to start"
        wait_for(lambda: len(handler.messages) >= len(RECIPIENTS), 40, daemons[0].output)
        time.sleep(3)  # time for a duplicate to show up, if there were one
        received = Counter(r for m in handler.messages for r in m.rcpt_tos)
        assert received == dict.fromkeys(RECIPIENTS, 1)
        with Store(postgres_url) as store:
            assert store.counts().get("sent") == len(RECIPIENTS)
            owners = {d.owner for d in store.deliveries(statuses={"sent"}, limit=100)}
        # Each sent row names the daemon that sent it (host:pid:start), one of these three.
        pids = {str(d.process.pid) for d in daemons if d.process is not None}
        assert owners and {owner.split(":")[1] for owner in owners} <= pids, (owners, pids)
    finally:
        for daemon in daemons:
            assert daemon.stop() == 0, daemon.output()
        smtp.stop()
