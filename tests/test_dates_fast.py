"""The fast reader of common date cells agrees with the full lexer on every cell it takes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.dates import MONTHS, WEEKDAYS, _read_simple, read_cell, read_cell_lexed

words = st.sampled_from([*MONTHS, *WEEKDAYS, "May", "Sept.", "to", "through", "x", "TBD", "PT"])
point = st.tuples(
    st.sampled_from(["", *(f"{w}, " for w in WEEKDAYS), *(f"{w.title()} " for w in WEEKDAYS)]),
    st.sampled_from(["", *(f"{m} " for m in MONTHS), *(f"{m.title()}. " for m in MONTHS)]),
    st.integers(0, 40).map(str),
    st.sampled_from(["", "st", "nd", "th"]),
    st.sampled_from(["", ", 2031", " 2031", ", 1999", ", 9999", ", 0999"]),
).map("".join)
clock = st.tuples(
    st.sampled_from(["", " ", ", "]),
    st.integers(0, 25).map(str),
    st.sampled_from(["", ":00", ":30", ".15", ":7"]),
    st.sampled_from(["", "AM", " pm", "am", " a.m.", "Z"]),
    st.sampled_from(["", " PT", " PDT", " EST", " UTC", " XYZ", " Pacific", " CEST", " Z"]),
    st.sampled_from(["", " (18:00 UTC)", "(00:30 GMT)", " (9:00 UTC)", " (18:00 PT)"]),
).map("".join)
cells = st.one_of(
    point,
    st.tuples(point, clock).map("".join),
    st.tuples(point, st.sampled_from([" - ", "–", " — ", " to ", " until ", " ", ", "]), point).map(
        "".join
    ),
    st.tuples(point, st.sampled_from([" - ", "–", " to "]), point, clock).map("".join),
    st.lists(
        st.one_of(words, point, st.sampled_from([" ", ",", "-", "1", "2031"])), max_size=6
    ).map("".join),
)


@settings(max_examples=1500, deadline=None)
@given(cells)
def test_the_fast_reader_agrees_with_the_lexer(text: str) -> None:
    fast = _read_simple(text)
    if fast is not None:
        assert fast == read_cell_lexed(text), text
    assert read_cell(text) == read_cell_lexed(text), text


def test_the_fast_reader_takes_the_common_cells() -> None:
    for text in [
        "Mon, Mar 3, 2031", "Jan 2 – Jan 13, 2031", "2031-03-03", "May 3 - 17",
        "Wed, July 2 – Tue, July 29, 2025 11AM PDT (18:00 UTC)", "May 14, 5 PM PT",
    ]:  # fmt: skip
        assert _read_simple(text) is not None, text
