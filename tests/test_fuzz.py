"""Random and mutated timeline text: typed errors or warnings, never a crash."""

from __future__ import annotations

import contextlib
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.dates import read_cell
from feeds.errors import FeedError
from feeds.model import Term, as_instant
from feeds.resolve import Context, RowError, resolve
from feeds.timeline import parse_markdown
from feeds.zones import zone
from tests.conftest import FIXTURES

SAMPLE = (FIXTURES / "table-no-year.md").read_text() + (FIXTURES / "mixed-forms.md").read_text()
PIECES = [
    "Jan",
    "Sept",
    "Thurs",
    "31st",
    "2031",
    "-",
    "–",
    "to",
    "11AM",
    "5:00 PM",
    "PDT",
    "PST",
    "UTC",
    "(18:00 UTC)",
    "(Week 6)",
    "Times TBD",
    "~~",
    "**",
    ",",
    ":",
    "|",
    "\n",
    " ",
    "noon",
    "AoE",
    "2031-02-30",
    "13:99",
    "99",
    "0",
    "\\(",
    "<del>",
    "</del>",
    "May",
    "- ",
    "* ",
    "# Timeline\n",
]
ZONE = zone("America/Los_Angeles")
DAY = dt.timedelta(days=1)
CTX = Context(Term("t", 2031, 1, "", 3, 5))


def check(text: str) -> None:
    try:
        timeline = parse_markdown(text, "fuzz.md")
    except FeedError:
        return
    for event in timeline.events:
        if event.end is not None:
            assert as_instant(event.start, ZONE) <= as_instant(event.end, ZONE) + DAY
        assert event.line >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_cells_built_from_date_pieces(pieces: list[str]) -> None:
    cell = " ".join(pieces)
    with contextlib.suppress(RowError):
        resolve(read_cell(cell), CTX)
    check(f"# Term 01 - 2031 March - May\n\n## Timeline\n\n| a | date |\n|--|--|\n| x | {cell} |\n")
    check(f"# Term 01 - 2031\n\n## Timeline\n\n- {cell}: thing\n- thing: {cell}\n")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_documents(data: st.DataObject) -> None:
    text = SAMPLE
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = data.draw(st.sampled_from(PIECES))
        if action == "insert":
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 20)) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    check(text)
