"""Choosing the year of every row of a timeline at once.

Hand-written schedules leave most years out ("Tue, Feb 10"). A year is never
guessed row by row: the whole timeline is solved together, as a best path over
a few candidate years per row (Viterbi; linear in the number of rows). Each
piece of evidence costs a candidate something when the candidate goes against
it, and the cheapest path wins. Evidence, strongest first, with its cost:

===========================  ======  ==================================================
evidence                     cost    paid when the candidate year...
===========================  ======  ==================================================
a year printed in the cell   fixed   (the row has no other candidate)
the other endpoint's year    fixed   (``Dec 15 - Jan 10, 2032``: the start is 2031)
the date must exist          20      makes an impossible date (``Feb 29`` of 2027)
a printed weekday            6       disagrees with it (per printed weekday)
heading/header/lead-in year  3       is not a year named there ("Dates (2026)",
                                     "Key dates for 2027:", "### March 2027")
the order of the rows        5.5     puts the row more than a month before the
                                     previous dated row (schedules run forward)
                             5.5     leaves a gap of more than 300 days after it
the term's title and path    1..6    puts the date outside the term's window (one,
                                     plus one per 30 days; the window runs from
                                     270 days before the term's first month to 92
                                     days after its last); at most 2 when the
                                     months are only implied by the term number
                                     (LFX: 1 = March-May...), not written; without
                                     a window, 0.75 per year after the years the
                                     title names, 1 per year before (at most 3)
(tie-break)                  0.01    is not the base year
===========================  ======  ==================================================

So weekdays that match only one candidate decide the year against a title;
a January row after a December row moves to the next year; and a single typo'd
weekday in an otherwise consistent table does not drag its row a year away
(a jump of a year away from its neighbours costs at least as much as the
weekday, and ties go to the base year).
A row whose chosen year goes against printed evidence (a weekday, a heading
year) or against the term without printed support is warned, naming what
decided and what it overrode; a row out of order is not itself doubtful.

Candidate years: the base year (the term's: ``--term``, title, header or path;
else the median printed year) and one either side, plus every year a heading,
header, lead-in or the title names; a row that prints a weekday may also go up
to three years either side (the weekday then decides). Rows with a printed year
have just that one.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from feeds.model import Term

INVALID = 20.0
WEEKDAY = 6.0
CONTEXT = 3.0
BACKWARD = 5.5
GAP = 5.5
WINDOW_STEP_DAYS = 30
WINDOW_CAP = 6.0
ASSUMED_CAP = 2.0
OFF_BASE = 0.01
TITLE_STEP = 0.75
TITLE_STEP_BEFORE = 1.0
TITLE_CAP = 3.0
WEEKDAY_REACH = 3
"""A row that prints a weekday may be placed up to this many years from the base."""
_BACKWARD_SLACK = dt.timedelta(days=31)
_GAP = dt.timedelta(days=300)
_DAY_NAMES = tuple(calendar.day_name)


@cache
def term_window(term: Term) -> tuple[dt.date, dt.date] | None:
    """The dates a term's rows may fall on: its run-up (270 days) through 92 days after.

    A term whose last month comes before its first (December–February) ends in
    the next year.
    """
    if term.year is None or term.first_month is None or term.last_month is None:
        return None
    if not 1900 <= term.year <= 2200:
        return None
    last_year = term.year + (1 if term.last_month < term.first_month else 0)
    start = dt.date(term.year, term.first_month, 1)
    end_day = calendar.monthrange(last_year, term.last_month)[1]
    last = dt.date(last_year, term.last_month, end_day)
    return start - dt.timedelta(days=270), last + dt.timedelta(days=92)


@dataclass(frozen=True, slots=True)
class MonthDay:
    """A written month and day, the printed weekday (or None) and the printed year (or None)."""

    month: int
    day: int
    weekday: int | None = None
    year: int | None = None
    weekday_text: str = ""


@dataclass(frozen=True, slots=True)
class YearRow:
    """One dated row as the solver sees it: start, optional end, context years."""

    start: MonthDay
    end: MonthDay | None = None
    context: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the whole timeline says about years: the term and the header/lead-in years."""

    term: Term
    context: frozenset[int] = frozenset()
    title: frozenset[int] = frozenset()
    """Every year the term's title names ("Winter 2027/28": 2027 and 2028)."""


@dataclass(slots=True)
class Choice:
    """The solver's answer for one row: the years of its endpoints, and why (if doubtful)."""

    start_year: int | None
    end_year: int | None
    inferred: bool = False
    warnings: list[str] = field(default_factory=list)
    weekday_conflict: bool = False


def _make(year: int, md: MonthDay) -> dt.date | None:
    try:
        return dt.date(year, md.month, md.day)
    except (ValueError, OverflowError):
        return None


