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


from tests._icaljs import record  # noqa: E402
from tests._postgres import postgres_url  # noqa: E402, F401

record()  # every calendar the tests build is also read by ical.js (test_zz_client_icaljs.py)
