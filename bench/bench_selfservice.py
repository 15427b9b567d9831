"""Benchmark: the self-service parts with many subscribers, against Slack's 3-second limit.

A real ``make_app`` (daemon, SQLite, the e-mail backend pointed at a loopback
SMTP server, the Slack command on) on loopback, with ``--subscribers``
confirmed e-mail subscribers (random roles, zones and lead times) written into
the table first. Measured, median and worst of ``--runs``:

* ``/deadlines`` answer time: a signed ``POST /slack/commands`` to its answer
  (Slack gives up after 3 s);
* ``POST /signup`` answer time (the confirmation mail goes out afterwards);
* a reload: reading every confirmed row, building their subscriptions and
  re-planning (what a confirm, a change or an unsubscribe costs the loop).

Run: ``python bench/bench_selfservice.py [--subscribers 10000] [--runs 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _daemon_tools import Mailbox, free_port, median, smtp_server, wait_for, write_term
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import insert

from feeds.categories import ROLES
from lfx_cal.server import DAEMON, make_app
from scheduler.config import parse_config
from scheduler.subscribers import Subscribers, subscribers

SIGNING = "bench-signing-secret-0123456789"
CONFIG = """
[service]
database = "sqlite:///{db}"
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}/"
signup = true
signup_secret_env = "LFX_CAL_BENCH_SIGNUP"
signup_leads = ["7d", "1d", "1h"]
signup_per_ip = 100000
signup_max_pending = 100000
[[sources]]
name = "t"
path = "{doc}"
[notifiers.email]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "bench@example.org"
[notifiers.slack]
token_env = "LFX_CAL_BENCH_SLACK"
signing_secret_env = "LFX_CAL_BENCH_SIGNING"
"""


def fill(url: str, count: int) -> None:
    """Write *count* confirmed e-mail subscribers straight into the table."""
    zones = ["UTC", "Asia/Tokyo", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"]
    leads = ["604800,86400", "86400", "86400,3600", "3600"]
    rng = random.Random(7)
    rows = Subscribers(url)
    rows.close()
    from scheduler.schema import open_engine

    _, engine = open_engine(url)
    stamp = "2030-01-01T00:00:00Z"
    values = [
        {
            "channel": "email",
            "address": f"user{n}@example.org",
            "state": "confirmed",
            "role": rng.choice([None, *ROLES]),
            "leads": rng.choice(leads),
            "zone": rng.choice(zones),
            "manage_nonce": f"n{n}",
            "mails": 1,
            "created_at": stamp,
            "confirmed_at": stamp,
            "updated_at": stamp,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(insert(subscribers), values)
    engine.dispose()


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    os.environ |= {
        "LFX_CAL_BENCH_SIGNUP": "x" * 40,
        "LFX_CAL_BENCH_SLACK": "xoxb-bench",
        "LFX_CAL_BENCH_SIGNING": SIGNING,
    }
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as folder, smtp_server(Mailbox()) as smtp:
        doc, db = Path(folder) / "term.md", Path(folder) / "s.db"
        rows = [
            (f"Mentee Applications Close {n}", now + dt.timedelta(days=3 + n)) for n in range(8)
        ]
        write_term(doc, rows)
        port = free_port()
        text = CONFIG.format(db=db.as_posix(), port=port, doc=doc.as_posix(), smtp=smtp)
        config = parse_config(text, str(Path(folder) / "c.toml"))
        fill(config.service.database, args.subscribers)
        app = make_app(config)
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app, access_log=None)
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()

        async def start() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()

        asyncio.run_coroutine_threadsafe(start(), loop).result(120)
        daemon = app[DAEMON]
        wait_for(lambda: bool(daemon.events), 60, "the daemon never read the term")
        planned = len(daemon.plan())
        subscribed = sum(s.name.startswith("subscriber-") for s in daemon.subscriptions())

        command = urlencode({"command": "/deadlines", "text": "mentee", "user_id": "U1"}).encode()
        slack = [post(port, "/slack/commands", command, signed(command)) for _ in range(args.runs)]
        assert all(status == 200 for status, _ in slack), slack[:3]
        form = {"lead": "1d", "zone": "UTC", "role": "mentee"}
        signups = [
            post(
                port,
                "/signup",
                urlencode({**form, "email": f"new{n}@example.org"}).encode(),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Sec-Fetch-Site": "same-origin",
                },
            )
            for n in range(args.runs)
        ]
        assert all(status == 200 for status, _ in signups), signups[:3]
        reloads, blocking = [], []
        for _ in range(max(3, args.runs // 6)):
            started = time.perf_counter()
            asyncio.run_coroutine_threadsafe(_reload(app), loop).result(120)
            reloads.append(time.perf_counter() - started)
            blocking.append(asyncio.run_coroutine_threadsafe(_replan(app), loop).result(120))
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    def show(name: str, figures: list[float]) -> None:
        middle, worst = median(figures) * 1000, max(figures) * 1000
        print(f"{name:<28} median {middle:8.1f} ms   worst {worst:8.1f} ms")

    print(f"{subscribed} self-service subscribers, {planned} jobs planned, {args.runs} runs")
    show("/deadlines answer", [t for _, t in slack])
    show("POST /signup answer", [t for _, t in signups])
    show("reload (read, sign, re-plan)", reloads)
    show("  of which on the loop", blocking)


async def _reload(app: web.Application) -> None:
    from lfx_cal.selfservice import PARTS

    await app[PARTS].reload()


async def _replan(app: web.Application) -> float:
    """Seconds the loop is held by handing the current subscribers to the daemon."""
    daemon = app[DAEMON]
    mine = [s for s in daemon.subscriptions() if s.name.startswith("subscriber-")]
    started = time.perf_counter()
    daemon.set_subscribers(mine)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
