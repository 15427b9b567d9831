"""Hostile documents: reading stays linear in the input, and limits are warnings.

Growth is compared between n and 4n (best of five CPU-time runs each, with the
garbage collector paused): a linear reader takes about 4x, a quadratic one 16x.
The bound (8x plus 30 ms) is loose enough for a busy machine and tight enough to
catch a quadratic step. The engine
functions are driven directly with inputs far beyond the documented limits, so the
limits cannot hide a quadratic step; whole documents check the limits themselves.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.dates import read_cell
from feeds.errors import FeedError
from feeds.markdown import MAX_LINE, MAX_LIST_ITEMS, outline
from feeds.rows import split_item
from feeds.timeline import MAX_CELL, parse_markdown, parse_markdown_all

PIECES = [
    "- ", ": ", "Jan ", "3 ", "PT ", "11AM ", "(", ")", "**", "~~", "| ", "to ", "Mon, ",
    "2027 ", "# ", "  ", "\\(", "12:00 ", "UTC ", "through ", "– ", "May 3 - ", "x ",
]  # fmt: skip
H = "# Term 01 - 2031\n\n## Timeline\n\n"


def _cpu(function: Callable[[], object]) -> float:
    """Best of five CPU times, with the garbage collector paused (its pauses are noise)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            start = time.process_time()
            function()
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


def _grows_linearly(make: Callable[[int], Callable[[], object]], n: int) -> None:
    small, large = _cpu(make(n)), _cpu(make(4 * n))
    assert large <= 8 * small + 0.03, (small, large)


def _call(function: Callable[[str], object], text: str) -> Callable[[], object]:
    def run() -> object:
        try:
            return function(text)
        except FeedError:
            return None

    return run


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=4), st.sampled_from(PIECES))
def test_date_cells_and_list_items_grow_linearly(unit: list[str], tail: str) -> None:
    piece = "".join(unit)

    def cell(n: int) -> Callable[[], object]:
        return _call(read_cell, piece * (n // len(piece)) + tail + "Mar 3")

    def item(n: int) -> Callable[[], object]:
        return _call(split_item, "Mar 3 " + piece * (n // len(piece)) + tail + " x")

    _grows_linearly(cell, 4000)
    _grows_linearly(item, 4000)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["# a", "## Timeline", "**Timeline:**", "Key dates:", "```", "Title"]))
def test_the_outline_scan_grows_linearly(start: str) -> None:
    def long_line(n: int) -> Callable[[], object]:
        return _call(lambda t: outline(t.splitlines()), start + " " * n + "b\n")

    def many_lines(n: int) -> Callable[[], object]:
        return _call(lambda t: outline(t.splitlines()), (start + "\n- Mar 3: x\n") * (n // 16))

    _grows_linearly(long_line, 100_000)
    _grows_linearly(many_lines, 100_000)


def test_whole_hostile_documents_grow_linearly() -> None:
    docs: list[Callable[[int], str]] = [
        lambda n: H + "".join(f"- Mar {i % 28 + 1}: thing {i}\n  - note\n" for i in range(n)),
        lambda n: "".join("## Timeline\n- Mar 3, 2031: x\n" for _ in range(n)),
        lambda n: "".join("#" * (1 + i % 6) + " Timeline\n" for i in range(n)) + "- Mar 3: x\n",
        lambda n: (
            H + "| a | date |\n|---|---|\n" + "".join(f"| r{i} | Mar 3 |\n" for i in range(n))
        ),
    ]
    for make in docs:
        _grows_linearly(
            lambda n, make=make: _call(lambda t: parse_markdown_all(t, "h.md"), make(n)), 400
        )  # type: ignore[misc]


def test_limits_are_line_numbered_warnings_and_the_good_rows_survive() -> None:
    text = (
        H + "| Activity | Date |\n| --- | --- |\n"
        f"| huge cell | {'Jan ' * 200}3 |\n"
        f"| huge line | {'- ' * MAX_LINE}Mar 3 |\n"
        "| kickoff | Mar 3 |\n"
    )
    timeline = parse_markdown(text, "h.md")
    assert [e.title for e in timeline.events] == ["kickoff"]
    messages = {n.line: n.message for n in timeline.warnings}
    assert f"limit {MAX_CELL}" in messages[7] and f"limit {MAX_LINE}" in messages[8]


def test_a_runaway_list_is_cut_at_the_limit_with_a_warning() -> None:
    items = "".join(f"- Mar {i % 28 + 1}, 2031: thing {i}\n" for i in range(MAX_LIST_ITEMS + 50))
    timeline = parse_markdown(H + items, "h.md")
    assert len(timeline.events) == MAX_LIST_ITEMS
    assert any("list items" in n.message for n in timeline.warnings)


def test_dates_outside_the_sane_window_are_a_row_warning() -> None:
    text = H + "| a | date |\n|---|---|\n| reunion | 9999-12-31 |\n| old | 0001-01-01 |\n"
    text += "| late | Dec 31, 9999 23:00 AoE |\n| kickoff | Mar 3 |\n"
    timeline = parse_markdown(text, "h.md")
    assert [e.title for e in timeline.events] == ["kickoff"]
    assert {n.line for n in timeline.warnings} == {7, 8, 9}
