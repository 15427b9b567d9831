"""Benchmark: kill -9 during a 1,000-recipient fan-out, 20 times; count lost and repeated mail.

One reminder is due a few seconds after the start for ``--recipients``
addresses (split over ``--subscriptions`` e-mail subscriptions). A real aiosmtpd
server on loopback in this process records every accepted delivery; it spends
``--delay`` seconds in DATA before accepting each message (a slow relay), so the
fan-out lasts long enough to be interrupted. The loop starts a real ``lfx-cal
serve``, waits until a message of this run has arrived (the fan-out is under
way), waits a random 0–``--window`` s more and sends SIGKILL; a kill counts as
"during the fan-out" when messages arrived in that run and the ledger still has
pending or claimed rows after it.
After ``--kills`` kills a last daemon runs until the ledger has no pending or
claimed row. Lost = addresses that never got the reminder; duplicates = extra
copies beyond the first (each kill may repeat at most the message on the wire).

The database is SQLite in a temporary directory, or with ``--database
postgres`` a throwaway PostgreSQL server. There claims are not released blindly
on restart, since other daemons may share the ledger: a daemon's first sweep
puts back the claims of daemons whose presence lock is gone (see
``scheduler/presence.py``).

Goal: 0 lost, duplicates ≤ number of kills.

Run: ``python bench/bench_crash.py`` (about a minute; add ``--database postgres``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from _daemon_tools import (
    ROOT,
    Daemon,
    Mailbox,
    ceil_minute,
    email_table,
    free_port,
    lead_for,
    postgres,
    service_table,
    smtp_server,
    subscription_table,
    write_term,
)

from scheduler.delivery import LEASE
from scheduler.ledger_base import Status
from scheduler.store import Store

LIVE = (Status.PENDING, Status.CLAIMED)


@dataclass
class Outcome:
    """What the kill loop did."""

    kills: int = 0
    during: int = 0
    per_life: list[int] = field(default_factory=list)
    finished_early: bool = False
    final_seconds: float = 0.0


def write_files(
    folder: Path,
    database: str,
    port: int,
    recipients: int,
    subscriptions: int,
    connections: int | None = None,
) -> list[str]:
    """Term and config: one reminder due in 5 s for every address; returns the addresses."""
    t0 = dt.datetime.now(dt.UTC)
    deadline = ceil_minute(t0 + dt.timedelta(hours=2))
    write_term(folder / "term.md", [("Mentee Applications Close", deadline)])
    lead = lead_for(deadline, t0 + dt.timedelta(seconds=5))
    addresses = [f"mentee{n:04d}@example.org" for n in range(recipients)]
    per = -(-recipients // subscriptions)
    text = service_table(database, misfire_grace="1h")
    for n in range(subscriptions):
        text += subscription_table(f"mentees{n}", addresses[n * per : (n + 1) * per], [lead])
    (folder / "lfx-cal.toml").write_text(text + email_table(port, connections), encoding="utf-8")
    return addresses


def live_rows(store: Store) -> int:
    """Ledger rows not settled yet (pending or claimed)."""
    counts = store.counts()
    return sum(counts.get(status, 0) for status in LIVE)


def settled(store: Store) -> bool:
    """True once the fan-out has written its rows and none is pending or claimed."""
    return bool(store.counts()) and not live_rows(store)


def kill_loop(args: argparse.Namespace, config: Path, mailbox: Mailbox, store: Store) -> Outcome:
    """Start, wait for the fan-out to run, SIGKILL at a random moment; *kills* times."""
    rng = random.Random(args.seed)
    outcome = Outcome()
    for _ in range(args.kills):
        before = mailbox.count()
        daemon = Daemon(config, free_port()).start()
        assert daemon.process is not None
        end, look = time.monotonic() + 60, 0.0
        while mailbox.count() == before and time.monotonic() < end:
            if time.monotonic() > look:  # the ledger is read now and then only
                if settled(store):
                    break
                look = time.monotonic() + 0.25
            time.sleep(0.005)
        if settled(store):  # nothing left to interrupt
            outcome.finished_early = True
            daemon.stop()
            break
        time.sleep(rng.uniform(0, args.window))
        daemon.kill9()
        outcome.kills += 1
        outcome.per_life.append(mailbox.count() - before)
        if outcome.per_life[-1] and live_rows(store):
            outcome.during += 1
        print(
            f"kill {outcome.kills:2d}: {outcome.per_life[-1]:4d} delivered in this run, "
            f"ledger { {str(k): v for k, v in sorted(store.counts().items())} }",
            flush=True,
        )
    started = time.monotonic()
    daemon = Daemon(config, free_port()).start()
    try:
        wait = LEASE.total_seconds() + 120 if not store.is_sqlite else 120
        end = time.monotonic() + wait
        while not settled(store) and time.monotonic() < end:
            time.sleep(0.25)
        outcome.final_seconds = time.monotonic() - started
        time.sleep(2)  # time for a late duplicate to show up
    finally:
        status = daemon.stop()
    if status != 0:
        print(f"warning: last daemon exit status {status}")
    return outcome


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A database URL: a SQLite file in *folder* or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'state.sqlite3'}"
    else:
        with postgres() as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.02, help="SMTP DATA delay (s)")
    parser.add_argument("--window", type=float, default=1.0, help="kill 0..window s into a run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--connections", type=int, help="[notifiers.email] connections (default: the daemon's)"
    )
    args = parser.parse_args()
    mailbox = Mailbox(delay=args.delay, parse=False)
    with (
        tempfile.TemporaryDirectory(prefix="lfx-bench-crash-") as tmp,
        smtp_server(mailbox) as port,
        database(args.database, Path(tmp)) as url,
    ):
        folder = Path(tmp)
        addresses = write_files(
            folder, url, port, args.recipients, args.subscriptions, args.connections
        )
        with Store(url) as store:
            outcome = kill_loop(args, folder / "lfx-cal.toml", mailbox, store)
            counts = store.counts()
    received = Counter(a.rcpt for a in mailbox.snapshot())
    lost = [a for a in addresses if a not in received]
    extra = sum(n - 1 for n in received.values())
    print(f"database: {args.database}; recipients: {len(addresses)}; SMTP delay {args.delay}s")
    print(f"kills: {outcome.kills} made, {outcome.during} during the fan-out (goal {args.kills})")
    if outcome.finished_early:
        print("note: the fan-out finished before every kill was made (raise --delay)")
    print(f"last run settled the ledger in {outcome.final_seconds:.1f} s")
    print(f"ledger: {dict(sorted(counts.items()))}")
    print(
        f"deliveries: {sum(received.values())} received by {len(received)} addresses; "
        f"lost {len(lost)} (goal 0), duplicates {extra} (goal <= {outcome.kills}) "
        f"on {sum(n > 1 for n in received.values())} addresses"
    )
    ok = not lost and extra <= outcome.kills and outcome.during == args.kills
    print(f"verdict: {'OK' if ok else 'MISS'}")
    command = shlex.join([sys.executable, "bench/bench_crash.py", *sys.argv[1:]])
    print(f"reproduce: cd {shlex.quote(str(ROOT))} && {command}")


if __name__ == "__main__":
    main()
