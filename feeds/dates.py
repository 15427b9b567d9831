"""Lexing hand-written date cells into partial dates, times, zones and notes.

This module reads *what is written* and nothing more: ``Monday Jan 8 - Wednesday
Jan 24, 8:00 AM PDT`` becomes two :class:`Point` values (the time and zone belong
to the end only) and no year is filled in. :mod:`feeds.normalize` turns points into
dates and instants using the term for context.

Why not ``dateutil.parser``: it fills every missing field from a default date, so
it cannot tell "no year written" from "this year", and its fuzzy mode silently
drops words such as ``TBD``. Here each field is either read or left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from feeds.zones import is_label

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3,
    "apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
    "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10,
    "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2,
    "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4,
    "friday": 4, "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
GLUE = frozenset({"at", "on", "by", "from", "the", "of", "and", "starting", "starts", "@"})

_SEP_WORDS = frozenset({"to", "through", "thru", "until", "till"})
_NAMED_TIMES = frozenset({"noon", "midday", "midnight"})
# One small pattern; words are classified by table lookup (fast to compile and to run).
_TOKEN = re.compile(
    r"""
    (?P<iso>(?<![\d/-])\d{4}(?:-\d{1,2}-|/\d{1,2}/)\d{1,2}(?![\d/-]))
  | (?P<slash>(?<![\d/])\d{1,2}/\d{1,2}(?:/\d{2}(?:\d{2})?)?(?![\d/]))
  | (?P<ampm>(?<![\d:])\d{1,2}(?:[:.]\d{2})?\s*[ap]\.?\s?m\b\.?)
  | (?P<clock>(?<![\d:])\d{1,2}:\d{2}(?:\s*z\b)?(?![\d:]))
  | (?P<offset>\b(?:utc|gmt)\s*[+-]\s*\d{1,2}(?::?\d{2})?\b)
  | (?P<counted>\b(?:weeks?|days?|phase|round|batch|term|cohort)\s+\d+\b)
  | (?P<number>(?<![\d.])\d+(?:st|nd|rd|th)?(?!\d|:\d))
  | (?P<sep>[-–—]+)
  | (?P<word>anywhere\s+on\s+earth\b|[^\W\d_][\w'’]*(?:\s+time\b)?\.?)
  | (?P<punct>[^\s\w,;()\[\]]+)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_PAREN = re.compile(r"[(\[]([^()\[\]]*)[)\]]")
_DATEISH = frozenset({"iso", "slash", "month", "day", "weekday", "time"})
_NEEDS_INLINE = frozenset({"iso", "slash", "month", "time"})


class Clock(NamedTuple):
    """A written time of day: 24-hour value, whether a.m./p.m. was written, its zone label."""

    hour: int
    minute: int
    meridiem: str | None = None
    zone: str | None = None


@dataclass(slots=True)
class Point:
    """One side of a date expression, as written (every field may be missing)."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    weekday_text: str = ""
    clocks: list[Clock] = field(default_factory=list)

    @property
    def has_date(self) -> bool:
        """True when a day of month was written."""
        return self.day is not None


@dataclass(slots=True)
class Written:
    """A parsed date cell: a start, an optional end, notes and problems."""

    start: Point
    end: Point | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Token(NamedTuple):
    """One lexed piece of a cell."""

    kind: str
    text: str
    values: tuple[str | None, ...] = ()
    start: int = 0
    end: int = 0


def _kind(group: str, raw: str) -> str:
    if group == "number":
        digits = raw.rstrip("stndrhSTNDRH")
        if len(digits) == 4:  # 9999 is a year, warned later; 0930 is not (see _military)
            return "year" if "19" <= digits[:2] <= "99" else "num4"
        return "day" if len(digits) <= 2 else "word"
    if group != "word":
        return {"ampm": "time", "clock": "time", "offset": "zone"}.get(group, group)
    key = raw.lower().rstrip(".")
    if key in MONTHS:
        return "month"
    if key in WEEKDAYS:
        return "weekday"
    if key in _SEP_WORDS:
        return "sep"
    if key in _NAMED_TIMES:
        return "time"
    if is_label(key):
        return "zone"
    return "word"


def _lex(text: str, base: int = 0, stop: int | None = None) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text, base, len(text) if stop is None else stop):
        group = match.lastgroup or "word"
        raw = match.group(0)
        kind = _kind(group, raw)
        values: tuple[str | None, ...] = (group,) if kind == "time" else ()
        tokens.append(Token(kind, raw, values, match.start(), match.end()))
    return tokens


def tokenize(text: str) -> list[Token]:
    """Split a date cell into tokens; bracketed asides without a date become notes."""
    tokens: list[Token] = []
    pos = 0
    for match in _PAREN.finditer(text):
        tokens.extend(_lex(text, pos, match.start()))
        inner = _demote_bare_months(_lex(text, match.start(1), match.end(1)))
        kinds = {token.kind for token in inner}
        if kinds & _NEEDS_INLINE or kinds == {"weekday"} or kinds == {"zone"}:
            tokens.extend(inner)
        elif match.group(1).strip():
            tokens.append(Token("note", match.group(1).strip(), (), match.start(), match.end()))
        pos = match.end()
    tokens.extend(_lex(text, pos))
    return _military(_demote_bare_months(tokens))


def _military(tokens: list[Token]) -> list[Token]:
    """``1700 UTC``: four digits before a zone label are a 24-hour time.

    A number that could be a year (19xx–99xx) is a time only when the cell has
    already printed a year; any other four digits that are neither stay
    ``num4`` and make the row a warning, never a silently dropped time.
    """
    out = tokens
    year_seen = False
    for index, token in enumerate(tokens):
        if token.kind == "iso":
            year_seen = True
        if token.kind not in {"num4", "year"}:
            continue
        after = tokens[index + 1].kind if index + 1 < len(tokens) else ""
        digits = token.text[:4]
        valid = int(digits[:2]) < 24 and int(digits[2:]) < 60
        if after == "zone" and valid and (token.kind == "num4" or year_seen):
            if out is tokens:
                out = list(tokens)
            out[index] = Token("time", token.text, ("hhmm",), token.start, token.end)
        elif token.kind == "year":
            year_seen = True
    return out


def _demote_bare_months(tokens: list[Token]) -> list[Token]:
    """A month name with no day or year beside it (``may take``) is just a word."""
    out = list(tokens)
    for index, token in enumerate(tokens):
        if token.kind != "month":
            continue
        after = tokens[index + 1].kind if index + 1 < len(tokens) else ""
        before = tokens[index - 1].kind if index else ""
        day_of = (  # "the 30th of June"
            index >= 2 and before == "word" and tokens[index - 1].text.lower() == "of"
            and tokens[index - 2].kind == "day"
        )  # fmt: skip
        if after not in {"day", "year"} and before != "day" and not day_of:
            out[index] = Token("word", token.text, (), token.start, token.end)
    return out


_CALENDAR = frozenset({"iso", "slash", "month"})


def looks_dated(text: str) -> bool:
    """True when *text* holds something that reads as a calendar date."""
    return dated_between(tokenize(text), 0, len(text))


def dated_between(tokens: list[Token], start: int, end: int) -> bool:
    """True when a calendar-date token of *tokens* lies within ``[start, end)``."""
    return any(t.kind in _CALENDAR and t.start >= start and t.end <= end for t in tokens)


_AMPM = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?\s*([ap])", re.IGNORECASE)
_HHMM = re.compile(r"(\d{1,2}):(\d{2})\s*(z)?", re.IGNORECASE)
_NUMBERS = re.compile(r"\d+")


def _clock(token: Token) -> Clock:
    text = token.text.lower()
    if text in {"noon", "midday"}:
        return Clock(12, 0, "named")
    if text == "midnight":
        return Clock(0, 0, "named")
    if token.values == ("hhmm",):
        return Clock(int(text[:2]), int(text[2:4]))
    ampm = _AMPM.match(text)
    if token.values == ("ampm",) and ampm:
        hour, minute, ap = ampm.groups()
        return Clock(int(hour) % 12 + (12 if ap == "p" else 0), int(minute or 0), ap)
    hhmm = _HHMM.match(text)
    assert hhmm is not None
    return Clock(int(hhmm.group(1)), int(hhmm.group(2)), None, "Z" if hhmm.group(3) else None)


def _read_side(tokens: list[Token], written: Written, text: str) -> Point:
    point = Point()
    words: list[Token] = []

    def flush() -> None:
        if words:
            written.notes.append(text[words[0].start : words[-1].end].strip(" ,;"))
            words.clear()

    last_dated = max((i for i, t in enumerate(tokens) if t.kind in _NEEDS_INLINE), default=-1)
    seen_time = False
    unzoned: list[int] = []  # clocks still without a zone label, latest last
    for index, token in enumerate(tokens):
        kind = token.kind
        later_date = index < last_dated
        if kind == "sep" and words and not later_date:
            words.append(token)
            continue
        if kind != "word":
            flush()
        if kind == "iso" or kind == "slash":
            numbers = _NUMBERS.findall(token.text)
            if kind == "iso":
                year, month, day = numbers
            else:
                month, day, year = (*numbers, "")[:3]
                if len(year) == 2:
                    year = "20" + year
            _set(point, "year", int(year) if year else None, token, written)
            _set(point, "month", int(month), token, written)
            _set(point, "day", int(day), token, written)
        elif kind == "month":
            _set(point, "month", MONTHS[token.text.lower().rstrip(".")], token, written)
        elif kind == "weekday":
            _set(point, "weekday", WEEKDAYS[token.text.lower().rstrip(".")], token, written)
            point.weekday_text = token.text.rstrip(".")
        elif kind == "year":
            _set(point, "year", int(re.sub(r"\D", "", token.text)), token, written)
        elif kind == "num4" and len(written.problems) < 3:
            written.problems.append(
                f"cannot read {token.text!r} (write a time like 17:00 UTC or a year like 2027)"
            )
        elif kind == "day":
            _set(point, "day", int(re.sub(r"\D", "", token.text)), token, written)
        elif kind == "time":
            unzoned.append(len(point.clocks))
            point.clocks.append(_clock(token))
            seen_time = True
        elif kind == "zone":
            _attach_zone(point, token.text, seen_time, unzoned)
        elif kind == "note":
            written.notes.append(token.text)
        elif kind == "word" and (words or token.text.lower() not in GLUE):
            if token.text[0].isalnum():
                words.append(token)
        elif kind == "sep" and later_date and len(written.problems) < 3:
            written.problems.append(f"unexpected {token.text!r}: only one range is read per row")
    flush()
    return point


def _set(point: Point, name: str, value: int | None, token: Token, written: Written) -> None:
    if value is None:
        return
    old = getattr(point, name)
    if old is not None and old != value and len(written.problems) < 3:
        written.problems.append(f"two different {name}s written ({token.text!r})")
    setattr(point, name, value)


def _attach_zone(point: Point, label: str, seen_time: bool, unzoned: list[int]) -> None:
    """A zone label belongs to the latest time written before it that has none.

    Else, before any time, it waits for the next one. *unzoned* lists the clocks
    without a label, so each label costs O(1).
    """
    if unzoned:
        index = unzoned.pop()
        clock = point.clocks[index]
        point.clocks[index] = Clock(clock.hour, clock.minute, clock.meridiem, label)
        return
    if not seen_time:
        point.clocks.append(Clock(-1, -1, None, label))  # placeholder: zone before time


def _split(tokens: list[Token]) -> tuple[list[Token], list[Token] | None]:
    """Cut at the first separator with something dated on both sides (linear time)."""
    right_kinds = _DATEISH - {"weekday"}
    last_right = max((i for i, t in enumerate(tokens) if t.kind in right_kinds), default=-1)
    left_dated = False
    for index, token in enumerate(tokens):
        if token.kind == "sep" and left_dated and index < last_right:
            return tokens[:index], tokens[index + 1 :]
        left_dated = left_dated or token.kind in _DATEISH
    return tokens, None


def _fix_placeholders(point: Point) -> None:
    """Give a zone written before its time (``PT 11AM``) to that time."""
    fixed: list[Clock] = []
    pending: str | None = None
    for clock in point.clocks:
        if clock.hour < 0:
            pending = clock.zone
            continue
        if pending and clock.zone is None:
            clock = Clock(clock.hour, clock.minute, clock.meridiem, pending)
            pending = None
        fixed.append(clock)
    point.clocks = fixed


_WEEKDAY_WORDS = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
_SIMPLE_POINT = (
    r"(?:(?P<{p}wd>" + _WEEKDAY_WORDS + r")\.?,?\s+)?(?:(?P<{p}mon>" + _MONTH_WORDS + r")\.?\s+)?"
    r"(?P<{p}day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<{p}year>\d{{4}}))?"
    r"|(?P<{p}iso>\d{{4}})-(?P<{p}isom>\d{{1,2}})-(?P<{p}isod>\d{{1,2}})"
)
_SIMPLE = re.compile(
    r"\s*(?:" + _SIMPLE_POINT.format(p="a") + r")"
    r"(?:(?:\s*[-–—]+\s*|\s+(?:to|through|thru|until|till)\s+)"
    r"(?:" + _SIMPLE_POINT.format(p="b") + r"))?"
    r"(?:,?\s+(?P<time>\d{1,2}(?:[:.]\d{2})?\s*[ap]m|\d{1,2}:\d{2})"
    r"(?:\s+(?P<zone>[A-Za-z]{1,5}))?"
    r"(?:\s*\((?P<utc>\d{1,2}:\d{2})\s*(?P<utcz>UTC|GMT)\))?)?\s*",
    re.IGNORECASE,
)


def _simple_point(match: re.Match[str], p: str) -> Point | None:
    """One side of a :data:`_SIMPLE` match, or None when it is not plainly a date."""
    if match.group(f"{p}iso"):
        iso = [int(match.group(f"{p}{k}")) for k in ("iso", "isom", "isod")]
        return Point(iso[0], iso[1], iso[2])
    if match.group(f"{p}day") is None:
        return None
    point = Point(day=int(match.group(f"{p}day")))
    month_text, weekday_text = match.group(f"{p}mon"), match.group(f"{p}wd")
    year_text = match.group(f"{p}year")
    if month_text is not None:
        if month_text.lower() not in MONTHS:
            return None
        point.month = MONTHS[month_text.lower()]
    if weekday_text is not None:
        if weekday_text.lower() not in WEEKDAYS or month_text is None:
            return None
        point.weekday, point.weekday_text = WEEKDAYS[weekday_text.lower()], weekday_text
    if year_text is not None:
        if not "19" <= year_text[:2] <= "99":
            return None
        point.year = int(year_text)
    return point


def _read_simple(text: str) -> Written | None:
    """The common cells (``Mon, Mar 3, 2031``, ``Jan 2 – 13, 2031``, ``2031-03-03``), fast.

    Anything else (times, zones, notes, words) returns None and takes the full
    lexer; a test checks that both readers agree on every cell this one takes.
    """
    match = _SIMPLE.fullmatch(text)
    if match is None:
        return None
    start = _simple_point(match, "a")
    if start is None or start.month is None:
        return None
    clocks = _simple_clocks(match)
    if clocks is None:
        return None
    if match.group("bday") is None and match.group("biso") is None:
        start.clocks = clocks
        return Written(start)
    end = _simple_point(match, "b")
    if end is None or (end.weekday is not None and end.month is None):
        return None
    if start.year is not None and match.group("aiso") is None and end.month is None:
        return None  # "May 3, 2031 - 17": left to the full reader
    end.clocks = clocks
    return Written(start, end)


def _simple_clocks(match: re.Match[str]) -> list[Clock] | None:
    """``11AM PT (18:00 UTC)`` at the end of a simple cell, as the lexer reads it."""
    time, zone, utc = match.group("time"), match.group("zone"), match.group("utc")
    if time is None:
        return []
    if zone is not None and not is_label(zone.lower()):
        return None  # a word, not a zone: the full reader keeps it as a note
    ampm = _AMPM.match(time)
    if ampm and time[-1] in "mM":
        hour, minute, meridiem = ampm.groups()
        first = Clock(int(hour) % 12 + (12 if meridiem.lower() == "p" else 0), int(minute or 0),
                      meridiem.lower(), zone)  # fmt: skip
    else:
        hhmm = _HHMM.match(time)
        if hhmm is None:
            return None
        first = Clock(int(hhmm.group(1)), int(hhmm.group(2)), None, zone)
    if utc is None:
        return [first]
    hours, minutes = utc.split(":")
    return [first, Clock(int(hours), int(minutes), None, match.group("utcz"))]


_ISO_INSTANT = re.compile(
    r"(?<![\d-])(\d{4}-\d{1,2}-\d{1,2})[T ](\d{1,2}:\d{2})(?::\d{2}(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)


def _iso_instant(match: re.Match[str]) -> str:
    """``2027-03-05T10:00:00Z`` → ``2027-03-05 10:00 UTC`` (what the lexer reads)."""
    day, clock, offset = match.groups()
    if offset is None:
        return f"{day} {clock}"
    if offset == "Z":
        return f"{day} {clock} UTC"
    return f"{day} {clock} UTC{offset[:3]}:{offset[-2:]}"


def read_cell(text: str) -> Written:
    """Read one date cell (plain text, Markdown already removed) into a :class:`Written`."""
    if "T" in text or ":" in text:
        text = _ISO_INSTANT.sub(_iso_instant, text)
    simple = _read_simple(text) if len(text) < 80 else None
    return simple if simple is not None else read_cell_lexed(text)


def read_cell_lexed(text: str) -> Written:
    """:func:`read_cell` through the general lexer, for any cell (the fast reader's reference)."""
    tokens = tokenize(text)
    left, right = _split(tokens)
    written = Written(Point())
    written.start = _read_side(left, written, text)
    _fix_placeholders(written.start)
    if right is not None:
        written.end = _read_side(right, written, text)
        _fix_placeholders(written.end)
    return written
