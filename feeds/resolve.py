"""From what is written to what it means: dates, UTC instants and warnings.

The policy (also in the README): a date with no time stays a calendar date; a
time makes a UTC instant. A zone label means the wall clock of its IANA zone on
that date whatever DST the label claims; an explicit UTC equivalent is
authoritative; a time with no zone is read in the program's zone. A missing year
is the one that puts the date in the run-up to, or inside, the term. Nothing
missing is invented: an impossible or incomplete date is an error for that row.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from feeds.dates import Clock, Point, Written
from feeds.model import Endpoint, Term
from feeds.zones import ZoneLabel, lookup, resolve_wall_clock

_DAY_NAMES = tuple(calendar.day_name)


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


def _window(term: Term) -> tuple[dt.date, dt.date] | None:
    if term.year is None or term.first_month is None or term.last_month is None:
        return None
    start = dt.date(term.year, term.first_month, 1)
    last = dt.date(term.year, term.last_month, calendar.monthrange(term.year, term.last_month)[1])
    return start - dt.timedelta(days=270), last + dt.timedelta(days=92)


def _infer_year(month: int, day: int, term: Term) -> int:
    if term.year is None:
        raise RowError(
            "no year is written and the term's year is unknown"
            " (write the year, put it in the title, or pass --term)"
        )
    window = _window(term)
    if window is None:
        return term.year

    def distance(year: int) -> int:
        probe = dt.date(year, month, min(day, 28))
        if probe < window[0]:
            return (window[0] - probe).days
        return max(0, (probe - window[1]).days)

    return min((term.year, term.year - 1, term.year + 1), key=distance)


def _fill(written: Written, term: Term) -> tuple[Point, Point | None]:
    start, end = written.start, written.end
    if end is not None:
        if end.day is None and end.month is None and end.clocks:
            end.year, end.month, end.day = start.year, start.month, start.day
        elif end.month is None and end.day is not None:
            end.month = start.month
    for point in (start, end):
        if point is not None and (point.day is None or point.month is None):
            what = "day" if point.month is not None else "date"
            raise RowError(f"no {what} written (write e.g. 'Tue, Jul 21')")
        if point is not None and not (
            1 <= (point.month or 0) <= 12 and 1 <= (point.day or 0) <= 31
        ):
            raise RowError(f"month {point.month}, day {point.day} is not a date; no event made")
    assert start.month is not None and start.day is not None
    if end is not None:
        assert end.month is not None and end.day is not None
        later = (end.month, end.day) >= (start.month, start.day)
        if start.year is None and end.year is not None:
            start.year = end.year if later else end.year - 1
        elif end.year is None and start.year is not None:
            end.year = start.year if later else start.year + 1
    if start.year is None:
        start.year = _infer_year(start.month, start.day, term)
    if end is not None and end.year is None:
        assert end.month is not None and end.day is not None
        later = (end.month, end.day) >= (start.month, start.day)
        end.year = start.year if later else start.year + 1
    return start, end


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
) -> dt.datetime:
    utc = [c for c in point.clocks if c.zone and (z := lookup(c.zone)) and z.is_utc]
    local = [c for c in point.clocks if c not in utc]
    for clock in point.clocks:
        if not (0 <= clock.hour < 24 and 0 <= clock.minute < 60):
            raise RowError(f"{clock.hour}:{clock.minute:02d} is not a time of day")
    if not local:
        return dt.datetime.combine(day, dt.time(utc[0].hour, utc[0].minute), dt.UTC)
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
        return resolved.instant
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
    return equivalent


def _shared_zone(start: Point, end: Point | None) -> ZoneLabel | None:
    for point in (end, start):
        if point is None:
            continue
        for clock in point.clocks:
            label = lookup(clock.zone) if clock.zone else None
            if label is not None and not label.is_utc:
                return label
    return None


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
    point: Point, day: dt.date, printed_year: int | None, term: Term, warnings: list[str]
) -> None:
    if point.weekday is not None and point.weekday != day.weekday():
        warnings.append(
            f"{point.weekday_text!r} is printed but {day:%B} {day.day}, {day.year}"
            f" is a {_DAY_NAMES[day.weekday()]}; the date wins (check the row)"
        )
    window = _window(term)
    if window is not None and printed_year is not None and not window[0] <= day <= window[1]:
        warnings.append(f"year {day.year} is far from term {term.id}; check the year")


def resolve(written: Written, ctx: Context) -> Resolved:
    """Resolve a written date cell; raises :class:`RowError` for an unreadable row."""
    if written.problems:
        raise RowError("; ".join(written.problems))
    printed = (written.start.year, written.end.year if written.end else None)
    start, end = _fill(written, ctx.term)
    warnings: list[str] = []
    shared = _shared_zone(start, end)
    _borrow_meridiem(start, end)
    values: list[Endpoint] = []
    for point, year in ((start, printed[0]), (end, printed[1])):
        if point is None:
            continue
        day = _date(point)
        _check(point, day, year, ctx.term, warnings)
        values.append(_instant(day, point, shared, ctx, warnings) if point.clocks else day)
    first, last = values[0], values[1] if len(values) > 1 else None
    if last is not None and _key(last) < _key(first):
        raise RowError("the range ends before it starts; check the dates")
    if last == first:
        last = None
    return Resolved(first, last, warnings)


def _key(value: Endpoint) -> tuple[dt.date, dt.time]:
    if isinstance(value, dt.datetime):
        return value.date(), value.time()
    return value, dt.time.min
