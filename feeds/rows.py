"""Telling the activity from the date in list items and paragraphs.

Forms read: ``date: activity``, ``activity: date``, ``date - activity``, and a
date written before or after the activity with no separator at all
(``September 28 - October 5 (1 week) projects are selecting mentees``).
"""

from __future__ import annotations

import re

from feeds.dates import GLUE, Token, dated_between, tokenize

_CALENDAR = frozenset({"iso", "slash", "month"})

_SEPARATORS = re.compile(r":(?=\s|$)|\s[-–—]+\s|\s\|\s")
_PREFIX_KINDS = frozenset(
    {"iso", "slash", "month", "day", "weekday", "year", "time", "zone", "sep", "note"}
)
_TRIM = " \t;:,.-–—|*_"


def clean_title(text: str) -> str:
    """Tidy an activity title: no list punctuation at the ends, single spaces."""
    title = " ".join(text.split()).strip(_TRIM).strip()
    while title.endswith(("(", "[", "~")):  # "proposals close (" once its time is taken
        title = title[:-1].rstrip(_TRIM).strip()
    return title


_TAIL_KINDS = frozenset({"time", "zone", "sep", "note"})
_TAIL_WORDS = frozenset({"at", "by", "until", "till", "before", "from", "to"})


def _move_time(activity: str, when: str) -> tuple[str, str]:
    """``March 16: applications close, 23:59 UTC``: a time ending the activity is the date's."""
    tokens = tokenize(activity)
    cut = len(tokens)
    while cut and (
        tokens[cut - 1].kind in _TAIL_KINDS
        or (tokens[cut - 1].kind == "word" and tokens[cut - 1].text.lower() in _TAIL_WORDS)
    ):
        cut -= 1
    if cut == len(tokens) or not any(t.kind == "time" for t in tokens[cut:]) or not cut:
        return activity, when
    start = tokens[cut].start
    return clean_title(activity[:start]), f"{when} {activity[start:]}"


def split_item(text: str) -> tuple[str, str] | None:
    """Split a list item or paragraph into ``(activity, date text)``, or None if undated."""
    split = _split_item(text)
    return None if split is None else _move_time(*split)


def _split_item(text: str) -> tuple[str, str] | None:
    tokens = tokenize(text)
    calendar = [t for t in tokens if t.kind in _CALENDAR]
    if not calendar:
        return None
    # Linear: whether each side of a separator is dated, or has any title text,
    # follows from the first/last calendar token and the first/last title character.
    first_end = min(t.end for t in calendar)
    last_start = max(t.start for t in calendar)
    kept = [i for i, char in enumerate(text) if char not in _TRIM and not char.isspace()]
    first_kept, last_kept = (kept[0], kept[-1]) if kept else (len(text), -1)
    colons = [m for m in _SEPARATORS.finditer(text) if m.group(0) == ":"]
    others = [m for m in _SEPARATORS.finditer(text) if m.group(0) != ":"]
    for match in colons + others:  # "May 17 - 28: applications" splits at the colon
        left_dated = first_end <= match.start()
        right_dated = last_start >= match.end()
        if left_dated and not right_dated and last_kept >= match.end():
            return clean_title(text[match.end() :]), text[: match.start()]
        if right_dated and not left_dated and first_kept < match.start():
            return clean_title(text[: match.start()]), text[match.end() :]
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
