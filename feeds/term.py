"""Term identity: ``lfx-2025-t3`` from a heading, a table header, the title or a path.

LFX runs three terms a year: 1 = March–May, 2 = June–August, 3 = September–
November (older documents say Q1–Q3, Spring, Summer, Fall). The texts that name a
timeline, nearest first (its own heading, the headings around it, a table header
or lead-in line, the document title, the path: ``2025/03-Sep-Nov``), each give
part of the identity; the first text that names a field wins.

The id is ``lfx-<year>-t<number>``, else ``lfx-<year>-<season>`` (a winter term),
``lfx-<year>``, or ``lfx-`` and a slug of the title; never a bare file name
(``top.md`` or ``stdin`` say nothing about the term). Months named in a title
("December 2027 - February 2028") give the term's months; a span whose last
month comes first wraps the year end when it is short (at most six months),
otherwise it is a reversed title and is read in order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from feeds.dates import MONTHS
from feeds.errors import TermIdError
from feeds.model import Term

_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?![\d.])")
_NUMBER = re.compile(
    r"\bterm\s*(?:#|no\.?\s*)?0?([1-3])\b|\bq([1-3])\b|(?:^|/)0?([1-3])-[a-z]", re.IGNORECASE
)
_SEASON = {"spring": 1, "summer": 2, "fall": 3, "autumn": 3}
_SEASON_RE = re.compile(r"\b(spring|summer|fall|autumn|winter)\b", re.IGNORECASE)
_SPAN = re.compile(
    rf"\b{_MONTH}\.?(?:\s+(?:19|20)\d\d)?\s*(?:[-–—]+|\bto\b|\bthrough\b)\s*{_MONTH}\b",
    re.IGNORECASE,
)
_MONTHS_BY_NUMBER = {1: (3, 5), 2: (6, 8), 3: (9, 11)}
_TERM_ID = re.compile(r"[a-z][a-z0-9]*-(\d{4})(?:-t([1-9]))?")
_SLUG = re.compile(r"[^a-z0-9]+")


def parse_term_id(value: str) -> tuple[int, int | None]:
    """Year and number of a term id such as ``lfx-2025-t3`` or ``lfx-2025``.

    Raises :class:`~feeds.errors.TermIdError` for anything else.
    """
    match = _TERM_ID.fullmatch(value.strip())
    if match is None or not 1970 <= int(match.group(1)) <= 2100:
        raise TermIdError(value)
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


def _number(text: str) -> int | None:
    match = _NUMBER.search(text)
    if match:
        return int(next(group for group in match.groups() if group))
    season = _SEASON_RE.search(text)
    return _SEASON.get(season.group(1).lower()) if season else None


def _months(first: int, last: int) -> tuple[int, int]:
    if last < first and (last - first) % 12 + 1 > 6:
        return last, first  # "November - September": a reversed title
    return first, last


def identify(
    texts: Sequence[str], path: str = "", override: str | None = None, title: str = ""
) -> Term:
    """Work out the term from *texts* (nearest first), then the *path*.

    *override* (``--term``, or ``term`` on a configured source) is a term id
    whose year and number win over everything written; it must be well formed
    (:func:`parse_term_id`). *title* is the document's title, kept on the term.
    """
    year = number = first = last = None
    season = ""
    written = False
    for text in (*texts, path):
        if year is None and (found := _YEAR.search(text)):
            year = int(found.group(1))
        if number is None:
            number = _number(text)
        if not season and (named := _SEASON_RE.search(text)):
            season = named.group(1).lower()
        if first is None and (span := _SPAN.search(text)):
            first, last = _months(
                MONTHS[span.group(1).lower()[:3]], MONTHS[span.group(2).lower()[:3]]
            )
            written = True
    if override:
        year, number = parse_term_id(override)
    if number is not None and first is None:
        first, last = _MONTHS_BY_NUMBER.get(number, (None, None))
    if number is None and first is not None:
        number = next((n for n, (lo, _) in _MONTHS_BY_NUMBER.items() if lo == first), None)
    if override:
        term_id = override.strip()
    elif year is not None and number is not None:
        term_id = f"lfx-{year}-t{number}"
    elif year is not None:
        term_id = f"lfx-{year}-{season}" if season else f"lfx-{year}"
    else:
        slug = _SLUG.sub("-", (title or next((t for t in texts if t), "")).lower()).strip("-")
        term_id = f"lfx-{slug[:40].rstrip('-')}" if slug else "lfx-term"
    return Term(term_id, year, number, title, first, last, written)
