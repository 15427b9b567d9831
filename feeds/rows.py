"""Telling the activity from the date in list items and paragraphs.

Forms read: ``date: activity``, ``activity: date``, ``date - activity``, and a
date written before or after the activity with no separator at all
(``September 28 - October 5 (1 week) projects are selecting mentees``).
"""

from __future__ import annotations

import re

from feeds.dates import GLUE, Token, dated_between, tokenize

_SEPARATORS = re.compile(r":(?=\s|$)|\s[-–—]+\s|\s\|\s")
_PREFIX_KINDS = frozenset(
    {"iso", "slash", "month", "day", "weekday", "year", "time", "zone", "sep", "note"}
)
_TRIM = " \t;:,.-–—|*_"


def clean_title(text: str) -> str:
    """Tidy an activity title: no list punctuation at the ends, single spaces."""
    return " ".join(text.split()).strip(_TRIM).strip()


def split_item(text: str) -> tuple[str, str] | None:
    """Split a list item or paragraph into ``(activity, date text)``, or None if undated."""
    tokens = tokenize(text)
    if not dated_between(tokens, 0, len(text)):
        return None
    for match in _SEPARATORS.finditer(text):
        left, right = text[: match.start()], text[match.end() :]
        left_dated = dated_between(tokens, 0, match.start())
        right_dated = dated_between(tokens, match.end(), len(text))
        if left_dated and not right_dated and clean_title(right):
            return clean_title(right), left
        if right_dated and not left_dated and clean_title(left):
            return clean_title(left), right
    return _split_by_tokens(text, tokens)


def _split_by_tokens(text: str, tokens: list[Token]) -> tuple[str, str] | None:

    def dateish(index: int) -> bool:
        token = tokens[index]
        return token.kind in _PREFIX_KINDS or (
            token.kind == "word" and (token.text.lower() in GLUE or not token.text[0].isalnum())
        )

    lead = 0
    while lead < len(tokens) and dateish(lead):
        lead += 1
    if lead and lead < len(tokens) and dated_between(tokens, 0, tokens[lead].start):
        return clean_title(text[tokens[lead].start :]), text[: tokens[lead].start]
    trail = len(tokens)
    while trail > 0 and dateish(trail - 1):
        trail -= 1
    if 0 < trail < len(tokens) and dated_between(tokens, tokens[trail - 1].end, len(text)):
        return clean_title(text[: tokens[trail - 1].end]), text[tokens[trail - 1].end :]
    return None
