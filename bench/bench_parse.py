"""Benchmark (a): parse + normalize term documents vs markdown-it tokenizing them.

Goal: lfx-cal's full pipeline (Markdown parse, timeline extraction, date
normalization) takes at most 1.5x the time markdown-it-py alone needs to
tokenize the same documents.

    python bench/bench_parse.py [--rounds 30] [DOC ...]

Without DOC it uses the test fixtures, the bundled example and, when present,
the seed documents in ../shared/seeds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from markdown_it import MarkdownIt

from feeds.timeline import parse_markdown

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


if __name__ == "__main__":
    main()
