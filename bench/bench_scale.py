"""Benchmark: jobs, memory and fan-out of ``lfx-cal serve`` with 10 and with 10,000 subscriptions.

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

Side by side, in the same run and against the same aiosmtpd server, a bare
smtplib loop (a subprocess, like the daemon) sends the same number of
pre-rendered reminders over one connection. Runs alternate (daemon first, then
bare first, …) ``--runs`` times; the report gives medians. The daemon's rate
is subscriptions / (last arrival − due time): everything from the job firing
to the last message counts against it.

``--database postgres`` runs the daemon on a throwaway PostgreSQL server (a
fresh database per run) instead of SQLite.

Goals (issue 14): the same job count for every size; with 10,000
subscriptions the last arrival ≤ 10 s after due, a send rate ≥ 0.8× the bare
loop's, peak RSS ≤ 100 MB.

Run: ``python bench/bench_scale.py --sizes 10000`` (about three minutes; add
``--database postgres``; ``--sizes 50000 --runs 1`` for the large figure).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shlex
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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
    postgres_server,
    service_table,
    sleep_until,
    smtp_server,
    subscription_table,
    wait_for,
    write_term,
)

from scheduler.ledger_base import Status
from scheduler.store import Store

LIMIT_MB = 100
LATE_GOAL = 10.0
"""Seconds after due by which the last of 10,000 messages must have arrived."""
RATIO_GOAL = 0.8
SENDER = "lfx-cal@example.org"


@dataclass
class Result:
    """What one run measured (memory in KiB, times in seconds)."""

    subscriptions: int
    jobs: int = 0
    startup: float = 0.0
    rss: int = 0
    hwm: int = 0
    fanout: float | None = None
    first: float = 0.0
    """Seconds from the due instant to the first arrival."""
    sent: int = 0
    received: int = 0
    rss_after: int = 0
    hwm_after: int = 0
    bare_rate: float = 0.0
    """Messages per second of the bare smtplib loop run beside this one."""

    @property
    def rate(self) -> float:
        """The daemon's messages per second, from the due time to the last arrival."""
        return self.received / self.fanout if self.fanout else 0.0


def write_files(
    folder: Path,
    subscriptions: int,
    rows: int,
    due_in: float,
    port: int,
    database: str,
    connections: int | None = None,
) -> dt.datetime:
    """The term document and a configuration with *subscriptions* one-address subscriptions.

    Returns the instant the fan-out is due: the first deadline minus the lead
    written for it, which is in whole seconds, so up to half a second away from
    now + *due_in*.
    """
    t0 = dt.datetime.now(dt.UTC)
    first = ceil_minute(t0 + dt.timedelta(days=8))
    write_term(
        folder / "term.md",
        [(f"Deadline {n:03d}", first + dt.timedelta(hours=n)) for n in range(rows)],
    )
    lead = lead_for(first, t0 + dt.timedelta(seconds=due_in))
    leads = ["7d", "1d", lead]
    parts = [service_table(database)]
    parts += [
        subscription_table(f"s{n:05d}", [f"user{n:05d}@example.org"], leads)
        for n in range(subscriptions)
    ]
    parts.append(email_table(port, connections))
    (folder / "lfx-cal.toml").write_text("".join(parts), encoding="utf-8")
    return first - dt.timedelta(seconds=int(lead.removesuffix("s")))


