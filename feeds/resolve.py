"""From what is written to what it means: dates, UTC instants and warnings.

The policy (also in the README): a date with no time stays a calendar date; a
time makes a UTC instant. A zone label means the wall clock of its IANA zone on
that date whatever DST the label claims; an explicit UTC equivalent is
authoritative; a time with no zone is read in the program's zone. Missing years are
chosen for the whole timeline at once by :mod:`feeds.years`. Nothing
missing is invented: an impossible or incomplete date is an error for that row.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from feeds.dates import Clock, Point, Written
from feeds.model import Endpoint, Term
from feeds.years import Choice, Evidence, MonthDay, YearRow, solve, term_window
from feeds.zones import ZoneLabel, lookup, resolve_wall_clock

_DAY_NAMES = tuple(calendar.day_name)
MIN_DATE = dt.date(1970, 1, 1)
"""The earliest date read as an event (older ones are a row warning)."""
MAX_DATE = dt.date(2100, 12, 31)
"""The latest date read as an event (later ones are a row warning)."""


class RowError(ValueError):
    """A row whose date cannot be read; the message says why (the row is skipped)."""


class Context(NamedTuple):
    """What a row is read against: the term and the program's zone name."""

    term: Term
    zone: str = "America/Los_Angeles"


@dataclass(slots=True)
class Resolved:
    """The meaning of one date cell."""

    start: Endpoint
    end: Endpoint | None
    warnings: list[str] = field(default_factory=list)
    zones: tuple[str | None, str | None] = (None, None)
    """For each endpoint, the IANA zone its time was written in (``UTC`` for a UTC
    time alone, the program zone for a time with no label); None for a date."""


class Prepared(NamedTuple):
    """A date cell with months and days checked, years still as printed (maybe None)."""

    start: Point
    end: Point | None


def prepare(written: Written) -> Prepared:
    """Check a written cell and fill what the cell itself implies, except years.

    A range end without a month takes the start's (``May 3 - 17``), a range start
    without one the end's (``2 – 20 August``); an end with only a time takes the
    start's date. Raises :class:`RowError` for a cell with
    no day or month, or one that is not a date.
    """
    if written.problems:
        raise RowError("; ".join(written.problems[:3]))
    start, end = written.start, written.end
    if end is not None:
        if end.day is None and end.month is None and end.clocks:
            end.year, end.month, end.day = start.year, start.month, start.day
        elif end.month is None and end.day is not None:
            end.month = start.month
        elif start.month is None and start.day is not None and end.month is not None:
            start.month = end.month  # "2 – 20 August 2027": the start takes the end's month
            if start.year is None and end.year is not None and start.day <= (end.day or 0):
                start.year = end.year
    for point in (start, end):
        if point is not None and (point.day is None or point.month is None):
            what = "day" if point.month is not None else "date"
            raise RowError(f"no {what} written (write e.g. 'Tue, Jul 21')")
        if point is not None and not (
            1 <= (point.month or 0) <= 12 and 1 <= (point.day or 0) <= 31
        ):
            raise RowError(f"month {point.month}, day {point.day} is not a date; no event made")
    return Prepared(start, end)


def year_row(prepared: Prepared, context: frozenset[int] = frozenset()) -> YearRow:
    """What the year solver needs of a prepared cell."""

    def md(point: Point) -> MonthDay:
        assert point.month is not None and point.day is not None
        return MonthDay(point.month, point.day, point.weekday, point.year, point.weekday_text)

    end = prepared.end
    return YearRow(md(prepared.start), md(end) if end is not None else None, context)


def _date(point: Point) -> dt.date:
    assert point.year is not None and point.month is not None and point.day is not None
    try:
        return dt.date(point.year, point.month, point.day)
    except ValueError:
        name = calendar.month_name[point.month] if 1 <= point.month <= 12 else str(point.month)
        raise RowError(
            f"{name} {point.day}, {point.year} does not exist; no event made (fix the date)"
        ) from None


def _label(clock: Clock, fallback: ZoneLabel | None) -> ZoneLabel | None:
    if clock.zone is None:
        return fallback
    return lookup(clock.zone)


def _instant(
    day: dt.date, point: Point, shared: ZoneLabel | None, ctx: Context, warnings: list[str]
) -> tuple[dt.datetime, str]:
    """The UTC instant of *point* on *day*, and the zone its wall clock was written in."""
    utc = [c for c in point.clocks if c.zone and (z := lookup(c.zone)) and z.is_utc]
    local = [c for c in point.clocks if c not in utc]
    for clock in point.clocks:
        if not (0 <= clock.hour < 24 and 0 <= clock.minute < 60):
            raise RowError(f"{clock.hour}:{clock.minute:02d} is not a time of day")
    if not local:
        return dt.datetime.combine(day, dt.time(utc[0].hour, utc[0].minute), dt.UTC), "UTC"
    clock = local[0]
    label = _label(clock, shared)
    wall = dt.time(clock.hour, clock.minute)
    if label is None:
        label = ZoneLabel(ctx.zone, ctx.zone)
        if not utc:
            warnings.append(
                f"{wall:%H:%M} has no time zone; read in the program zone {ctx.zone}"
                " (add e.g. 'PT' or 'UTC')"
            )
    resolved = resolve_wall_clock(day, wall, label)
    if resolved.problem:
        warnings.append(resolved.problem)
    if not utc:
        return resolved.instant, label.zone
    equivalent = min(
        (
            dt.datetime.combine(
                day + dt.timedelta(days=shift), dt.time(utc[0].hour, utc[0].minute), dt.UTC
            )
            for shift in (-1, 0, 1)
        ),
        key=lambda candidate: abs(candidate - resolved.instant),
    )
    if equivalent != resolved.instant:
        warnings.append(
            f"UTC equivalent {equivalent:%H:%M} UTC disagrees with {wall:%H:%M} {label.label}"
            f" ({resolved.instant:%H:%M} UTC); the UTC time wins"
        )
    return equivalent, label.zone