def _end_year(start_year: int, row: YearRow) -> int | None:
    if row.end is None:
        return None
    if row.end.year is not None:
        return row.end.year
    later = (row.end.month, row.end.day) >= (row.start.month, row.start.day)
    return start_year if later else start_year + 1


def _fixed_start(row: YearRow) -> int | None:
    if row.start.year is not None:
        return row.start.year
    if row.end is not None and row.end.year is not None:
        later = (row.end.month, row.end.day) >= (row.start.month, row.start.day)
        return row.end.year if later else row.end.year - 1
    return None


def _base(evidence: Evidence, rows: Sequence[YearRow]) -> int | None:
    if evidence.term.year is not None:
        return evidence.term.year
    if evidence.context:
        return min(evidence.context)
    printed = sorted(y for r in rows if (y := _fixed_start(r)) is not None)
    return printed[len(printed) // 2] if printed else None


class _Scorer:
    """Unary costs of a candidate year for a row (everything but the order)."""

    def __init__(self, evidence: Evidence, base: int) -> None:
        self.evidence = evidence
        self.base = base
        self.window = term_window(evidence.term)
        term_year = evidence.term.year
        self.title_years = evidence.title or (
            frozenset({term_year}) if term_year is not None else frozenset()
        )

    def unary(self, row: YearRow, year: int) -> tuple[float, list[str], list[str]]:
        """Cost, the evidence the year goes against, and the evidence it agrees with."""
        cost = 0.0
        against: list[str] = []
        agrees: list[str] = []
        days: list[tuple[MonthDay, int]] = [(row.start, year)]
        end_year = _end_year(year, row)
        if row.end is not None and end_year is not None:
            days.append((row.end, end_year))
        for md, y in days:
            date = _make(y, md)
            if date is None:
                cost += INVALID
                against.append(f"{calendar.month_name[md.month]} {md.day} does not exist in {y}")
                continue
            if md.weekday is not None:
                if md.weekday == date.weekday():
                    agrees.append("the printed weekday")
                else:
                    cost += WEEKDAY
                    against.append("the printed weekday")
        context = row.context or self.evidence.context
        if context:
            if year in context or (end_year is not None and end_year in context):
                agrees.append(_years("the heading year", context))
            else:
                cost += CONTEXT
                against.append(_years("the heading year", context))
        first = _make(year, row.start)
        if self.window is not None and first is not None:
            low, high = self.window
            outside = (low - first).days if first < low else max(0, (first - high).days)
            if outside:
                if self.evidence.term.months_written:
                    cost += min(WINDOW_CAP, 1.0 + outside // WINDOW_STEP_DAYS)
                else:
                    cost += min(ASSUMED_CAP, 1.0 + outside // WINDOW_STEP_DAYS)
                if outside > WINDOW_STEP_DAYS:
                    against.append(f"term {self.evidence.term.id}")
            else:
                agrees.append(f"term {self.evidence.term.id}")
        elif self.title_years:
            # A term named for a year may spill into the next more often than it
            # starts in the one before.
            after = min((year - y for y in self.title_years if y <= year), default=None)
            before = min((y - year for y in self.title_years if y >= year), default=None)
            steps = [TITLE_STEP * after] if after is not None else []
            steps += [TITLE_STEP_BEFORE * before] if before is not None else []
            cost += min(TITLE_CAP, *steps)
        if year != self.base:
            cost += OFF_BASE
        return cost, against, agrees


def _years(what: str, years: frozenset[int]) -> str:
    return f"{what} {'/'.join(str(y) for y in sorted(years))}"


def _order_cost(previous: dt.date | None, current: dt.date | None) -> float:
    if previous is None or current is None:
        return 0.0
    step = current.toordinal() - previous.toordinal()  # no date arithmetic: no overflow
    if step < -_BACKWARD_SLACK.days:
        return BACKWARD
    if step > _GAP.days:
        return GAP
    return 0.0


def solve(rows: Sequence[YearRow], evidence: Evidence) -> list[Choice]:
    """Choose the years of every row (document order) at once; see the module docstring.

    A row with no printed year and no evidence anywhere gets ``None`` years
    (the caller reports it: a year is never invented).
    """
    base = _base(evidence, rows)
    if base is None:
        return [
            Choice(f, _end_year(f, r) if f is not None else None)
            for r in rows
            for f in (_fixed_start(r),)
        ]
    near = {base - 1, base, base + 1, *evidence.context, *evidence.title}
    wide = sorted({*near, *range(base - WEEKDAY_REACH, base + WEEKDAY_REACH + 1)})
    scorer = _Scorer(evidence, base)
    options: list[list[int]] = []
    for row in rows:
        fixed = _fixed_start(row)
        if fixed is not None:
            options.append([fixed])
        elif row.start.weekday is not None or (row.end is not None and row.end.weekday is not None):
            options.append(sorted({*wide, *row.context}))
        else:
            options.append(sorted({*near, *row.context}))
    if all(len(years) == 1 for years in options):  # every year printed: nothing to choose
        pairs = zip(rows, options, strict=True)
        return [Choice(years[0], _end_year(years[0], row)) for row, years in pairs]
    # Viterbi: best[i][k] = cheapest path ending with row i at options[i][k].
    back: list[list[int]] = []
    previous_costs: list[float] = []
    previous_dates: list[dt.date | None] = []
    for index, row in enumerate(rows):
        costs: list[float] = []
        links: list[int] = []
        dates: list[dt.date | None] = []
        for year in options[index]:
            unary = scorer.unary(row, year)[0] if len(options[index]) > 1 else 0.0
            date = _make(year, row.start)
            dates.append(date)
            if not previous_costs:
                costs.append(unary)
                links.append(-1)
                continue
            best_k, best = 0, float("inf")
            for k, (cost, prior) in enumerate(zip(previous_costs, previous_dates, strict=True)):
                total = cost + _order_cost(prior, date)
                if total < best:
                    best_k, best = k, total
            costs.append(best + unary)
            links.append(best_k)
        if all(d is None for d in dates) and previous_costs:
            # An impossible row carries the previous dates forward for the order.
            k = min(range(len(costs)), key=costs.__getitem__)
            dates = [previous_dates[links[k]]] * len(dates)
        back.append(links)
        previous_costs, previous_dates = costs, dates
    chosen = [0] * len(rows)
    if rows:
        chosen[-1] = min(range(len(previous_costs)), key=previous_costs.__getitem__)
        for index in range(len(rows) - 1, 0, -1):
            chosen[index - 1] = back[index][chosen[index]]
    return _explain(rows, options, chosen, scorer)


def _explain(
    rows: Sequence[YearRow], options: list[list[int]], chosen: list[int], scorer: _Scorer
) -> list[Choice]:
    out: list[Choice] = []
    previous: dt.date | None = None
    started = False
    for row, years, k in zip(rows, options, chosen, strict=True):
        year = years[k]
        choice = Choice(year, _end_year(year, row), inferred=len(years) > 1)
        date = _make(year, row.start)
        if choice.inferred:
            _, against, agrees = scorer.unary(row, year)
            if previous is not None and date is not None and not _order_cost(previous, date):
                agrees.append("the order of the rows")
            elif previous is not None and set(agrees) == {"the printed weekday"}:
                # Out of order because only its weekday says so: doubtful. (A row
                # the term's window also places there, or one after an
                # out-of-order row, is not.)
                against.append("the order of the rows")
            against = [a for a in against if "does not exist" not in a]
            if any(a == "the printed weekday" or a.startswith("the heading") for a in agrees):
                # The term's usual months are an assumption; printed text outranks them.
                against = [a for a in against if not a.startswith("term ")]
            named = scorer.title_years
            spills = (  # a term that began in its title's year and runs into the next
                started and year == max(named) + 1 and "the order of the rows" in agrees
            )
            if named and year not in named and choice.end_year not in named and not spills and (
                scorer.window is None or date is None
                or not scorer.window[0] <= date <= scorer.window[1]
            ):  # fmt: skip
                # Printed evidence may outrank the title, but never silently.
                against.append(_years("the title year", frozenset(named)))
            why = ", ".join(dict.fromkeys(agrees)) or "the other rows"
            if "the printed weekday" in against:
                choice.weekday_conflict = True
                for md, y in ((row.start, year), (row.end, choice.end_year)):
                    day = _make(y, md) if md is not None and y is not None else None
                    if (
                        md is not None
                        and day is not None
                        and md.weekday
                        not in (
                            None,
                            day.weekday(),
                        )
                    ):
                        printed = md.weekday_text or _DAY_NAMES[md.weekday]
                        choice.warnings.append(
                            f"{printed!r} is printed but {day:%B} {day.day},"
                            f" {day.year} is a {_DAY_NAMES[day.weekday()]}; year {day.year}"
                            f" chosen by {why} (check the row)"
                        )
                against = [a for a in against if a != "the printed weekday"]
            if against:
                label = f"{calendar.month_name[row.start.month]} {row.start.day}"
                choice.warnings.append(
                    f"year {year} chosen for {label} ({why}) against"
                    f" {', '.join(dict.fromkeys(against))}; check the row"
                )
        if date is not None:
            previous = date
        started = started or year in scorer.title_years
        out.append(choice)
    return out
