"""The year solver: evidence weighed over the whole timeline, never row by row."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.model import Term, endpoint_text
from feeds.timeline import parse_markdown
from feeds.years import Evidence, MonthDay, YearRow, solve, term_window

_WEEKDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _table(rows: list[str], title: str = "# Mentorship cohort", header: str = "Date") -> str:
    body = "".join(f"| row {i} | {cell} |\n" for i, cell in enumerate(rows))
    return f"{title}\n\n## Timeline\n\n| Activity | {header} |\n| --- | --- |\n{body}"


@st.composite
def dated_rows(draw: st.DrawFn) -> tuple[int, list[dt.date]]:
    # A term's timeline spans at most about eight months (proposals to last day).
    year = draw(st.integers(2000, 2090))
    start = dt.date(year, 1, 1) + dt.timedelta(days=draw(st.integers(0, 364)))
    offsets = draw(st.lists(st.integers(0, 240), min_size=2, max_size=12, unique=True).map(sorted))
    dates = [start + dt.timedelta(days=o) for o in offsets]
    return dates[0].year, dates


@settings(max_examples=60, deadline=None)
@given(dated_rows(), st.integers(-1, 1))
def test_weekdays_consistent_with_one_year_resolve_to_that_year(
    case: tuple[int, list[dt.date]], title_shift: int
) -> None:
    # Every row prints a weekday and no year; the title names a year near (not
    # necessarily equal to) the year the timeline starts in. The weekdays decide,
    # across the new year too.
    year, dates = case
    cells = [f"{_WEEKDAY[d.weekday()]}, {d:%b} {d.day}" for d in dates]
    timeline = parse_markdown(_table(cells, title=f"# Cohort {year + title_shift}"), "t.md")
    got = [endpoint_text(e.start) for e in timeline.events]
    # Feb 29 rows of a leap year are the strongest evidence there is; all others
    # must agree with the year whose weekdays they print.
    assert got == [d.isoformat() for d in dates]
    assert not [w for w in timeline.warnings if w.code == "weekday"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31)),
        min_size=1,
        max_size=10,
        unique=True,
    ),
    st.randoms(use_true_random=False),
)
def test_reordering_rows_with_explicit_years_changes_none_of_their_values(
    dates: list[dt.date], rnd: object
) -> None:
    cells = [f"{d:%B} {d.day}, {d.year}" for d in dates]
    shuffled = list(zip(cells, dates, strict=True))
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    first = parse_markdown(_table(cells, title="# Term 02 - 2027"), "t.md")
    second = parse_markdown(_table([c for c, _ in shuffled], title="# Term 02 - 2027"), "t.md")
    want = {d.isoformat() for d in dates}
    assert {endpoint_text(e.start) for e in first.events} == want
    assert {endpoint_text(e.start) for e in second.events} == want


def test_a_january_row_after_a_december_row_is_in_the_next_year() -> None:
    text = _table(["Dec 6", "Jan 10", "Feb 2"], title="# Winter 2027/28")
    timeline = parse_markdown(text, "t.md")
    assert [endpoint_text(e.start) for e in timeline.events] == [
        "2027-12-06", "2028-01-10", "2028-02-02",
    ]  # fmt: skip


def test_feb_29_of_the_leap_year_is_read_in_the_leap_year() -> None:
    timeline = parse_markdown(_table(["Dec 6", "Tue, Feb. 29"], title="# Winter 2027/28"), "t.md")
    assert [endpoint_text(e.start) for e in timeline.events] == ["2027-12-06", "2028-02-29"]
    assert timeline.warnings == ()


def test_the_header_year_beats_the_usual_term_months() -> None:
    text = _table(["Nov 3", "Dec 1"], title="# Term 01 - 2026", header="Dates (2026)")
    timeline = parse_markdown(text, "t.md")
    assert [endpoint_text(e.start) for e in timeline.events] == ["2026-11-03", "2026-12-01"]
    assert timeline.warnings == ()


def test_a_weekday_that_conflicts_with_everything_else_is_warned_and_loses() -> None:
    # 2027-06-07 is a Monday; "Sat" fits no nearby year but 2025: the table wins.
    text = _table(["Mon, May 3", "Sat, June 7", "Tue, July 13"], title="# Term 02 - 2027")
    timeline = parse_markdown(text, "t.md")
    assert [endpoint_text(e.start) for e in timeline.events][1] == "2027-06-07"
    (warning,) = timeline.warnings
    assert warning.code == "weekday" and "'Sat' is printed" in warning.message


def test_a_year_chosen_against_the_header_says_why() -> None:
    # The printed weekdays say 2028; the header says 2027.
    text = _table(["Mon, Jan 10", "Wed, Feb 2"], title="# Cohort", header="Dates (2027)")
    timeline = parse_markdown(text, "t.md")
    assert [endpoint_text(e.start) for e in timeline.events] == ["2028-01-10", "2028-02-02"]
    assert all("against the heading year 2027" in w.message for w in timeline.warnings)
    assert len(timeline.warnings) == 2


def test_wrapping_term_window_ends_after_it_starts() -> None:
    term = Term("x", 2027, None, "", first_month=12, last_month=2, months_written=True)
    window = term_window(term)
    assert window is not None and window[0] < window[1]
    assert window[0] <= dt.date(2028, 2, 29) <= window[1]


def test_no_evidence_means_no_year() -> None:
    (choice,) = solve([YearRow(MonthDay(3, 4))], Evidence(Term("x")))
    assert choice.start_year is None


def test_solver_is_linear_in_rows() -> None:
    rows = [YearRow(MonthDay(1 + i % 12, 1 + i % 28)) for i in range(4000)]
    choices = solve(rows, Evidence(Term("x", 2030)))
    assert len(choices) == 4000 and all(c.start_year is not None for c in choices)


@settings(max_examples=60, deadline=None)
@given(dated_rows(), st.data())
def test_one_wrong_weekday_moves_no_other_row_and_is_warned(
    case: tuple[int, list[dt.date]], data: st.DataObject
) -> None:
    year, dates = case
    wrong = data.draw(st.integers(0, len(dates) - 1))
    shift = data.draw(st.integers(1, 6))
    cells = [
        f"{_WEEKDAY[(d.weekday() + (shift if i == wrong else 0)) % 7]}, {d:%b} {d.day}"
        for i, d in enumerate(dates)
    ]
    timeline = parse_markdown(_table(cells, title=f"# Cohort {year}"), "t.md")
    got = [endpoint_text(e.start) for e in timeline.events]
    want = [d.isoformat() for d in dates]
    # The row itself may go either way (a weekday outranks the row order), but it
    # is warned, its month and day stand, and no other row moves.
    assert got[:wrong] + got[wrong + 1 :] == want[:wrong] + want[wrong + 1 :]
    assert got[wrong][4:] == want[wrong][4:]
    assert {w.line for w in timeline.warnings} == {timeline.events[wrong].line}


def test_attention_names_past_terms_and_years_chosen_against_weekdays() -> None:
    from feeds.attention import attention

    text = _table(["Mon, May 3", "Sat, June 7", "Tue, July 13"], title="# Term 02 - 2027")
    timeline = parse_markdown(text, "t.md")
    before = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    (weekday,) = attention(timeline, before, "America/Los_Angeles")
    assert "1 row(s)" in weekday and "lines 8" in weekday
    after = dt.datetime(2027, 7, 14, 12, tzinfo=dt.UTC)  # July 13 is over in Los Angeles
    past, _ = attention(timeline, after, "America/Los_Angeles")
    assert "all 3 events" in past and "no reminder will be planned" in past
    during = dt.datetime(2027, 7, 13, 20, tzinfo=dt.UTC)  # still July 13 in Los Angeles
    assert len(attention(timeline, during, "America/Los_Angeles")) == 1
