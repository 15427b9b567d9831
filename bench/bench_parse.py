"""Benchmark (a): parse + normalize term documents vs markdown-it tokenizing them.

Goal: lfx-cal's full pipeline (Markdown parse, timeline extraction, date
normalization) takes at most 1.5x the time markdown-it-py alone needs to
tokenize the same documents.

    python bench/bench_parse.py [--rounds 30] [--no-hostile] [DOC ...]

Without DOC it uses the test fixtures, the bundled example and, when present,
the seed documents in ../shared/seeds.

Then (issue 10) two more rows, each median of 3 runs:
- hostile: 1 MB documents built to be slow (a date cell of ``- - - ... Mar 3``,
  ``Mar 3 : : : ...``, ``Jan Jan ... 3``, dated bullets each with a note bullet,
  ``# a`` + spaces + ``b``, thousands of timeline headings or labels): each must
  be read, or refused with a typed error, in at most 1 s;
- normal: a 1 MB, 28,000-row activity/date table of varied cells, against markdown-it tokenizing
  the same text: at most 2x.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import time
from pathlib import Path

from markdown_it import MarkdownIt

from feeds.errors import FeedError
from feeds.timeline import parse_markdown, parse_markdown_all

ROOT = Path(__file__).resolve().parent.parent


def default_docs() -> list[Path]:
    docs = sorted((ROOT / "tests" / "fixtures").rglob("*.md"))
    docs.append(ROOT / "config" / "example-term.md")
    seeds = ROOT.parent / "shared" / "seeds"
    docs.extend(sorted(seeds.glob("*.txt")))
    return docs


def timed(function: object, texts: list[tuple[str, str]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for name, text in texts:
            function(text, name)  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-hostile", dest="hostile", action="store_false")
    args = parser.parse_args()
    paths = args.docs or default_docs()
    texts = [(str(p), p.read_text()) for p in paths]
    tokenizer = MarkdownIt("commonmark").enable(["table", "strikethrough"])

    def tokenize(text: str, _name: str) -> None:
        tokenizer.parse(text)

    def pipeline(text: str, name: str) -> None:
        parse_markdown(text, name, path=name)

    timed(pipeline, texts, 3)  # warm caches and imports
    timed(tokenize, texts, 3)
    ours = statistics.median(timed(pipeline, texts, args.rounds))
    base = statistics.median(timed(tokenize, texts, args.rounds))
    size = sum(len(t) for _, t in texts)
    print(f"documents: {len(texts)} ({size / 1024:.0f} KiB), rounds: {args.rounds}")
    print(f"markdown-it tokenize: median {base * 1000:.2f} ms")
    print(f"lfx-cal parse+normalize: median {ours * 1000:.2f} ms")
    print(f"ratio: {ours / base:.2f}x (goal <= 1.5x)")
    if args.hostile:
        hostile(tokenizer)


MB = 1_000_000
_HEAD = "# Term 01 - 2031\n\n## Timeline\n\n"


def hostile_documents() -> dict[str, str]:
    """Documents of about 1 MB, each built against one step of the reader."""
    cell = "| a | date |\n|---|---|\n| x | "
    return {
        "cell '- - - ... Mar 3'": _HEAD + cell + "- " * (MB // 2) + "Mar 3 |\n",
        "cell 'Mar 3 : : : ...'": _HEAD + cell + "Mar 3 " + ": " * (MB // 2) + "|\n",
        "cell 'Jan Jan ... 3'": _HEAD + cell + "Jan " * (MB // 4) + "3 |\n",
        "item '- - - ... Mar 3'": _HEAD + "- " + "- " * (MB // 2) + "Mar 3\n",
        "dated bullets + notes": _HEAD
        + "".join(f"- Mar {i % 28 + 1}: thing {i}\n  - a note\n" for i in range(MB // 36)),
        "'# a' + spaces + 'b'": "# a" + " " * MB + "b\n" + _HEAD + "- Mar 3: x\n",
        "timeline headings": "## Timeline\n- Mar 3, 2031: x\n" * (MB // 28),
        "nested headings": "".join("#" * (1 + i % 6) + " Timeline\n" for i in range(MB // 12)),
        "timeline labels": "**Timeline:**\n- Mar 3, 2031: x\n" * (MB // 30),
        "timeline tables, no year": "## Timeline\n\n| a | date |\n|---|---|\n| r | Mar 3 |\n\n"
        * (MB // 48),
        "zone labels": _HEAD + "- Mar 3 11AM " + "PT " * (MB // 3) + ": x\n",
        "many columns": _HEAD + ("|" + " a |" * 900 + "\n") * (MB // 3600),
    }


def normal_table() -> str:
    """A 1 MB, 28,000-row table with printed years: large, but nothing unusual.

    The cells vary the way real ones do (a weekday, a range, a time with its UTC
    equivalent, an ISO date), over every day of the year, so no cache can help.
    """
    start = dt.date(2031, 1, 1)
    rows = []
    for i in range(28_000):
        day = start + dt.timedelta(days=i % 365)
        later = day + dt.timedelta(days=i % 9)
        form = i % 4
        if form == 0:
            cell = f"{day:%a}, {day:%b} {day.day}, {day.year}"
        elif form == 1:
            cell = f"{day:%b} {day.day} – {later:%b} {later.day}, {day.year}"
        elif form == 2:
            cell = f"{day:%b} {day.day}, {day.year} 11AM PT (18:00 UTC)"
        else:
            cell = day.isoformat()
        rows.append(f"| Step {i} | {cell} |\n")
    return _HEAD + "| Activity | Date |\n| --- | --- |\n" + "".join(rows)


def _median_seconds(function: object, text: str, runs: int = 3) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(FeedError):  # a typed refusal counts as an answer
            function(text, "bench.md")  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def hostile(tokenizer: MarkdownIt) -> None:
    """Print the hostile-document row and the normal 1 MB table row."""
    worst = 0.0
    print("hostile documents (each ~1 MB; goal <= 1 s each):")
    for name, text in hostile_documents().items():
        seconds = _median_seconds(parse_markdown_all, text)
        worst = max(worst, seconds)
        print(f"  {name:26} {len(text) / MB:5.2f} MB  {seconds * 1000:8.1f} ms")
    print(f"  worst: {worst * 1000:.1f} ms ({'met' if worst <= 1 else 'MISSED'})")
    text = normal_table()
    # Interleaved pairs, median of the per-pair ratios: the machine's drift hits both.
    pairs = [
        (_median_seconds(parse_markdown_all, text, 1),
         _median_seconds(lambda t, _n: tokenizer.parse(t), text, 1))
        for _ in range(7)
    ]  # fmt: skip
    ours = statistics.median(p[0] for p in pairs)
    base = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[0] / p[1] for p in pairs)
    size = len(text) / MB
    print(f"normal table ({size:.2f} MB, 28,000 varied rows): lfx-cal {ours:.2f} s,")
    print(f"  markdown-it {base:.2f} s, ratio {ratio:.2f}x (median of 7 pairs; goal <= 2x)")


if __name__ == "__main__":
    main()
