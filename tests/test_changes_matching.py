"""Row identity across versions: edit pairs a human reads as move, rename, split, merge or nothing.

The documents are written for these tests (dates are facts; no upstream prose).
Each pair goes through :func:`lfx_cal.diffcmd.compare`, the comparison behind
both ``lfx-cal diff`` and the daemon's alerts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from feeds.load import parse_document_all
from feeds.sources import Document
from lfx_cal.diffing import compare
from scheduler.changes import Diff, diff

PATH = "programs/lfx-mentorship/2031/02-Jun-Aug/README.md"

BASE = """# Term 2 of 2031

## Timeline

| Activity | Dates |
|---|---|
| Call for project ideas | Mon, Apr 7 – Mon, May 5, 5:00 PM PDT |
| Applicants apply | Tue, May 6 – Tue, May 20, 5:00 PM PDT |
| Mentor Review/Admission Calls | Wed, May 21 – Tue, Jun 3, 5:00 PM PDT |
| Results announced | Thu, Jun 5 |
| Coding period | Mon, Jun 9 – Fri, Aug 29 |
| Midpoint check-in due | Tue, Jul 15 |
| Closing survey due | Tue, Aug 26 |

More about the program below.
"""


def read(text: str) -> tuple:
    return parse_document_all(Document(PATH, text), zone="America/Los_Angeles")


def changes(new: str, old: str = BASE) -> Diff:
    return compare(read(old), read(new))


def summary(result: Diff) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    return (
        [(o.title, n.title) for o, n in result.moved],
        [e.title for e in result.added],
        [e.title for e in result.removed],
    )


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: t.replace("| Dates |\n|---|---|", "|   Dates   |\n| :--- | ---: |"),
                     id="reflowed-table"),
        pytest.param(lambda t: t.replace("Thu, Jun 5", "Thursday, Jun 5"), id="weekday-spelled"),
        pytest.param(lambda t: t.replace("Thu, Jun 5", "Wed, Jun 5").replace("Tue, Jul 15",
                     "Tuesday, July 15th"), id="weekday-typo-and-fix"),
        pytest.param(lambda t: t.replace("More about the program below.", "Changed prose."),
                     id="outside-the-timeline"),
        pytest.param(lambda t: t.replace("Results announced", "**Results announced**"),
                     id="emphasis"),
        pytest.param(lambda t: t.replace("Results announced", "Results are announced to all"),
                     id="reworded"),
        pytest.param(lambda t: t.replace("Coding period", "Mentees matching and coding"),
                     id="reworded-other-category"),
    ],
)  # fmt: skip
def test_cosmetic_edits_produce_nothing_either_way(edit: object) -> None:
    edited = edit(BASE)  # type: ignore[operator]
    for result in (changes(edited), changes(BASE, old=edited)):
        assert summary(result) == ([], [], []) and not result


def test_a_reworded_row_keeps_its_identity_through_an_alias() -> None:
    result = changes(BASE.replace("Coding period", "Mentees matching and coding"))
    assert [(o.title, n.title) for o, n in result.retitled] == [
        ("Coding period", "Mentees matching and coding")
    ]
    assert result.renamed == (
        ("lfx-2031-t2-mentees-matching-and-coding@lfx-cal", "lfx-2031-t2-coding-period@lfx-cal"),
    )


def test_rename_and_move_in_one_edit_is_one_move() -> None:
    new = BASE.replace(
        "| Mentor Review/Admission Calls | Wed, May 21 – Tue, Jun 3, 5:00 PM PDT |",
        "| Mentor Review Period | Wed, May 21 – Tue, Jun 3, 11AM PDT (18:00 UTC) |",
    )
    result = changes(new)
    assert summary(result) == ([("Mentor Review/Admission Calls", "Mentor Review Period")], [], [])
    old, moved = result.canonical().moved[0]
    assert moved.uid == old.uid  # subscribers see the same event move
    assert (old.end, moved.end) == (
        dt.datetime(2031, 6, 4, 0, tzinfo=dt.UTC),
        dt.datetime(2031, 6, 3, 18, tzinfo=dt.UTC),
    )


def test_a_time_added_to_a_date_only_deadline_is_a_move() -> None:
    result = changes(BASE.replace("| Tue, Jul 15 |", "| Tue, Jul 15, 11AM PDT |"))
    assert summary(result) == ([("Midpoint check-in due", "Midpoint check-in due")], [], [])


def test_a_different_row_in_the_same_place_is_removed_and_added() -> None:
    result = changes(
        BASE.replace("| Closing survey due | Tue, Aug 26 |", "| Stipend paid | Fri, Sep 5 |")
    )
    assert summary(result) == ([], ["Stipend paid"], ["Closing survey due"])


def test_a_period_split_in_two_rows_is_a_split_not_an_alert() -> None:
    result = changes(BASE.replace(
        "| Coding period | Mon, Jun 9 – Fri, Aug 29 |",
        "| Coding period starts | Mon, Jun 9 |\n| Coding period ends | Fri, Aug 29 |",
    ))  # fmt: skip
    assert not result and summary(result) == ([], [], [])
    [(old, pieces)] = result.split
    assert old.title == "Coding period"
    assert [p.title for p in pieces] == ["Coding period starts", "Coding period ends"]
    # the deadline's piece keeps the identity (reminders are about deadlines)
    assert ("lfx-2031-t2-coding-period-ends@lfx-cal", old.uid) in result.renamed


def test_a_period_cut_in_two_halves_is_a_split_and_overlapping_rows_are_not() -> None:
    halves = BASE.replace(
        "| Coding period | Mon, Jun 9 – Fri, Aug 29 |",
        "| Coding period, first half | Mon, Jun 9 – Tue, Jul 15 |\n"
        "| Coding period, second half | Wed, Jul 16 – Fri, Aug 29 |",
    )
    result = changes(halves)
    assert not result and [len(pieces) for _, pieces in result.split] == [2]
    overlapping = halves.replace("Wed, Jul 16", "Mon, Jul 7")  # not a cut: a new row
    assert changes(overlapping).split == ()


def test_two_rows_merged_into_one_period_is_a_merge() -> None:
    split = BASE.replace(
        "| Coding period | Mon, Jun 9 – Fri, Aug 29 |",
        "| Coding period starts | Mon, Jun 9 |\n| Coding period ends | Fri, Aug 29 |",
    )
    result = changes(BASE, old=split)
    assert not result and [n.title for _, n in result.merged] == ["Coding period"]


def test_term_span_lines_are_not_rows_and_merging_them_fires_nothing() -> None:
    two = BASE.replace(
        "## Timeline\n", "## Timeline\n\n**Summer Term: June 9th - August 29th**\n\n"
        "**Term 2: June 9th - August 29th**\n"
    )  # fmt: skip
    one = BASE.replace(
        "## Timeline\n", "## Timeline\n\n**Summer Term 2031: June 9th - August 29th**\n"
    )
    for text in (two, one):
        (timeline,) = read(text)
        assert len(timeline.events) == 7 and timeline.term.first_month == 6
    assert summary(changes(one, old=two)) == ([], [], [])


def test_a_draft_of_the_next_term_above_the_page_changes_nothing_of_it() -> None:
    draft = """# Term 3 of 2031

