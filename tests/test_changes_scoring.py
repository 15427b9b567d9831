"""The matching's documented thresholds, one small edit each (issue 17: mutation score).

Each case is a one- or two-row term whose expected outcome follows from the
rules in :mod:`scheduler.changes`'s docstring: the assignment score
``0.5·title + 0.2·category + 0.15·position + 0.15·proximity`` against
``ACCEPT``, ``RELATED_TITLE`` without a shared category, ``NEAR_DAYS``, the
same-dates pass at ``SAME_DATES_TITLE``, and splits related by category
(never by ``other``). Events are built here; the dates are invented.
"""

from __future__ import annotations

import datetime as dt

from feeds.model import Event
from scheduler.changes import Diff, diff, title_similarity, wall_clock

D = dt.date
TEN_A = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
TEN_B = "alpha bravo charlie kilo lima mike november oscar papa quebec"  # Dice 0.3 with TEN_A


def ev(uid: str, title: str, start: dt.date, end: dt.date | None = None, *cats: str) -> Event:
    return Event(uid, "t", title, start, end, tuple(cats) or ("other",))


def outcome(
    old: list[Event], new: list[Event]
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    result = diff(old, new)
    return (
        [(a.uid, b.uid) for a, b in result.moved],
        [e.uid for e in result.added],
        [e.uid for e in result.removed],
    )


def test_a_shared_category_and_a_near_deadline_pair_rows_with_unrelated_titles() -> None:
    # title 0, category 0.2, position 0.15, proximity 0.15·(1 - 1/60): 0.4975 >= 0.45
    old = [ev("a", "Stipend one", D(2031, 6, 10), None, "stipend")]
    new = [ev("b", "Payment wave", D(2031, 6, 11), None, "stipend")]
    assert outcome(old, new) == ([("a", "b")], [], [])


def test_unrelated_titles_sharing_a_category_but_far_apart_stay_unpaired() -> None:
    # proximity 0 at NEAR_DAYS; Dice 0.25 < RELATED_TITLE, so the pair is refused
    old = [ev("a", "alpha bravo charlie delta", D(2031, 6, 10), None, "stipend")]
    new = [ev("b", "alpha echo foxtrot golf", D(2031, 8, 9), None, "stipend")]
    assert outcome(old, new) == ([], ["b"], ["a"])
    far = [ev("b", "alpha echo foxtrot golf", D(2031, 9, 8), None, "stipend")]  # 90 days
    assert outcome(old, far) == ([], ["b"], ["a"])


def test_a_title_at_exactly_the_related_threshold_needs_no_proximity() -> None:
    # Dice exactly 0.3 (not below RELATED_TITLE) and a category: 0.15 + 0.2 + 0.15 = 0.5
    old = [ev("a", TEN_A, D(2031, 6, 10), None, "coding")]
    new = [ev("b", TEN_B, D(2031, 9, 8), None, "coding")]
    assert outcome(old, new) == ([("a", "b")], [], [])


def test_related_titles_pair_without_a_shared_category() -> None:
    # title 0.8, no category: 0.4 + 0.15 + 0.15·(1 - 2/60) > 0.45
    old = [ev("a", "Mentee applications close", D(2031, 6, 10), None, "application")]
    new = [ev("b", "Mentee application deadline", D(2031, 6, 12), None, "deadline")]
    assert outcome(old, new) == ([("a", "b")], [], [])


def test_a_title_without_words_still_pairs_by_category_and_date() -> None:
    old = [ev("a", "2031", D(2031, 6, 10), None, "stipend")]
    new = [ev("b", "Stipend", D(2031, 6, 11), None, "stipend")]
    assert outcome(old, new) == ([("a", "b")], [], [])


def test_same_dates_pair_at_exactly_the_same_dates_title_threshold() -> None:
    # Dice exactly 0.2, no shared category, other places: a rename (retitled), not add+remove
    old = [ev("a", "alpha bravo charlie delta echo", D(2031, 6, 10), None, "x"),
           ev("k", "Keep", D(2031, 7, 1), None, "y")]  # fmt: skip
    new = [ev("k", "Keep", D(2031, 7, 1), None, "y"),
           ev("b", "alpha foxtrot golf hotel india", D(2031, 6, 10), None, "z")]  # fmt: skip
    result = diff(old, new)
    assert not result
    assert [(a.uid, b.uid) for a, b in result.retitled] == [("a", "b")]
    assert result.renamed == (("b", "a"),)


def _split(cats: tuple[str, ...]) -> Diff:
    whole = ev("w", "Coding period", D(2031, 6, 9), D(2031, 8, 29), *cats)
    head = ev("h", "Kick-off week", D(2031, 6, 9), D(2031, 6, 13), *cats)
    tail = ev("z", "Final evaluations", D(2031, 8, 25), D(2031, 8, 29), *cats)
    return diff([whole], [head, tail])


def test_a_split_is_recognised_by_a_shared_category_alone() -> None:
    result = _split(("coding",))
    assert [(o.uid, tuple(n.uid for n in ns)) for o, ns in result.split] == [("w", ("h", "z"))]
    assert result.renamed == (("z", "w"),)
    assert not result


def test_other_is_not_a_shared_category_for_a_split() -> None:
    result = _split(("other",))
    assert result.split == ()
    assert ([e.uid for e in result.added], [e.uid for e in result.removed]) == (["h", "z"], ["w"])


def test_canonical_gives_split_and_merge_pieces_their_old_uid() -> None:
    whole = ev("w", "Coding period", D(2031, 6, 9), D(2031, 8, 29))
    head = ev("h", "Kick-off", D(2031, 6, 9), D(2031, 6, 13))
    tail = ev("z", "Wrap-up", D(2031, 8, 25), D(2031, 8, 29))
    split = Diff(split=((whole, (head, tail)),), renamed=(("z", "w"),)).canonical()
    assert [(o.uid, [n.uid for n in ns]) for o, ns in split.split] == [("w", ["h", "w"])]
    merged = Diff(merged=(((head, tail), whole),), renamed=(("w", "z"),)).canonical()
    assert [([o.uid for o in os], n.uid) for os, n in merged.merged] == [(["h", "z"], "z")]
    assert merged.merged[0][1].title == "Coding period"


def test_wall_clock_adds_the_program_zone_after_each_instant_only() -> None:
    assert wall_clock("2031-05-21 → 2031-06-04T00:00:00Z", "America/Los_Angeles") == (
        "2031-05-21 → 2031-06-04T00:00:00Z (Tue Jun 03 17:00 PDT)"
    )
    assert wall_clock("2031-06-04T00:00:00Z", "Asia/Kolkata") == (
        "2031-06-04T00:00:00Z (Wed Jun 04 05:30 IST)"
    )
    assert wall_clock("TBD → 2031-06-04", "UTC") == "TBD → 2031-06-04"


def test_title_words_match_their_plural_and_four_letter_prefixes_only() -> None:
    assert title_similarity("terms", "term begins") == 2 / 3
    assert title_similarity("term", "terms begin") == 2 / 3
    assert title_similarity("pay", "payment due") == 0.0  # three letters: no prefix match
    assert title_similarity("2031", "Stipend") == 0.0  # numbers are not words
    assert title_similarity("1", "of 2") == 0.0  # no words on either side
    assert title_similarity("code coder", "coders xyz") == 1.0  # the smaller set counts


def test_a_time_added_to_a_date_only_deadline_is_a_move() -> None:
    old = [ev("a", "Stipend one", D(2031, 6, 10), None, "stipend")]
    later = dt.datetime(2031, 6, 11, 17, tzinfo=dt.UTC)
    new = [Event("b", "t", "Payment wave", later, None, ("stipend",))]
    assert outcome(old, new) == ([("a", "b")], [], [])


def test_table_position_counts_relative_to_the_tables_length() -> None:
    a = ev("a", "alpha bravo charlie delta", D(2031, 6, 10), None, "s")
    x, y = ev("x", "Kept", D(2031, 1, 1), None, "k"), ev("y", "Also", D(2031, 2, 1), None, "k")
    # first row to last row: position 0; Dice 0.25, category, 20 days: 0.425 < 0.45
    far = ev("b", "alpha echo foxtrot golf", D(2031, 6, 30), None, "s")
    assert outcome([a, x], [x, far]) == ([], ["b"], ["a"])
    # the same over three rows a day apart: 0.125 + 0.2 + 0 + 0.1475 >= 0.45
    near = ev("b", "alpha echo foxtrot golf", D(2031, 6, 11), None, "s")
    assert outcome([a, x, y], [x, y, near]) == ([("a", "b")], [], [])


def test_same_dates_pairing_goes_past_a_new_row_without_a_twin() -> None:
    old = [ev("a", "alpha bravo charlie delta echo", D(2031, 6, 10), None, "x"),
           ev("k", "Keep", D(2031, 7, 1), None, "y")]  # fmt: skip
    new = [ev("k", "Keep", D(2031, 7, 1), None, "y"),
           ev("n", "Brand new row", D(2031, 9, 1), None, "q"),
           ev("b", "alpha foxtrot golf hotel india", D(2031, 6, 10), None, "z")]  # fmt: skip
    result = diff(old, new)
    assert [(a.uid, b.uid) for a, b in result.retitled] == [("a", "b")]
    assert [e.uid for e in result.added] == ["n"]


def test_same_dates_rows_in_other_places_sharing_only_other_are_a_rename() -> None:
    old = [ev("a", "Kick-off", D(2031, 6, 10)), ev("k", "Keep", D(2031, 7, 1), None, "y")]
    new = [ev("k", "Keep", D(2031, 7, 1), None, "y"), ev("b", "Orientation", D(2031, 6, 10))]
    result = diff(old, new)
    assert [(a.uid, b.uid) for a, b in result.retitled] == [("a", "b")]
    assert not result


def pieces(result: Diff) -> list[tuple[str, tuple[str, ...]]]:
    return [(o.uid, tuple(n.uid for n in ns)) for o, ns in result.split]


def test_a_split_keeps_the_uid_on_the_piece_that_already_had_it() -> None:
    whole = ev("w", "Coding period", D(2031, 6, 9), D(2031, 8, 29), "coding")
    head = ev("w", "Coding period", D(2031, 6, 9), D(2031, 6, 13), "coding")
    tail = ev("z", "Final evaluations", D(2031, 8, 25), D(2031, 8, 29), "coding")
    result = diff([whole], [head, tail])
    assert pieces(result) == [("w", ("w", "z"))]
    assert (result.moved, result.added, result.renamed) == ((), (), ())


def test_split_pieces_may_touch_on_one_day() -> None:
    whole = ev("w", "Coding period", D(2031, 6, 9), D(2031, 8, 29), "coding")
    head = ev("h", "Kick-off", D(2031, 6, 9), D(2031, 6, 13), "coding")
    tail = ev("z", "Main coding", D(2031, 6, 13), D(2031, 8, 29), "coding")
    assert pieces(diff([whole], [head, tail])) == [("w", ("h", "z"))]


def test_a_split_needs_both_pieces_related_to_the_period() -> None:
    whole = ev("w", "Coding period", D(2031, 6, 9), D(2031, 8, 29), "coding")
    head = ev("h", "Kick-off week", D(2031, 6, 9), D(2031, 6, 13), "social")
    tail = ev("z", "Final evaluations", D(2031, 8, 25), D(2031, 8, 29), "coding")
    result = diff([whole], [head, tail])
    assert result.split == ()
    # nor is the tail alone a move: first row to last, unrelated title (0.2 + 0 + 0.15)
    assert ([e.uid for e in result.added], [e.uid for e in result.removed]) == (["h", "z"], ["w"])


def test_the_assignment_takes_the_best_pair_first_and_each_row_once() -> None:
    old = [ev("a", "Mentee applications close", D(2031, 6, 10), None, "application")]
    best = ev("b1", "Mentee applications close", D(2031, 6, 12), None, "application")
    worse = ev("b2", "Mentee applications close", D(2031, 7, 10), None, "application")
    assert outcome(old, [best, worse]) == ([("a", "b1")], ["b2"], [])


def test_position_is_the_distance_between_places_not_their_sum() -> None:
    # both rows last in their tables: position 1, so 0.2 + 0.15 + 0.1475 >= 0.45
    x = ev("x", "Kept", D(2031, 1, 1), None, "k")
    old = [x, ev("a", "Stipend one", D(2031, 6, 10), None, "stipend")]
    new = [x, ev("b", "Payment wave", D(2031, 6, 11), None, "stipend")]
    assert outcome(old, new) == ([("a", "b")], [], [])


def test_a_term_gone_from_the_new_version_is_all_removed() -> None:
    old = [ev("a", "Stipend one", D(2031, 6, 10)), ev("b", "Closing", D(2031, 8, 1))]
    assert outcome(old, []) == ([], [], ["a", "b"])
    assert outcome([], old) == ([], ["a", "b"], [])


def test_a_small_table_pairs_rows_however_far_they_moved_in_it() -> None:
    kept = [ev(f"k{n}", f"Milestone {n}", D(2031, 1, 1 + n), None, "k") for n in range(24)]
    old = [ev("a", "Closing survey due", D(2031, 8, 26), None, "survey"), *kept]
    new = [*kept, ev("b", "Closing surveys due", D(2031, 8, 28), None, "survey")]
    assert outcome(old, new) == ([("a", "b")], [], [])
