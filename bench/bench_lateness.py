"""Benchmark: reminder lateness, send time − due time, of a real ``lfx-cal serve`` daemon.

A generated term document has two deadlines one minute apart plus ``--fillers``
later rows (their reminders fall days ahead: they only load the scheduler). Each
of ``--leads`` e-mail subscriptions has its own lead (61 s, 63 s, … odd seconds), so
the daemon owns one job per (row, lead) and the reminders of the two deadlines
fall due one by one, 2 s apart, over two minutes. They go to a real aiosmtpd
server on loopback in this process, which stamps each message with
``time.time()`` when its DATA is accepted; lateness = that stamp − the due
instant computed here (the ledger's ``sent_at`` has whole-second resolution, so
it is not used). The database is SQLite in a temporary directory.

With ``--fanout N`` (default 10,000) N more one-address subscriptions get a
reminder of each of the two deadlines due 5 s before the first measured one:
two N-message fan-outs for another notice go through the same daemon, ledger
and SMTP server while the measured reminders fall due. Their lateness is
reported overall and for those due while a fan-out was still arriving.

Goal: p99 ≤ 1 s, nothing missing.

Run: ``python bench/bench_lateness.py`` (about four minutes; ``--fanout 0``: no fan-out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

from _daemon_tools import (
    ROOT,
    Daemon,
    Mailbox,
    ceil_minute,
    email_table,
    free_port,
    healthz,
    percentile,
    service_table,
    sleep_until,
    smtp_server,
    subscription_table,
    write_term,
)

from scheduler.store import Store

STARTUP = dt.timedelta(seconds=20)
"""Time left for the daemon to start before the first reminder is due."""
FIRST_LEAD = 61
"""Shortest lead (s): a reminder is skipped once its deadline passes, so keep well clear."""


def plan(
    t0: dt.datetime, leads: int, fillers: int
) -> tuple[list[tuple[str, dt.datetime]], list[int]]:
    """Term rows (title, deadline) and the leads in seconds; two timed rows come first."""
    longest = FIRST_LEAD + 2 * (leads - 1)
    first = ceil_minute(t0 + STARTUP + dt.timedelta(seconds=longest))
    rows = [("Deadline 00", first), ("Deadline 01", first + dt.timedelta(minutes=1))]
    for n in range(fillers):  # later deadlines, one a day at a varying hour
        when = first + dt.timedelta(days=n + 1, hours=n % 24)
        rows.append((f"Deadline {n + 2:02d}", when))
    return rows, [FIRST_LEAD + 2 * i for i in range(leads)]


def write_config(path: Path, smtp_port: int, leads: list[int], targets: int, fanout: int) -> None:
    """One subscription per lead, *targets* addresses each: ``lead<s>-<n>@example.org``.

    Plus *fanout* one-address subscriptions ``bulk<n>@example.org`` whose reminder
    is due 5 s before the first measured one.
    """
    text = service_table(f"sqlite:///{path.parent / 'state.sqlite3'}")
    for lead in leads:
        addresses = [f"lead{lead}-{n}@example.org" for n in range(targets)]
        text += subscription_table(f"lead{lead}", addresses, [f"{lead}s"])
    bulk = f"{max(leads) + 5}s"
    for n in range(fanout):
        text += subscription_table(f"bulk{n}", [f"bulk{n}@example.org"], [bulk])
    path.write_text(text + email_table(smtp_port), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=30, help="subscriptions, one lead each")
    parser.add_argument("--targets", type=int, default=1, help="addresses per subscription")
    parser.add_argument("--fillers", type=int, default=40, help="extra rows due days later")
    parser.add_argument("--fanout", type=int, default=10_000, help="bulk subscriptions")
    args = parser.parse_args()
    global STARTUP
    if args.fanout:
        STARTUP = dt.timedelta(seconds=20 + args.fanout / 500)  # parsing N subscriptions
    mailbox = Mailbox()
    with tempfile.TemporaryDirectory(prefix="lfx-bench-late-") as tmp, smtp_server(mailbox) as port:
        t0 = dt.datetime.now(dt.UTC)
        rows, leads = plan(t0, args.leads, args.fillers)
        write_term(Path(tmp) / "term.md", rows)
        config = Path(tmp) / "lfx-cal.toml"
        write_config(config, port, leads, args.targets, args.fanout)
        deadlines = dict(rows[:2])
        due = {
            (f"lead{lead}-{n}@example.org", title): when - dt.timedelta(seconds=lead)
            for title, when in deadlines.items()
            for lead in leads
            for n in range(args.targets)
        }
        daemon = Daemon(config, free_port()).start()
        try:
            jobs = healthz(daemon.port)["jobs"]
            first, last = min(due.values()), max(due.values())
            if dt.datetime.now(dt.UTC) >= first:
                sys.exit("the daemon took too long to start: the first reminder is already due")
            print(
                f"daemon up: {jobs} jobs; {len(due)} reminders due "
                f"{first:%H:%M:%S}-{last:%H:%M:%S}Z"
            )
            sleep_until(last + dt.timedelta(seconds=2))
            end = time.monotonic() + 30
            while mailbox.count() < len(due) and time.monotonic() < end:
                time.sleep(0.2)
            time.sleep(1)
        finally:
            status = daemon.stop()
        with Store(f"sqlite:///{Path(tmp) / 'state.sqlite3'}") as store:
            counts = store.counts()
            late_rows = sum(d.late for d in store.deliveries(statuses={"sent"}, limit=100_000))
    report(mailbox, due, counts, late_rows, status)
    if args.fanout:
        during_fanout(mailbox, due, deadlines, max(leads) + 5)
    command = shlex.join([sys.executable, "bench/bench_lateness.py", *sys.argv[1:]])
    print(f"reproduce: cd {shlex.quote(str(ROOT))} && {command}")


def report(
    mailbox: Mailbox,
    due: dict[tuple[str, str], dt.datetime],
    counts: dict[str, int],
    late_rows: int,
    status: int,
) -> None:
    """Print lateness percentiles, what was missing or repeated, and the ledger."""
    seen: dict[tuple[str, str], list[float]] = {}
    for arrival in mailbox.snapshot():
        if arrival.rcpt.startswith("bulk"):
            continue  # the fan-out beside the measured reminders
        match = re.search(r"Deadline \d+", arrival.subject)
        key = (arrival.rcpt, match.group(0) if match else arrival.subject)
        seen.setdefault(key, []).append(arrival.at)
    lateness = [
        (min(seen[key]) - when.timestamp()) * 1000 for key, when in due.items() if key in seen
    ]
    missing = [key for key in due if key not in seen]
    repeated = sum(len(times) - 1 for times in seen.values())
    unexpected = [key for key in seen if key not in due]
    print(f"reminders: {len(due)} expected, {len(lateness)} received, {len(missing)} missing, "
          f"{repeated} repeated, {len(unexpected)} unexpected")  # fmt: skip
    if lateness:
        p50, p99 = percentile(lateness, 50), percentile(lateness, 99)
        print(f"lateness (arrival at the SMTP server - due): min {min(lateness):.0f} ms, "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(lateness):.0f} ms")  # fmt: skip
        verdict = "OK" if p99 <= 1000 and not missing else "MISS"
        print(f"goal p99 <= 1000 ms, none missing: {verdict}")
    print(f"ledger: {dict(sorted(counts.items()))}, marked late (> 5 s): {late_rows}")
    print(f"daemon exit status after SIGTERM: {status}")


def during_fanout(
    mailbox: Mailbox,
    due: dict[tuple[str, str], dt.datetime],
    deadlines: dict[str, dt.datetime],
    bulk_lead: int,
) -> None:
    """Lateness of the measured reminders due while a bulk fan-out was still arriving."""
    arrivals = mailbox.snapshot()
    bulk = [a for a in arrivals if a.rcpt.startswith("bulk")]
    windows = []
    for title, when in deadlines.items():
        start = (when - dt.timedelta(seconds=bulk_lead)).timestamp()
        mine = [a.at for a in bulk if title in a.subject]
        if mine:
            windows.append((start, max(mine)))
            last = max(mine) - start
            print(f"fan-out for {title}: {len(mine):,} messages, last {last:.1f} s after due")
    first: dict[tuple[str, str], float] = {}
    for a in arrivals:
        if not a.rcpt.startswith("bulk"):
            match = re.search(r"Deadline \d+", a.subject)
            key = (a.rcpt, match.group(0) if match else a.subject)
            first[key] = min(first.get(key, a.at), a.at)
    inside = [
        (first[key] - when.timestamp()) * 1000
        for key, when in due.items()
        if key in first and any(lo <= when.timestamp() <= hi for lo, hi in windows)
    ]
    if inside:
        p99 = percentile(inside, 99)
        print(f"while a fan-out was in progress: {len(inside)} reminders, "
              f"p50 {percentile(inside, 50):.0f} ms, p99 {p99:.0f} ms, max {max(inside):.0f} ms "
              f"(goal p99 <= 1000 ms: {'OK' if p99 <= 1000 else 'MISS'})")  # fmt: skip
    else:
        print("no measured reminder fell due while a fan-out was in progress")


if __name__ == "__main__":
    main()
