"""Whole documents against their exact expected events (seeds and our own fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.load import load
from feeds.model import endpoint_text
from tests import conftest
from tests.conftest import FIXTURES


def _compare(path: Path, expected_events: list[dict[str, object]]) -> set[int]:
    timeline = load(str(path))
    flagged = {notice.line for notice in timeline.warnings}
    got = {
        event.line: (event.title, endpoint_text(event.start),
                     None if event.end is None else endpoint_text(event.end))
        for event in timeline.events
    }  # fmt: skip
    want = {e["line"]: (e["title"], e["start"], e["end"]) for e in expected_events}
    assert got == want
    for entry in expected_events:
        assert (entry["line"] in flagged) == entry["expect_warning"], entry
    return flagged


def test_seeds_give_exactly_the_expected_events(seeds: Path) -> None:
    expected = json.loads((seeds / "expected.json").read_text())["documents"]
    total = 0
    for name, events in expected.items():
        _compare(seeds / name, events)
        total += len(events)
    assert total == 18


def test_seed_categories_are_the_reasonable_ones(seeds: Path) -> None:
    expected = json.loads((seeds / "expected.json").read_text())["documents"]
    for name, events in expected.items():
        got = {e.line: set(e.categories) for e in load(str(seeds / name)).events}
        for entry in events:
            assert set(entry["categories"]) <= got[entry["line"]], entry


FIXTURE_DOCS = sorted(p for p in FIXTURES.rglob("*.md"))


@pytest.mark.parametrize("path", FIXTURE_DOCS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_documents(path: Path) -> None:
    name = "expected.json" if path.name == "README.md" else path.stem + ".expected.json"
    expected = json.loads((path.parent / name).read_text())
    flagged = _compare(path, expected["events"])
    assert load(str(path)).term.id == expected["term"]
    assert set(expected["warned_without_event"]) <= flagged


def test_dates_outside_the_timeline_are_not_events() -> None:
    timeline = load(str(FIXTURES / "table-no-year.md"))
    assert all(event.line >= 7 for event in timeline.events)  # the intro mentions a date
    timeline = load(str(FIXTURES / "bullets-activity-first.md"))
    assert not any("not a timeline row" in event.title for event in timeline.events)


def test_missing_seeds_skip_or_fail_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conftest, "SEEDS", tmp_path / "nowhere")
    monkeypatch.delenv(conftest.REQUIRE_SEEDS, raising=False)
    assert conftest.seed_documents() == []
    with pytest.raises(pytest.skip.Exception, match="seed documents not found"):
        conftest.require_seeds()
    monkeypatch.setenv(conftest.REQUIRE_SEEDS, "1")
    with pytest.raises(pytest.fail.Exception, match="LFX_CAL_REQUIRE_SEEDS is set"):
        conftest.require_seeds()