## Timeline

| Activity | Dates |
|---|---|
| Call for project ideas | Mon, Jul 7 – Mon, Aug 4 |
| Applicants apply | Tue, Aug 5 – Tue, Aug 19 |

"""
    page = draft + BASE.replace("# Term 2 of 2031", "# Term 2 of 2031 (this page)")
    assert summary(changes(page)) == ([], [], [])
    assert summary(changes(BASE, old=page)) == ([], [], [])  # the draft moved to its own page
    moved = page.replace("Tue, Aug 5", "Wed, Aug 6")  # the draft itself changed: both hold it
    assert [o.term for o, _ in changes(moved, old=page).moved] == ["lfx-2031-t3"]


def test_a_timeline_moving_between_sources_is_the_same_rows() -> None:
    (here,) = read(BASE)
    moved_page = [replace(e, source="b.md", line=e.line + 40) for e in here.events]
    assert not diff(here.events, moved_page)
    assert not diff(here.events, [*here.events, *moved_page])  # on both pages for a while
    other = [replace(e, term="lfx-2031-t3") for e in here.events]
    result = diff(here.events, [*here.events, *other])
    assert {e.term for e in result.added} == {"lfx-2031-t3"}  # per term, never paired across


def test_leftover_matching_is_bounded_on_a_large_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    from feeds.model import Event
    from scheduler import changes as module

    def rows(count: int, name: str, first: int) -> list[Event]:
        day = dt.date(2031, 1, 1)
        return [Event(f"t-{name}{i}@x", "t", f"{name} row {i}", day + dt.timedelta(first + i % 300))
                for i in range(count)]  # fmt: skip

    calls = 0
    original = module._score

    def counting(*args: object) -> float | None:
        nonlocal calls
        calls += 1
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_score", counting)
    counts = []
    for n in (400, 1200):
        calls = 0
        result = diff(rows(n, "alpha", 0), rows(n, "beta", 1000))
        assert (len(result.added), len(result.removed), result.moved) == (n, n, ())
        counts.append(calls)
    assert counts[1] <= 3 * counts[0] + 1000  # linear in rows: the window, not rows × rows
