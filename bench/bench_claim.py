"""Benchmark: claiming 1,000 ledger keys in one call, on SQLite and on PostgreSQL.

The ledger is crowded first: ``--others`` rows for other recipients of the same
events and as many for other events, so a claim that read every row of an
event (the bug this guards against) would show. Each run claims the same 1,000
keys (200 events × 5 recipients), then releases them; the figure is the median
and the best of ``--runs``. ``tests/test_store.py`` checks the same property by
counting SQLite VM steps, which does not depend on the machine's speed.

Run: ``python bench/bench_claim.py`` (SQLite only) or
``python bench/bench_claim.py --postgres`` (also starts a throwaway PostgreSQL 15).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from _daemon_tools import median, postgres

from scheduler.store import DeliveryKey, Store

T0 = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


def key(n: int, uid: str) -> DeliveryKey:
    """One reminder key for recipient *n* of event *uid*."""
    return DeliveryKey("team", "reminder", uid, 86400, "2030-03-02T12:00:00Z", f"slack:#c{n}")


def measure(url: str, others: int, runs: int) -> list[float]:
    """Seconds per 1,000-key claim on the database at *url*, one figure per run."""
    keys = [key(n, f"u{n % 200}@lfx-cal") for n in range(1000)]
    with Store(url) as store:
        store.ensure([(key(n, f"u{n % 200}@lfx-cal"), T0) for n in range(1000, 1000 + others)], T0)
        store.ensure([(key(n, f"x{n}@lfx-cal"), T0) for n in range(others)], T0)
        store.ensure([(k, T0) for k in keys], T0)
        figures = []
        for _ in range(runs):
            started = time.perf_counter()
            claimed = store.claim(keys, "bench", T0, LEASE)
            figures.append(time.perf_counter() - started)
            assert len(claimed) == len(keys), len(claimed)
            store.release(at=T0)
    return figures


def report(name: str, figures: list[float]) -> None:
    """Print the median and best of *figures* in milliseconds."""
    middle, best = median(figures) * 1000, min(figures) * 1000
    print(f"{name:<11} median {middle:6.1f} ms   best {best:6.1f} ms")


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--others", type=int, default=20_000, help="crowding rows of each kind")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    args = parser.parse_args()
    print(f"claim 1,000 keys beside {2 * args.others:,} other rows, {args.runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", measure(f"sqlite:///{Path(tmp) / 'claim.db'}", args.others, args.runs))
    if args.postgres:
        with postgres() as url:
            report("PostgreSQL", measure(url, args.others, args.runs))


if __name__ == "__main__":
    main()
