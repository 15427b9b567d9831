"""Benchmark: scheduled jobs and memory of ``lfx-cal serve`` with 10 and with 10,000 subscriptions.

Each run starts a real daemon (SQLite in a temporary directory) on the same
generated term document: ``--rows`` deadlines a week or more ahead. Every
subscription is an e-mail one with one address and the same three leads (7d,
1d and one that makes the first deadline's reminder due ``--due`` seconds
after the start), so the plan is rows × 3 jobs whatever the number of
subscribers. After startup settles the job count comes from ``GET /healthz``
and the memory from ``/proc/PID/status`` (``VmRSS`` now, ``VmHWM`` peak). Then
the reminder fans out to every subscriber through a real aiosmtpd server on
loopback; the run waits until the ledger has them all sent and reads memory
again. ``--no-fire`` stops after the startup figures.

Goal: the same job count for both, RSS ≤ 100 MB with 10,000 subscriptions.

Run: ``python bench/bench_scale.py`` (about two minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _daemon_tools import (
    ROOT,
    Daemon,
    Mailbox,
    ceil_minute,
    email_table,
    free_port,
    healthz,
    lead_for,
    memory_kib,
    service_table,
    sleep_until,
    smtp_server,
    subscription_table,
    write_term,
)

from scheduler.store import Store

LIMIT_MB = 100


@dataclass
class Result:
    """What one run measured (memory in KiB, times in seconds)."""

    subscriptions: int
    jobs: int = 0
    startup: float = 0.0
    rss: int = 0
    hwm: int = 0
    fanout: float | None = None
    sent: int = 0
    received: int = 0
    rss_after: int = 0
    hwm_after: int = 0


def write_files(folder: Path, subscriptions: int, rows: int, due_in: float, port: int) -> None:
    """The term document and a configuration with *subscriptions* one-address subscriptions."""
    t0 = dt.datetime.now(dt.UTC)
    first = ceil_minute(t0 + dt.timedelta(days=8))
    write_term(
        folder / "term.md",
        [(f"Deadline {n:03d}", first + dt.timedelta(hours=n)) for n in range(rows)],
    )
    leads = ["7d", "1d", lead_for(first, t0 + dt.timedelta(seconds=due_in))]
    parts = [service_table(f"sqlite:///{folder / 'state.sqlite3'}")]
    parts += [
        subscription_table(f"s{n:05d}", [f"user{n:05d}@example.org"], leads)
        for n in range(subscriptions)
    ]
    parts.append(email_table(port))
    (folder / "lfx-cal.toml").write_text("".join(parts), encoding="utf-8")


def run(subscriptions: int, rows: int, due_in: float, fire: bool) -> Result:
    """Start a daemon with *subscriptions*, measure it, let the first reminder fan out."""
    result = Result(subscriptions)
    mailbox = Mailbox(parse=False)
    with (
        tempfile.TemporaryDirectory(prefix="lfx-bench-scale-") as tmp,
        smtp_server(mailbox) as port,
    ):
        folder = Path(tmp)
        write_files(folder, subscriptions, rows, due_in, port)
        due = time.time() + due_in
        started = time.monotonic()
        daemon = Daemon(folder / "lfx-cal.toml", free_port()).start()
        assert daemon.process is not None
        pid = daemon.process.pid
        try:
            result.startup = time.monotonic() - started
            time.sleep(2)  # let the first poll and the plan settle
            result.jobs = int(healthz(daemon.port)["jobs"])
            memory = memory_kib(pid)
            result.rss, result.hwm = memory["VmRSS"], memory["VmHWM"]
            if time.time() >= due:
                print(f"warning: {subscriptions} subscriptions: startup passed the due time")
            if fire:
                sleep_until(dt.datetime.fromtimestamp(due, dt.UTC))
                store = Store(f"sqlite:///{folder / 'state.sqlite3'}")
                try:
                    end = time.monotonic() + 600
                    while time.monotonic() < end:
                        result.sent = store.counts().get("sent", 0)
                        if result.sent >= subscriptions:
                            break
                        time.sleep(0.25)
                finally:
                    store.close()
                arrivals = mailbox.snapshot()
                result.received = len(arrivals)
                if arrivals:
                    result.fanout = max(a.at for a in arrivals) - due
                memory = memory_kib(pid)
                result.rss_after, result.hwm_after = memory["VmRSS"], memory["VmHWM"]
        finally:
            status = daemon.stop()
        if status != 0:
            print(f"warning: daemon exit status {status}:\n{daemon.output()[-2000:]}")
    return result


def mb(kib: int) -> str:
    """KiB as MB (10^6 bytes) text."""
    return f"{kib * 1024 / 1e6:.1f} MB"


def report(results: list[Result], fire: bool) -> None:
    """Print the runs side by side and the verdict."""
    width = 24
    rows: list[tuple[str, list[str]]] = [
        ("subscriptions", [f"{r.subscriptions:,}" for r in results]),
        ("jobs (GET /healthz)", [str(r.jobs) for r in results]),
        ("startup until healthy", [f"{r.startup:.2f} s" for r in results]),
        ("VmRSS after startup", [mb(r.rss) for r in results]),
        ("VmHWM after startup", [mb(r.hwm) for r in results]),
    ]
    if fire:
        rows += [
            ("fan-out: sent (ledger)", [f"{r.sent:,}" for r in results]),
            ("fan-out: received", [f"{r.received:,}" for r in results]),
            ("fan-out: last arrival", [f"{r.fanout or 0:.2f} s after due" for r in results]),
            ("VmRSS after fan-out", [mb(r.rss_after) for r in results]),
            ("VmHWM after fan-out", [mb(r.hwm_after) for r in results]),
        ]
    for label, cells in rows:
        print(f"{label:<{width}}" + "".join(f"{cell:>22}" for cell in cells))
    same = len({r.jobs for r in results}) == 1
    peak = max(max(r.hwm, r.hwm_after) for r in results)
    print(f"goal same job count: {'OK' if same else 'MISS'}")
    print(f"goal peak RSS <= {LIMIT_MB} MB: {mb(peak)} {'OK' if peak * 1024 <= 100e6 else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--rows", type=int, default=20, help="deadlines in the term document")
    parser.add_argument("--due", type=float, default=20, help="seconds until the fan-out")
    parser.add_argument("--no-fire", dest="fire", action="store_false", help="startup only")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        results.append(run(size, args.rows, args.due, args.fire))
        print(f"done: {size:,} subscriptions", flush=True)
    report(results, args.fire)
    command = shlex.join([sys.executable, "bench/bench_scale.py", *sys.argv[1:]])
    print(f"reproduce: cd {shlex.quote(str(ROOT))} && {command}")


if __name__ == "__main__":
    main()
