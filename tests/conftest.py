"""Shared test helpers: where the fixtures and the seed documents live.

The seed documents (two real term documents and their expected events) live
outside the repository, in ``../shared/seeds``. Every test that reads them goes
through :func:`seed_documents` or the ``seeds`` fixture: without them those tests
skip, unless ``LFX_CAL_REQUIRE_SEEDS`` is set (``.ci/run`` sets it), which turns
the skip into a failure, as ``LFX_CAL_REQUIRE_POSTGRES`` does for PostgreSQL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = ROOT.parent / "shared" / "seeds"
REQUIRE_SEEDS = "LFX_CAL_REQUIRE_SEEDS"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def seed_documents() -> list[Path]:
    """The seed documents named by ``expected.json``, or none when the folder is missing.

    For parametrized lists built at collection; the ``seeds`` fixture (used by
    ``tests/test_documents.py``) is what fails when they are required but missing.
    """
    expected = SEEDS / "expected.json"
    if not expected.is_file():
        return []
    return sorted(SEEDS / name for name in json.loads(expected.read_text())["documents"])


def require_seeds() -> Path:
    """The seed folder, or skip — or fail when ``LFX_CAL_REQUIRE_SEEDS`` is set."""
    if not (SEEDS / "expected.json").is_file():
        message = f"seed documents not found at {SEEDS}"
        if os.environ.get(REQUIRE_SEEDS):
            pytest.fail(f"{message} (and {REQUIRE_SEEDS} is set)")
        pytest.skip(message)
    return SEEDS


@pytest.fixture
def seeds() -> Path:
    return require_seeds()


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
