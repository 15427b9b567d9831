"""The normalization policy, one written form at a time."""

from __future__ import annotations

import pytest

from feeds.errors import NoTimelineError, TermIdError
from feeds.model import endpoint_text
from feeds.timeline import parse_markdown


def doc(cell: str, title: str = "# Term 02 - 2031 June - August", header: str = "date") -> str:
    return f"{title}\n\n## Timeline\n\n| activity | {header} |\n| --- | --- |\n| thing | {cell} |\n"


def one(cell: str, **kwargs: str) -> tuple[str, str | None, list[str], tuple[str, ...]]:
    timeline = parse_markdown(doc(cell, **kwargs), "t.md")
    assert len(timeline.events) == 1, timeline.warnings
    event = timeline.events[0]
    end = None if event.end is None else endpoint_text(event.end)
    return endpoint_text(event.start), end, [w.message for w in timeline.warnings], event.notes


@pytest.mark.parametrize(
    ("cell", "start", "end"),
    [
        ("Sept 8", "2031-09-08", None),
        ("Thurs, June 5", "2031-06-05", None),
        ("Tues Jun 3", "2031-06-03", None),
        ("May 31st", "2031-05-31", None),
        ("June 2nd - 13th", "2031-06-02", "2031-06-13"),
        ("May 3 - 17", "2031-05-03", "2031-05-17"),
        ("Mon, May 5 – Fri, May 16, 11AM PDT (18:00 UTC)", "2031-05-05", "2031-05-16T18:00:00Z"),
        ("2031-06-07", "2031-06-07", None),
        ("7 June 2031", "2031-06-07", None),
        ("June 7, 2031, noon PT", "2031-06-07T19:00:00Z", None),
        ("June 7, 2031, midnight UTC", "2031-06-07T00:00:00Z", None),
        ("June 7, 2031, 11:00 a.m. PT", "2031-06-07T18:00:00Z", None),
        ("June 7, 2031 11AM Pacific", "2031-06-07T18:00:00Z", None),
        ("June 7, 2031 18:00Z", "2031-06-07T18:00:00Z", None),
        ("June 7 17:00 UTC+2", "2031-06-07T15:00:00Z", None),
        ("June 7, 9am EDT", "2031-06-07T13:00:00Z", None),
        ("June 7, 9am MT", "2031-06-07T15:00:00Z", None),
        ("June 7, 9am CST", "2031-06-07T14:00:00Z", None),
        ("June 7, 9:00 CET", "2031-06-07T07:00:00Z", None),
        ("~~June 1~~ June 8", "2031-06-08", None),
        ("<del>June 1</del> June 9", "2031-06-09", None),
        ("**June 10**", "2031-06-10", None),
        ("Dec 15 - Jan 10, 2032", "2031-12-15", "2032-01-10"),
        ("6/14/2031", "2031-06-14", None),
        ("2031-06-14T18:00:00Z", "2031-06-14T18:00:00Z", None),
        ("2031-06-14T18:00+05:30", "2031-06-14T12:30:00Z", None),
        ("Mar 6, 2031, 1700 UTC", "2031-03-06T17:00:00Z", None),
        ("2 – 20 August 2031, 23:59 AoE", "2031-08-02", "2031-08-21T11:59:00Z"),
        ("Wed Mar 5, 10 AM – 11 AM (UTC)", "2031-03-05T10:00:00Z", "2031-03-05T11:00:00Z"),
    ],
)
def test_written_forms(cell: str, start: str, end: str | None) -> None:
    got_start, got_end, _, _ = one(cell)
    assert (got_start, got_end) == (start, end)


def test_time_belongs_to_the_end_only() -> None:
    start, end, _, _ = one("Wed, July 2 – Tue, July 29, 2031 11AM PDT (18:00 UTC)")
    assert start == "2031-07-02" and end == "2031-07-29T18:00:00Z"


def test_utc_equivalent_is_authoritative_and_a_disagreement_is_warned() -> None:
    start, _, warnings, _ = one("June 7, 2031, 11AM PDT (19:00 UTC)")
    assert start == "2031-06-07T19:00:00Z"
    assert any("disagrees" in w for w in warnings)


