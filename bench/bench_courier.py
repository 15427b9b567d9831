"""Benchmark: the courier's and the ledger's own cost per message of a fan-out, in one process.

A real daemon (real configuration, real ledger: SQLite in a temporary
directory, or ``--database postgres``) fans one reminder out to
``--subscriptions`` e-mail subscriptions, but the e-mail far end is simulated:
each send sleeps ``--rtt`` seconds for each of the four SMTP round trips (MAIL,
RCPT, DATA, the body), releasing the GIL as a socket wait does, and the
previous outcome is awaited before the body as the real backend does
(:meth:`~notifiers.base.Notifier.send_after`). With ``--rtt 0`` the figure is
the daemon's own work per message (claims, marks, metrics, bookkeeping); with a
realistic round trip it shows how much of it the lanes can hide.

Unlike ``bench_scale.py`` no SMTP server shares the machine's cores, so the
figures move much less with the machine's load. Prints messages per second
and the process's CPU time per message.

Run: ``python bench/bench_courier.py`` (add ``--rtt 0.0003``, ``--database postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _daemon_tools import ROOT, postgres
from bench_scale import write_files

from notifiers import Message, Receipt, RecorderNotifier
from scheduler.config import load_config
from scheduler.daemon import Daemon
from scheduler.store import Store


class FarEnd(RecorderNotifier):
    """An e-mail backend stand-in: no lanes of its own, ``parallel`` at once, round trips slept."""

    name = "email"

    def __init__(self, rtt: float, parallel: int) -> None:
        super().__init__()
        self.rtt = rtt
        self._parallel = parallel

    @property
    def parallel(self) -> int:
        """Sends at once (the e-mail backend's ``connections``)."""
        return self._parallel

    def lane(self, target: str) -> str | None:
        """Any recipient over any connection, as e-mail."""
        return None

    def send_after(
        self, ready: Callable[[], None], message: Message, target: str, *, key: str | None = None
    ) -> Receipt:
        """Three round trips, then *ready*, then the body's round trip."""
        if self.rtt:
            time.sleep(3 * self.rtt)
        ready()
        if self.rtt:
            time.sleep(self.rtt)
        return self.send(message, target, key=key)


class FixedClock:
    """The due instant, always: the fan-out is never late and no lease runs out."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


async def fan_out(args: argparse.Namespace, url: str, folder: Path) -> tuple[int, float, float]:
    """One fan-out; returns (messages, seconds, CPU seconds)."""
    write_files(folder, args.subscriptions, 20, 20, 2525, url)
    config = load_config(str(folder / "lfx-cal.toml"))
    far = FarEnd(args.rtt, args.connections)
    daemon = Daemon(config, Store(config.service.database), {"email": far})
    await daemon.start(poll_first=True)
    try:
        job = min(daemon._planned.values(), key=lambda j: j.due)
        daemon.courier.clock = FixedClock(job.due)
        started, cpu = time.perf_counter(), time.process_time()
        await daemon.courier.fire(job)
        await daemon.courier.settle(10)
        return len(far.sent), time.perf_counter() - started, time.process_time() - cpu
    finally:
        await daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--rtt", type=float, default=0.0, help="seconds per SMTP round trip")
    parser.add_argument("--connections", type=int, default=2, help="lanes (e-mail connections)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    for run in range(args.runs):
        with (
            tempfile.TemporaryDirectory(prefix="lfx-bench-courier-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            url = f"sqlite:///{Path(tmp) / 'state.sqlite3'}"
            if args.database == "postgres":
                url = stack.enter_context(postgres())
            sent, seconds, cpu = asyncio.run(fan_out(args, url, Path(tmp)))
        print(
            f"run {run + 1}: {sent:,} messages in {seconds:.2f} s = {sent / seconds:,.0f} msg/s;"
            f" CPU {cpu / sent * 1e3:.3f} ms per message (rtt {args.rtt * 1e3:g} ms,"
            f" {args.connections} lanes, {args.database})",
            flush=True,
        )
    command = shlex.join([sys.executable, "bench/bench_courier.py", *sys.argv[1:]])
    print(f"reproduce: cd {shlex.quote(str(ROOT))} && {command}")


if __name__ == "__main__":
    main()