def run(
    subscriptions: int,
    rows: int,
    due_in: float,
    fire: bool,
    mailbox: Mailbox,
    port: int,
    database: Callable[[Path], contextlib.AbstractContextManager[str]],
    connections: int | None = None,
) -> Result:
    """Start a daemon with *subscriptions*, measure it, let the first reminder fan out."""
    result = Result(subscriptions)
    with mailbox.lock:
        mailbox.arrivals.clear()
    with (
        tempfile.TemporaryDirectory(prefix="lfx-bench-scale-") as tmp,
        database(Path(tmp)) as url,
    ):
        folder = Path(tmp)
        due = write_files(folder, subscriptions, rows, due_in, port, url, connections).timestamp()
        started = time.monotonic()
        daemon = Daemon(folder / "lfx-cal.toml", free_port())
        try:
            daemon.start()
        except AssertionError:  # 20 s is the tests' patience; a big config may need more
            wait_for(daemon.healthy, max(20.0, due_in), "the daemon never became healthy")
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
                end = time.monotonic() + 600
                while time.monotonic() < end and mailbox.count() < subscriptions:
                    time.sleep(0.05)
                store = Store(url)
                try:  # the ledger catches up with the last marks
                    while time.monotonic() < end:
                        result.sent = store.counts().get(Status.SENT, 0)
                        if result.sent >= subscriptions:
                            break
                        time.sleep(0.25)
                finally:
                    store.close()
                arrivals = mailbox.snapshot()
                result.received = len({a.rcpt for a in arrivals})
                if arrivals:
                    result.fanout = max(a.at for a in arrivals) - due
                    result.first = min(a.at for a in arrivals) - due
                memory = memory_kib(pid)
                result.rss_after, result.hwm_after = memory["VmRSS"], memory["VmHWM"]
        finally:
            status = daemon.stop()
        if status != 0:
            print(f"warning: daemon exit status {status}:\n{daemon.output()[-2000:]}")
    return result


def bare_loop(port: int, count: int) -> float:
    """Messages per second of a bare smtplib loop: *count* reminders over one connection.

    Runs in a subprocess (as the daemon does), so it shares no interpreter with
    the server. The messages are rendered before the clock starts.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--bare", str(port), str(count)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return float(out.stdout.split()[-1])


def _bare_main(port: int, count: int) -> None:
    """The bare loop's subprocess: render, send, print messages per second."""
    from feeds.model import Event
    from notifiers import Kind, build_message
    from notifiers.mailbuild import for_recipient, message_id, parse_address, render_base

    start = dt.datetime(2031, 6, 1, 18, 0, tzinfo=dt.UTC)
    event = Event(uid="d000@lfx-cal", term="lfx-2031-t2", title="Deadline 000", start=start)
    message = build_message(event, Kind.REMINDER, lead=dt.timedelta(hours=1), zone="UTC")
    base = render_base(message, parse_address(SENDER))
    mails = []
    for n in range(count):
        rcpt = f"user{n:05d}@example.org"
        msgid = message_id(f"bare/{n}", rcpt, "example.org")
        mails.append((rcpt, for_recipient(base, parse_address(rcpt), msgid)))
    started = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
    for rcpt, data in mails:
        conn.sendmail(SENDER, [rcpt], data)
    conn.quit()
    print(count / (time.perf_counter() - started))


@contextlib.contextmanager
def sqlite_file(folder: Path) -> Iterator[str]:
    """An SQLite database in *folder*."""
    yield f"sqlite:///{folder / 'state.sqlite3'}"


def measure(args: argparse.Namespace) -> list[Result]:
    """Every size, ``--runs`` times, the daemon and the bare loop taking turns to go first."""
    results: list[Result] = []
    mailbox = Mailbox(parse=False)
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(smtp_server(mailbox))
        database: Callable[[Path], contextlib.AbstractContextManager[str]] = sqlite_file
        if args.database == "postgres":
            fresh = stack.enter_context(postgres_server())
            database = lambda _folder: fresh()  # noqa: E731 - a fresh database per run
        for size in args.sizes:
            for number in range(args.runs):
                if args.fire and number % 2 == 1:
                    bare = bare_loop(port, size)
                result = run(
                    size, args.rows, args.due, args.fire, mailbox, port, database, args.connections
                )
                if args.fire and number % 2 == 0:
                    bare = bare_loop(port, size)
                if args.fire:
                    result.bare_rate = bare
                results.append(result)
                line = f"done: {size:,} subscriptions, run {number + 1}"
                if args.fire:
                    line += (
                        f": last arrival {result.fanout or 0:.2f} s after due, "
                        f"{result.rate:.0f} msg/s; bare smtplib {bare:.0f} msg/s"
                    )
                print(line, flush=True)
    return results


def mb(kib: int) -> str:
    """KiB as MB (10^6 bytes) text."""
    return f"{kib * 1024 / 1e6:.1f} MB"


