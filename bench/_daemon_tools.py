"""Shared helpers of the daemon benchmarks: a recording SMTP server, configs, /proc, stats.

The daemon itself runs as a real ``lfx-cal serve`` subprocess through
``tests._daemon.Daemon`` (the same helper the end-to-end tests use).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests._daemon import (  # noqa: E402
    Daemon,
    ceil_minute,
    free_port,
    lead_for,
    sleep_until,
    wait_for,
    write_term,
)
from tests._servers_smtp import LoopbackController  # noqa: E402

__all__ = [
    "ROOT",
    "Arrival",
    "Daemon",
    "Mailbox",
    "ceil_minute",
    "email_table",
    "free_port",
    "healthz",
    "lead_for",
    "median",
    "memory_kib",
    "percentile",
    "postgres",
    "postgres_server",
    "service_table",
    "sleep_until",
    "smtp_server",
    "subscription_table",
    "toml_list",
    "wait_for",
    "write_term",
]


@dataclass(frozen=True)
class Arrival:
    """One message accepted by the SMTP server: who, what, when (``time.time()``)."""

    rcpt: str
    subject: str
    at: float


@dataclass
class Mailbox:
    """An aiosmtpd handler that records every accepted message with its arrival time.

    ``delay`` (seconds) is spent in DATA before the message is accepted, like a
    slow relay; a client that disconnects during it leaves nothing behind.
    ``parse`` decodes the Subject (off: only recipients and times are kept).
    """

    delay: float = 0.0
    parse: bool = True
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        at = time.time()
        subject = ""
        if self.parse:
            message = email.message_from_bytes(
                envelope.original_content, policy=email.policy.default
            )
            subject = str(message["subject"])
        with self.lock:
            self.arrivals.extend(Arrival(rcpt, subject, at) for rcpt in envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        """Number of (recipient) deliveries so far."""
        with self.lock:
            return len(self.arrivals)

    def snapshot(self) -> list[Arrival]:
        """A copy of what arrived so far."""
        with self.lock:
            return list(self.arrivals)


@contextlib.contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    """Run an aiosmtpd server on loopback (a thread of this process); yield its port."""
    controller = LoopbackController(mailbox)
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


def toml_list(items: Sequence[str]) -> str:
    """A TOML array of strings."""
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def email_table(port: int, connections: int | None = None) -> str:
    """A ``[notifiers.email]`` table for a plain loopback SMTP server.

    *connections* sets ``connections`` (the lanes of a fan-out); None keeps the default.
    """
    table = (
        "[notifiers.email]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        'security = "none"\n'
        'from = "lfx-cal@example.org"\n'
    )
    return table if connections is None else table + f"connections = {connections}\n"


def service_table(database: str, misfire_grace: str = "1h") -> str:
    """``[service]`` plus one polled source, the term document ``term.md`` next to it."""
    return (
        "[service]\n"
        f'database = "{database}"\n'
        'timezone = "America/Los_Angeles"\n'
        f'misfire_grace = "{misfire_grace}"\n\n'
        "[[sources]]\n"
        'name = "term"\n'
        'path = "term.md"\n'
        'poll = "6h"\n\n'
    )


def subscription_table(name: str, targets: Sequence[str], leads: Sequence[str]) -> str:
    """One e-mail ``[[subscriptions]]`` entry for every category."""
    return (
        "[[subscriptions]]\n"
        f'name = "{name}"\n'
        'notifier = "email"\n'
        f"target = {toml_list(targets)}\n"
        'role = "admin"\n'
        f"leads = {toml_list(leads)}\n\n"
    )


def healthz(port: int) -> dict[str, Any]:
    """The daemon's ``/healthz`` body (also when it answers 503 ``degraded``)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            body: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        body = json.load(error)
    return body


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of *pid*, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0])
    return values


def percentile(values: Sequence[float], p: float) -> float:
    """The *p*-th percentile (0-100) by linear interpolation, like numpy's default."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The median of *values*."""
    return float(statistics.median(values))


@contextlib.contextmanager
def postgres_server() -> Iterator[Callable[[], contextlib.AbstractContextManager[str]]]:
    """A throwaway PostgreSQL server; yield a factory of fresh databases on it (URLs).

    Raises RuntimeError when the server binaries are missing or it does not start.
    """
    from tests._postgres import fresh_database, postgres_url

    fixture: Callable[[], Iterator[str]] = postgres_url.__wrapped__  # type: ignore[attr-defined]
    starter = contextlib.contextmanager(fixture)
    try:
        with starter() as server_url:
            yield lambda: fresh_database(server_url)
    except BaseException as error:  # pytest.skip / pytest.fail outside pytest
        if type(error).__module__.startswith("_pytest"):
            raise RuntimeError(f"PostgreSQL unavailable: {error}") from None
        raise


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server (the tests' fixture, unwrapped); yield a fresh database URL.

    Raises RuntimeError when the server binaries are missing or it does not start.
    """
    from tests._postgres import fresh_database, postgres_url

    fixture: Callable[[], Iterator[str]] = postgres_url.__wrapped__  # type: ignore[attr-defined]
    starter = contextlib.contextmanager(fixture)
    try:
        with starter() as server_url, fresh_database(server_url) as url:
            yield url
    except BaseException as error:  # pytest.skip / pytest.fail outside pytest
        if type(error).__module__.startswith("_pytest"):
            raise RuntimeError(f"PostgreSQL unavailable: {error}") from None
        raise
