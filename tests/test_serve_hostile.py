"""``lfx-cal serve`` against broken far ends (issue 10), as a real process.

One service with a source URL carrying credentials that drips its answer, an
SMTP server that never answers, a console subscription that must not wait for
it, idle and malformed connections — then SIGTERM must end it within 20 s.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lfx_cal.server import private_listen
from tests._daemon import Daemon, ceil_minute, free_port, lead_for, wait_for, write_term
from tests._servers_hostile import DrippingOrigin, SilentSMTP

pytestmark = pytest.mark.slow
SECRETS = ("s3cr3t-pw", "t0k3n-XYZ", "reader:")

CONFIG = """
[service]
database = "sqlite:///{db}"
public_url = "https://cal.example.org/lfx/"

[[sources]]
name = "remote"
url = "{url}"
poll = "1h"
fetch_deadline = "3s"

[[sources]]
name = "term"
path = "term.md"
poll = "1h"

[[subscriptions]]
name = "mail"
notifier = "email"
target = ["ada@example.org"]
leads = ["{lead}"]

[[subscriptions]]
name = "screen"
notifier = "console"
target = "stdout"
leads = ["{lead}"]

[notifiers.email]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "lfx@example.org"
timeout = 60
"""


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_serve_survives_hostile_far_ends_and_stops_on_time(tmp_path: Path) -> None:
    origin, smtp = DrippingOrigin("headers", interval=0.3), SilentSMTP()
    now = dt.datetime.now(dt.UTC)
    deadline = ceil_minute(now + dt.timedelta(minutes=3))
    write_term(tmp_path / "term.md", [("Mentee Applications Close", deadline)])
    config = tmp_path / "lfx-cal.toml"
    config.write_text(
        CONFIG.format(
            db=(tmp_path / "s.db").as_posix(),
            url=origin.url,
            lead=lead_for(deadline, now + dt.timedelta(seconds=8)),
            smtp=smtp.port,
        )
    )
    port = free_port()
    daemon = Daemon(config, port)
    try:
        daemon.start()  # healthy while the remote source is still dripping
        wait_for(lambda: "remote" in " ".join(daemon.health()["reasons"]), 60, daemon.output)
        body = daemon.health()
        assert body["status"] == "degraded"
        assert body["reasons"] == ["source remote: last poll failed"]
        assert not [s for s in SECRETS if s in json.dumps(body)]

        # The reminder reaches the console while e-mail hangs on the silent server.
        wait_for(lambda: "[reminder]" in daemon.output(), 60, daemon.output)
        assert "feed: https://cal.example.org/lfx/feeds/all.ics" in daemon.output()
        wait_for(lambda: smtp.connections >= 1, 30, daemon.output)

        # A connection that never completes its request is closed; one over the cap too.
        idle = socket.create_connection(("127.0.0.1", port))
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert closed_by_server(idle, 40)
        idle.close()
        malformed = [
            b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        ]
        for request in malformed * 3:  # answered 400, logged as one short line a minute
            bad = socket.create_connection(("127.0.0.1", port))
            bad.sendall(request)
            assert bad.recv(1024).split(b"\r\n")[0].endswith(b" 400 Bad Request")
            bad.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert daemon.healthy()

        started = time.monotonic()
        assert daemon.stop() == 0  # waits at most 20 s
        assert time.monotonic() - started < 20
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill9()
        origin.close()
        smtp.close()
    log = daemon.output()
    assert "Traceback" not in log, log
    assert log.count("malformed request") <= 1, log
    assert not [s for s in SECRETS if s in log], log


def test_links_to_a_wildcard_or_loopback_listener_are_flagged() -> None:
    assert private_listen("0.0.0.0:8080") and private_listen("127.0.0.1:8080")
    assert private_listen("[::]:8080") and private_listen("localhost:8080")
    assert not private_listen("cal.example.org:8080") and not private_listen("10.0.0.5:80")


def test_idle_sockets_cannot_lock_out_healthz(tmp_path: Path) -> None:
    write_term(tmp_path / "term.md", [("Kickoff", dt.datetime(2031, 6, 10, tzinfo=dt.UTC))])
    config = tmp_path / "lfx-cal.toml"
    config.write_text(
        f'[service]\ndatabase = "sqlite:///{(tmp_path / "s.db").as_posix()}"\n'
        '[[sources]]\nname = "term"\npath = "term.md"\n'
        '[[subscriptions]]\nname = "screen"\nnotifier = "console"\ntarget = "stdout"\n'
    )
    port, log = free_port(), (tmp_path / "serve.log").open("wb")

    def few_files() -> None:  # as under `ulimit -n 128`
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    process = subprocess.Popen(
        [sys.executable, "-m", "lfx_cal", "serve", "--config", str(config),
         "--listen", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=few_files,
    )  # fmt: skip
    idle: list[socket.socket] = []
    try:
        url = f"http://127.0.0.1:{port}/healthz"

        def answers() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    return reply.status == 200
            except OSError:
                return False

        wait_for(answers, 30, "serve never answered")
        for _ in range(200):  # more idle connections than the process has descriptors
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(1)
        assert answers(), (tmp_path / "serve.log").read_text()
        assert process.poll() is None
    finally:
        for sock in idle:
            sock.close()
        process.terminate()
        process.wait(20)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "accept() failed" not in text and "Traceback" not in text, text
