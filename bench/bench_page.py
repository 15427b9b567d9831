"""Benchmark: the web page's size and render time for real term documents.

Renders ``lfx_cal.web.page.render_page`` for the given documents (default: the
bundled example term) at a moment before every row, so every row is upcoming
and the page is at its largest (each row is one card with its add-to-calendar
links, plus the next-deadline card). Prints the row count, the page's bytes
(uncompressed and gzip -6) and the median render time of ``--runs`` renders.
The page is rendered once per snapshot version and count of passed rows and
then served from the cache, so the time is a per-change cost, not per request.

Run: ``python bench/bench_page.py [DOCUMENT ...] [--runs 15]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.load import load  # noqa: E402
from lfx_cal.web.page import render_page  # noqa: E402
from scheduler.snapshot import build_snapshot  # noqa: E402

ZONE = "America/Los_Angeles"


def main() -> None:
    """Parse the arguments, render the page ``--runs`` times and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", nargs="*", default=[str(ROOT / "config" / "example-term.md")])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    timelines = [load(document, zone=ZONE) for document in args.documents]
    snapshot = build_snapshot(timelines, {}, ZONE)
    starts = [e.start for t in timelines for e in t.events]
    first = min(
        s if isinstance(s, dt.datetime) else dt.datetime.combine(s, dt.time(), dt.UTC)
        for s in starts
    )
    now = first - dt.timedelta(days=2)
    seconds = []
    html = ""
    for _ in range(args.runs):
        began = time.perf_counter()
        html = render_page(snapshot, now)
        seconds.append(time.perf_counter() - began)
    body = html.encode()
    rows = sum(len(t.events) for t in timelines)
    print(
        f"rows {rows}  page {len(body)} bytes  gzip {len(gzip.compress(body, 6))} bytes"
        f"  render median {statistics.median(seconds) * 1000:.1f} ms ({args.runs} runs)"
    )


if __name__ == "__main__":
    main()