def test_utc_equivalent_on_the_next_utc_day() -> None:
    start, _, warnings, _ = one("June 7, 2031, 5:00 PM PDT (00:00 UTC)")
    assert start == "2031-06-08T00:00:00Z" and warnings == []


def test_wrong_pacific_label_keeps_the_wall_clock_and_warns() -> None:
    start, _, warnings, _ = one("Jan 8, 2031, 8:00 AM PDT")
    assert start == "2031-01-08T16:00:00Z"
    assert any("PDT printed" in w for w in warnings)


def test_time_without_zone_is_read_in_the_program_zone_with_a_warning() -> None:
    timeline = parse_markdown(doc("June 7, 2031, 10:00"), "t.md", zone="Europe/Berlin")
    assert endpoint_text(timeline.events[0].start) == "2031-06-07T08:00:00Z"
    assert "no time zone" in timeline.warnings[0].message


@pytest.mark.parametrize(
    ("cell", "note"),
    [
        ("Mon, Jul 21, Times TBD", "Times TBD"),
        ("Wednesday April 9 (Week 6)", "Week 6"),
        ("October 6 (End of Week 5)", "End of Week 5"),
        ("August 15th (by PT EOD)", "by PT EOD"),
        ("Tue, Sep 2 *(may take a few days)*", "may take a few days"),
        ("Feb 1st - Feb 12th \\(2 weeks\\)", "2 weeks"),
    ],
)
def test_notes_are_kept_and_do_not_change_the_value(cell: str, note: str) -> None:
    _, _, warnings, notes = one(cell)
    assert note in notes and warnings == []


def test_weekday_mismatch_warns_and_the_date_wins() -> None:
    start, _, warnings, _ = one("Tues June 12")  # 2031-06-12 is a Thursday
    assert start == "2031-06-12"
    assert any("'Tues' is printed" in w and "Thursday" in w for w in warnings)


def test_year_far_from_the_term_warns() -> None:
    start, _, warnings, _ = one("May 8th, 2030")
    assert start == "2030-05-08" and any("far from term" in w for w in warnings)


@pytest.mark.parametrize(
    "cell", ["November 31st", "Feb 29, 2031", "June 45", "TBD", "13:75 UTC June 3"]
)
def test_unreadable_rows_are_skipped_with_a_warning_and_the_rest_survive(cell: str) -> None:
    text = doc(cell) + "| other | June 9 |\n"
    timeline = parse_markdown(text, "t.md")
    assert [e.title for e in timeline.events] == ["other"]
    assert timeline.warnings[0].line == 7


def test_missing_year_from_the_header_and_the_run_up_to_the_term() -> None:
    text = doc("Dec 10", title="# Term 01 - 2032 March - May", header="Dates (2032)")
    timeline = parse_markdown(text, "t.md")
    assert endpoint_text(timeline.events[0].start) == "2031-12-10"


def test_missing_year_from_the_path() -> None:
    text = "# Timeline\n\n- Oct 3: kickoff\n"
    timeline = parse_markdown(text, "x", path="programs/lfx-mentorship/2029/03-Sep-Nov/README.md")
    assert timeline.term.id == "lfx-2029-t3"
    assert endpoint_text(timeline.events[0].start) == "2029-10-03"


def test_no_year_anywhere_is_an_error_naming_the_row_not_a_guess() -> None:
    # A document where no row yields a date is an error (issue 9), and says why.
    with pytest.raises(NoTimelineError, match=r"line 3: .*year"):
        parse_markdown("# Timeline\n\n- Oct 3: kickoff\n", "x.md")


def test_a_document_without_a_timeline_is_an_error() -> None:
    with pytest.raises(NoTimelineError, match=r"x\.md"):
        parse_markdown("# Term 01 - 2031\n\nNo dates here.\n", "x.md")


def test_term_override() -> None:
    timeline = parse_markdown(doc("June 7"), "t.md", term="lfx-2031-t9")
    assert timeline.term.id == "lfx-2031-t9" and timeline.events[0].uid.startswith("lfx-2031-t9-")


def test_a_malformed_term_override_is_refused() -> None:
    with pytest.raises(TermIdError, match="'custom-term' is not a term id"):
        parse_markdown(doc("June 7"), "t.md", term="custom-term")