def report(results: list[Result], fire: bool, runs: int) -> None:
    """Print the runs side by side (the median run of each size) and the verdicts."""
    sizes = sorted({r.subscriptions for r in results})
    picked: list[Result] = []
    for size in sizes:
        mine = sorted((r for r in results if r.subscriptions == size), key=lambda r: r.fanout or 0)
        picked.append(mine[len(mine) // 2])
    width = 24
    rows: list[tuple[str, list[str]]] = [
        ("subscriptions", [f"{r.subscriptions:,}" for r in picked]),
        ("jobs (GET /healthz)", [str(r.jobs) for r in picked]),
        ("startup until healthy", [f"{r.startup:.2f} s" for r in picked]),
        ("VmRSS after startup", [mb(r.rss) for r in picked]),
        ("VmHWM after startup", [mb(r.hwm) for r in picked]),
    ]
    if fire:
        rows += [
            ("fan-out: sent (ledger)", [f"{r.sent:,}" for r in picked]),
            ("fan-out: received", [f"{r.received:,}" for r in picked]),
            ("fan-out: first arrival", [f"{r.first:.2f} s after due" for r in picked]),
            ("fan-out: last arrival", [f"{r.fanout or 0:.2f} s after due" for r in picked]),
            ("VmRSS after fan-out", [mb(r.rss_after) for r in picked]),
            ("VmHWM after fan-out", [mb(r.hwm_after) for r in picked]),
        ]
    print(f"median run of {runs} per size:")
    for label, cells in rows:
        print(f"{label:<{width}}" + "".join(f"{cell:>22}" for cell in cells))
    same = len({r.jobs for r in results}) == 1
    peak = max(max(r.hwm, r.hwm_after) for r in results)
    print(f"goal same job count: {'OK' if same else 'MISS'}")
    print(f"goal peak RSS <= {LIMIT_MB} MB: {mb(peak)} {'OK' if peak * 1024 <= 100e6 else 'MISS'}")
    if not fire:
        return
    for size in sizes:
        mine = [r for r in results if r.subscriptions == size]
        late = statistics.median(r.fanout or 0 for r in mine)
        rate = statistics.median(r.rate for r in mine)
        bare = statistics.median(r.bare_rate for r in mine)
        ratio = rate / bare if bare else 0.0
        goals = ""
        if size == 10_000:
            goals = (
                f" [goal last <= {LATE_GOAL:g} s: {'OK' if late <= LATE_GOAL else 'MISS'};"
                f" goal ratio >= {RATIO_GOAL}x: {'OK' if ratio >= RATIO_GOAL else 'MISS'}]"
            )
        print(
            f"{size:,} subscriptions, medians of {len(mine)}: last arrival {late:.2f} s after due;"
            f" daemon {rate:.0f} msg/s, bare smtplib loop {bare:.0f} msg/s, ratio {ratio:.2f}x"
            + goals
        )


def cpu_ticks() -> list[int]:
    """The machine's CPU time counters (``/proc/stat``): user, nice, system, idle, …, steal."""
    return [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def stolen(before: list[int], after: list[int]) -> float:
    """Share of the machine's time a virtual machine's host took for others between two reads.

    Runs on a loaded host are slower for reasons outside the daemon; the report
    says how much so.
    """
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / sum(spent) if sum(spent) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--rows", type=int, default=20, help="deadlines in the term document")
    parser.add_argument("--due", type=float, default=20, help="seconds until the fan-out")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (medians)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--connections", type=int, help="[notifiers.email] connections (default: the daemon's)"
    )
    parser.add_argument("--no-fire", dest="fire", action="store_false", help="startup only")
    parser.add_argument("--bare", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        _bare_main(*args.bare)
        return
    before = cpu_ticks()
    results = measure(args)
    report(results, args.fire, args.runs)
    print(f"CPU stolen by the host during the runs: {stolen(before, cpu_ticks()):.0%}")
    command = shlex.join([sys.executable, "bench/bench_scale.py", *sys.argv[1:]])
    print(f"reproduce: cd {shlex.quote(str(ROOT))} && {command}")
    print(f"load average at the end: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
