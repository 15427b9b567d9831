"""One date cell at a time, read against a term: the exact dates, instants, zones and messages.

The documents and the check matrix show the policy in context; these pin each
rule of :mod:`feeds.resolve` at its edges (a.m./p.m. borrowed across a range,
the UTC equivalent, the 1970–2100 window, a day or a time out of range), so a
rule moved by one or a message reworded turns a test red.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from feeds.dates import read_cell
from feeds.model import Term
from feeds.resolve import Context, RowError, resolve

TERM = Term("lfx-2031-t2", 2031, 2, "June - August", first_month=6, last_month=8)
CTX = Context(TERM, "America/Los_Angeles")
LA, UTC = "America/Los_Angeles", "UTC"
FAR = "year {} is far from term lfx-2031-t2; check the year"


def _id(cell: str) -> str:
    """A test id of letters, digits and underscores (mutmut re-runs tests by their ids)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", cell).strip("_")


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


D = dt.date

READ = [
    # cell, start, end, zones, warnings
    ("2 – 20 August 2031", D(2031, 8, 2), D(2031, 8, 20), (None, None), []),
    ("3 – 3 August 2033", D(2033, 8, 3), None, (None, None), [FAR.format(2033)] * 2),
    ("Aug 31", D(2031, 8, 31), None, (None, None), []),
    ("1/1", D(2031, 1, 1), None, (None, None), []),
    ("Aug 5 – Aug 5", D(2031, 8, 5), None, (None, None), []),
    ("Aug 5, 23:59 UTC", utc(2031, 8, 5, 23, 59), None, (UTC, None), []),
    ("Aug 5, 10:59 UTC", utc(2031, 8, 5, 10, 59), None, (UTC, None), []),
    ("Aug 5, 10:00", utc(2031, 8, 5, 17), None, (LA, None),
     ["10:00 has no time zone; read in the program zone America/Los_Angeles"
      " (add e.g. 'PT' or 'UTC')"]),
    ("Aug 5, 10:00 PT (18:00 UTC)", utc(2031, 8, 5, 18), None, (LA, None),
     ["UTC equivalent 18:00 UTC disagrees with 10:00 PT (17:00 UTC); the UTC time wins"]),
    ("Aug 5, 20:00 PT (03:00 UTC)", utc(2031, 8, 6, 3), None, (LA, None), []),  # the next UTC day
    ("Aug 5, 01:00 PT (07:00 UTC)", utc(2031, 8, 5, 7), None, (LA, None),
     ["UTC equivalent 07:00 UTC disagrees with 01:00 PT (08:00 UTC); the UTC time wins"]),
    ("Aug 5, 23:00 PT (05:00 UTC)", utc(2031, 8, 6, 5), None, (LA, None),
     ["UTC equivalent 05:00 UTC disagrees with 23:00 PT (06:00 UTC); the UTC time wins"]),
    ("Aug 5, 10:00 UTC (3 AM PT)", utc(2031, 8, 5, 10), None, (LA, None), []),
    ("Aug 5, 10:00 – 11:00 (UTC)", utc(2031, 8, 5, 10), utc(2031, 8, 5, 11), (UTC, UTC), []),
    ("Aug 5, 10:00 – 11:00 PT", utc(2031, 8, 5, 17), utc(2031, 8, 5, 18), (LA, LA), []),
    ("Aug 5, 10:00 – 10:00 PT", utc(2031, 8, 5, 17), None, (LA, None), []),
    ("Aug 5, 10:00 UTC – Aug 7", utc(2031, 8, 5, 10), D(2031, 8, 7), (UTC, None), []),
    ("Aug 5, 10 AM – Aug 7, 5 PM PT", utc(2031, 8, 5, 17), utc(2031, 8, 8), (LA, LA), []),
    # a.m./p.m. written once, after the range, counts for its start when it can
    ("Aug 5, 9:00 - 10:00 AM PT", utc(2031, 8, 5, 16), utc(2031, 8, 5, 17), (LA, LA), []),
    ("Aug 5, 9:00 - 10:00 PM PT", utc(2031, 8, 6, 4), utc(2031, 8, 6, 5), (LA, LA), []),
    ("Aug 5, 9:00 – 11:00 PM PT", utc(2031, 8, 6, 4), utc(2031, 8, 6, 6), (LA, LA), []),
    ("Aug 5, 11:00 - 1:00 PM PT", utc(2031, 8, 5, 18), utc(2031, 8, 5, 20), (LA, LA), []),
    ("Aug 5, 12:00 - 1:00 PM PT", utc(2031, 8, 5, 19), utc(2031, 8, 5, 20), (LA, LA), []),
    ("Aug 5, 1:00 - 1:00 PM PT", utc(2031, 8, 5, 20), None, (LA, None), []),
    ("Aug 5, 0:30 - 1:00 PM PT", utc(2031, 8, 5, 7, 30), utc(2031, 8, 5, 20), (LA, LA), []),
    ("Aug 5, 9:00 AM – 10:00 PM PT", utc(2031, 8, 5, 16), utc(2031, 8, 6, 5), (LA, LA), []),
    ("Aug 5, 13:00 - 1:00 PM PT", utc(2031, 8, 5, 20), None, (LA, None), []),
    ("Aug 5, 12:00 - 1:00 AM PT", utc(2031, 8, 5, 7), utc(2031, 8, 5, 8), (LA, LA), []),  # midnight
    ("Aug 5, 9:00 CET - 10:00 PM PT", utc(2031, 8, 5, 19), utc(2031, 8, 6, 5),
     ("Europe/Berlin", LA),  # the start keeps its own zone
     ["CET printed, but 2031-08-05 is CEST in Europe/Berlin; read as 21:00 wall-clock time there"]),
    ("Aug 5, 10:00 (18:00 UTC)", utc(2031, 8, 5, 18), None, (LA, None),
     ["UTC equivalent 18:00 UTC disagrees with 10:00 America/Los_Angeles (17:00 UTC);"
      " the UTC time wins"]),
    ("Aug 5, 01:00 CEST (23:00 UTC)", utc(2031, 8, 4, 23), None, ("Europe/Berlin", None), []),
    ("Aug 5, 10:30 PT (17:31 UTC)", utc(2031, 8, 5, 17, 31), None, (LA, None),
     ["UTC equivalent 17:31 UTC disagrees with 10:30 PT (17:30 UTC); the UTC time wins"]),
    # the term's window (2030-09-04 to 2031-12-01) for a printed year, both edges
    ("Sep 4, 2030", D(2030, 9, 4), None, (None, None), []),
    ("Sep 3, 2030", D(2030, 9, 3), None, (None, None), [FAR.format(2030)]),
    ("Dec 1, 2031", D(2031, 12, 1), None, (None, None), []),
    ("Dec 2, 2031", D(2031, 12, 2), None, (None, None), [FAR.format(2031)]),
    # a zone label on one side only is shared with the other side
    ("Aug 5, 10:00 CET – 11:00", utc(2031, 8, 5, 8), utc(2031, 8, 5, 9),
     ("Europe/Berlin", "Europe/Berlin"),
     ["CET printed, but 2031-08-05 is CEST in Europe/Berlin; read as 10:00 wall-clock time there",
      "CET printed, but 2031-08-05 is CEST in Europe/Berlin; read as 11:00 wall-clock time there"]),
    # the window and the printed weekday
    ("Jan 1, 1970", D(1970, 1, 1), None, (None, None), [FAR.format(1970)]),
    ("Dec 31, 2100", D(2100, 12, 31), None, (None, None), [FAR.format(2100)]),
    ("Wed, Aug 5, 2031", D(2031, 8, 5), None, (None, None),
     ["'Wed' is printed but August 5, 2031 is a Tuesday; the date wins (check the row)"]),
    ("Tue, Aug 5, 2031", D(2031, 8, 5), None, (None, None), []),
    ("Feb 29, 2032", D(2032, 2, 29), None, (None, None), [FAR.format(2032)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "start", "end", "zones", "warnings"), READ, ids=[_id(r[0]) for r in READ]
)
def test_a_cell_reads_exactly(
    cell: str,
    start: dt.date,
    end: dt.date | None,
    zones: tuple[str | None, str | None],
    warnings: list[str],
) -> None:
    got = resolve(read_cell(cell), CTX)
    assert (got.start, got.end, got.zones, got.warnings) == (start, end, zones, warnings)
    for value in (got.start, got.end):  # instants are aware UTC, never naive
        if isinstance(value, dt.datetime):
            assert value.utcoffset() == dt.timedelta(0)


REFUSED = [
    ("Aug 2031", "no day written (write e.g. 'Tue, Jul 21')"),
    ("10:00 UTC", "no date written (write e.g. 'Tue, Jul 21')"),
    ("Aug 32", "month 8, day 32 is not a date; no event made"),
    ("Aug 0", "month 8, day 0 is not a date; no event made"),
    ("13/5", "month 13, day 5 is not a date; no event made"),
    ("Feb 30, 2031", "February 30, 2031 does not exist; no event made (fix the date)"),
    ("Feb 30", "February 30, 2031 does not exist; no event made (fix the date)"),
    ("Aug 5, 24:00 UTC", "24:00 is not a time of day"),
    ("Aug 5, 24:30 UTC", "24:30 is not a time of day"),
    ("Aug 5, 10:61 UTC", "10:61 is not a time of day"),
    ("Aug 5, 10:60 UTC", "10:60 is not a time of day"),
    ("Jan 1, 2101", "2101-01-01 is outside 1970–2100; no event made (check the year)"),
    ("Dec 31, 1969", "1969-12-31 is outside 1970–2100; no event made (check the year)"),
    ("Aug 5, 10:00 UTC – 09:00 UTC", "the range ends before it starts; check the dates"),
    ("Aug 5, 10:00 PT – 11:00 UTC", "the range ends before it starts; check the dates"),
    ("Aug 5, 13:00 - 2:00 AM PT", "the range ends before it starts; check the dates"),
    ("Aug 5 – 7 – 9 – 11 – 13 – 15", "two different days written ('9'); "
     "two different days written ('11'); two different days written ('13')"),
]  # fmt: skip


@pytest.mark.parametrize(("cell", "message"), REFUSED, ids=[_id(r[0]) for r in REFUSED])
def test_a_cell_is_refused_with_the_reason(cell: str, message: str) -> None:
    with pytest.raises(RowError) as raised:
        resolve(read_cell(cell), CTX)
    assert str(raised.value) == message


def test_no_year_anywhere_is_refused() -> None:
    with pytest.raises(RowError) as raised:
        resolve(read_cell("Aug 5"), Context(Term("lfx-draft"), "UTC"))
    assert str(raised.value) == (
        "no year is written and the term's year is unknown"
        " (write the year, put it in the title, or pass --term)"
    )