def _shared_zone(start: Point, end: Point | None) -> ZoneLabel | None:
    """The zone a range's unlabelled time borrows from the other side.

    A local label wins; a UTC label is shared only when it is that side's one
    zone (``10 AM – 11 AM (UTC)``), not the equivalent beside a local time.
    """
    utc_only: ZoneLabel | None = None
    for point in (end, start):
        if point is None:
            continue
        labels = [lookup(clock.zone) if clock.zone else None for clock in point.clocks]
        for label in labels:
            if label is not None and not label.is_utc:
                return label
        if labels and all(label is not None and label.is_utc for label in labels):
            utc_only = utc_only or labels[0]
    return utc_only


def _borrow_meridiem(start: Point, end: Point | None) -> None:
    """``9:00 - 10:00 AM``: the start takes the end's a.m./p.m."""
    if end is None or not start.clocks or not end.clocks:
        return
    first, last = start.clocks[0], end.clocks[0]
    if first.meridiem is None and last.meridiem in {"a", "p"} and 1 <= first.hour <= 12:
        hour = first.hour % 12 + (12 if last.meridiem == "p" else 0)
        if hour <= last.hour:
            start.clocks[0] = Clock(hour, first.minute, last.meridiem, first.zone)


def _check(
    point: Point,
    day: dt.date,
    printed_year: int | None,
    choice: Choice,
    term: Term,
    warnings: list[str],
) -> None:
    # An inferred year had its weekday weighed (and warned) by the year solver.
    if not choice.inferred and point.weekday is not None and point.weekday != day.weekday():
        warnings.append(
            f"{point.weekday_text!r} is printed but {day:%B} {day.day}, {day.year}"
            f" is a {_DAY_NAMES[day.weekday()]}; the date wins (check the row)"
        )
    window = term_window(term)
    if printed_year is not None and window is not None and not window[0] <= day <= window[1]:
        warnings.append(f"year {day.year} is far from term {term.id}; check the year")


def finish(prepared: Prepared, choice: Choice, ctx: Context) -> Resolved:
    """Turn a prepared cell and its chosen years into dates or UTC instants."""
    start, end = prepared
    printed = (start.year, end.year if end else None)
    if choice.start_year is None:
        raise RowError(
            "no year is written and the term's year is unknown"
            " (write the year, put it in the title, or pass --term)"
        )
    start.year = choice.start_year
    if end is not None:
        end.year = choice.end_year
    warnings: list[str] = list(choice.warnings)
    timed = bool(start.clocks) or (end is not None and bool(end.clocks))
    shared = _shared_zone(start, end) if timed else None
    if timed:
        _borrow_meridiem(start, end)
    values: list[Endpoint] = []
    zones: list[str | None] = []
    for point, year in ((start, printed[0]), (end, printed[1])):
        if point is None:
            continue
        day = _date(point)
        if not MIN_DATE <= day <= MAX_DATE:
            raise RowError(
                f"{day.isoformat()} is outside {MIN_DATE.year}–{MAX_DATE.year}; no event made"
                " (check the year)"
            )
        _check(point, day, year, choice, ctx.term, warnings)
        if point.clocks:
            instant, written_in = _instant(day, point, shared, ctx, warnings)
            values.append(instant)
            zones.append(written_in)
        else:
            values.append(day)
            zones.append(None)
    first, last = values[0], values[1] if len(values) > 1 else None
    if last is not None and _key(last) < _key(first):
        raise RowError("the range ends before it starts; check the dates")
    if last == first:
        last, zones = None, zones[:1]
    return Resolved(first, last, warnings, (zones[0], zones[1] if len(zones) > 1 else None))


def resolve(written: Written, ctx: Context) -> Resolved:
    """Resolve one written date cell on its own; raises :class:`RowError` if unreadable.

    A timeline resolves its rows together (:func:`feeds.years.solve`); this reads
    one cell with only the term as evidence.
    """
    prepared = prepare(written)
    choice = solve([year_row(prepared)], Evidence(ctx.term))[0]
    return finish(prepared, choice, ctx)


def _key(value: Endpoint) -> tuple[dt.date, dt.time]:
    if isinstance(value, dt.datetime):
        return value.date(), value.time()
    return value, dt.time.min
