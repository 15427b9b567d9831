"""Benchmark (b): cold ``lfx-cal export DOC -o /dev/null`` vs ``python -c "import icalendar"``.

Goal: at most 1.5x. Each command runs as a fresh process; medians of --runs.

    python bench/bench_cold.py [--runs 20] [DOC]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("doc", nargs="?")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    seed = ROOT.parent / "shared" / "seeds" / "003_7b7cd25a5383eadd.txt"
    doc = args.doc or str(seed if seed.exists() else ROOT / "config" / "example-term.md")
    script = shutil.which("lfx-cal", path=str(Path(sys.executable).parent))
    ours = [script] if script else [sys.executable, "-m", "lfx_cal"]
    export = [*ours, "export", doc, "-o", "/dev/null"]
    baseline = [sys.executable, "-c", "import icalendar"]
    median_seconds(export, 2)
    median_seconds(baseline, 2)
    a = median_seconds(export, args.runs)
    b = median_seconds(baseline, args.runs)
    print(f"document: {doc}, runs: {args.runs}")
    print(f"python -c 'import icalendar': median {b * 1000:.1f} ms")
    print(f"lfx-cal export -o /dev/null: median {a * 1000:.1f} ms")
    print(f"ratio: {a / b:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
