"""Term identity: ``lfx-2025-t3`` from a title, a table header or a path.

LFX runs three terms a year: 1 = March–May, 2 = June–August, 3 = September–
November (older documents say Q1–Q3, Spring, Summer, Fall). The title ("Term 03
- 2025 Sept - Nov"), a table header ("Dates (2025)") or the path
(``2025/03-Sep-Nov``) each give part of the identity; the first source that
names a field wins, in that order.
"""

from __future__ import annotations

import re

from feeds.dates import MONTHS
from feeds.model import Term

_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
_NUMBER = re.compile(r"\bterm\s*0?([1-3])\b|\bq([1-3])\b|(?:^|/)0?([1-3])-[a-z]", re.IGNORECASE)
_SEASON = {"spring": 1, "summer": 2, "fall": 3, "autumn": 3}
_SEASON_RE = re.compile(r"\b(spring|summer|fall|autumn)\b", re.IGNORECASE)
_SPAN = re.compile(rf"\b{_MONTH}\s*[-–—]+\s*{_MONTH}\b", re.IGNORECASE)
_MONTHS_BY_NUMBER = {1: (3, 5), 2: (6, 8), 3: (9, 11)}


def _number(text: str) -> int | None:
    match = _NUMBER.search(text)
    if match:
        return int(next(group for group in match.groups() if group))
    season = _SEASON_RE.search(text)
    return _SEASON[season.group(1).lower()] if season else None


def identify(title: str, header: str, path: str, override: str | None = None) -> Term:
    """Work out the term from the document title, the table header and the source path."""
    year = number = first = last = None
    for text in (title, header, path):
        if year is None and (found := _YEAR.search(text)):
            year = int(found.group(1))
        if number is None:
            number = _number(text)
        if first is None and (span := _SPAN.search(text)):
            first, last = MONTHS[span.group(1).lower()[:3]], MONTHS[span.group(2).lower()[:3]]
    if number is not None and first is None:
        first, last = _MONTHS_BY_NUMBER.get(number, (None, None))
    if number is None and first is not None:
        number = next((n for n, (lo, _) in _MONTHS_BY_NUMBER.items() if lo == first), None)
    if first is not None and last is not None and last < first:
        first, last = last, first  # "November - September": a reversed title
    if override:
        term_id = override
    elif year is not None and number is not None:
        term_id = f"lfx-{year}-t{number}"
    elif year is not None:
        term_id = f"lfx-{year}"
    else:
        stem = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[-40:]
        term_id = stem or "lfx-term"
    return Term(term_id, year, number, title, first, last)
