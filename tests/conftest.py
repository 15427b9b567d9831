"""Shared test helpers: where the fixtures and the seed documents live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def seeds() -> Path:
    if not (SEEDS / "expected.json").is_file():
        pytest.skip(f"seed documents not found at {SEEDS}")
    return SEEDS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the real-clock (``slow``) tests first, on different workers.

    They mostly wait, so the other tests should run meanwhile. pytest-xdist's
    work-stealing scheduler hands each worker a contiguous slice of this list;
    the first slow test (the kill -9 end-to-end run, the longest) leads the first
    slice and the other slow tests lead the next ones (with three workers, each
    slow test has its own). The order is the same in
    every worker (xdist requires it) and only the order changes, never the set.
    """
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    buckets: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for index, item in enumerate(slow):
        buckets[0 if workers == 1 or index == 0 else 1 + (index - 1) % (workers - 1)].append(item)
    left = len(items)
    for number, bucket in enumerate(buckets):
        size = left // (workers - number)  # what xdist sends to the number-th idle worker
        while len(bucket) < size and rest:
            bucket.append(rest.pop(0))
        left -= len(bucket)
    items[:] = [item for bucket in buckets for item in bucket] + rest


from tests._icaljs import record  # noqa: E402
from tests._postgres import postgres_url  # noqa: E402, F401

record()  # every calendar the tests build is also read by ical.js (test_zz_client_icaljs.py)
