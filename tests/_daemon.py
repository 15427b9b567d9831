"""Run ``lfx-cal serve`` as a real subprocess against a generated term and configuration."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from feeds.formats import document_time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def minute(instant: dt.datetime) -> str:
    """An instant as a term document writes it (whole minutes, UTC)."""
    return document_time(instant)


def ceil_minute(instant: dt.datetime) -> dt.datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + dt.timedelta(minutes=1)


def write_term(
    path: Path,
    rows: Sequence[tuple[str, dt.datetime]],
    periods: Sequence[tuple[str, dt.datetime, dt.datetime]] = (),
) -> None:
    """A term document: one timed row per (title, deadline), then (title, opens, closes)."""
    lines = ["# Term 02 - 2031 June - August", "", "### Timeline", ""]
    lines += ["| Activity | Dates |", "|---|---|"]
    lines += [f"| {title} | {minute(when)} |" for title, when in rows]
    lines += [f"| {title} | {minute(start)} – {minute(end)} |" for title, start, end in periods]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a poll never sees half a document


def lead_for(deadline: dt.datetime, due: dt.datetime) -> str:
    """The lead that makes a reminder for *deadline* due at *due* (whole seconds)."""
    return f"{round((deadline - due).total_seconds())}s"


class Daemon:
    """One ``lfx-cal serve`` subprocess."""

    def __init__(self, config: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.config, self.port = config, port
        self.env = {**os.environ, **(env or {})}
        self.log = config.parent / f"daemon-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lfx_cal", "serve", "--config", str(self.config),
             "--listen", f"127.0.0.1:{self.port}"],
            stdout=handle, stderr=subprocess.STDOUT, env=self.env,
        )  # fmt: skip
        wait_for(self.healthy, 20, f"daemon on {self.port} never became healthy: {self.output()}")
        return self

    def health(self) -> dict[str, object]:
        """The /healthz body, whether it came with 200 or 503."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
                return dict(json.load(r))
        except urllib.error.HTTPError as error:
            return dict(json.load(error))

    def healthy(self) -> bool:
        try:
            return self.health()["status"] in {"ok", "degraded"}
        except OSError:
            assert self.process is not None and self.process.poll() is None, self.output()
            return False

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(check: Callable[[], bool], timeout: float, message: str | Callable[[], str]) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(message() if callable(message) else message)


def sleep_until(instant: dt.datetime) -> None:
    delay = (instant - dt.datetime.now(dt.UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)
