"""Durations written the way people write them: ``15m``, ``6h``, ``7d``, ``2w``, ``1d12h``.

Every duration is range-checked: at most :data:`MAX_DURATION` (a year is more
than any lead, poll interval or grace period needs), so no later date
arithmetic can overflow and ``99999999999999999999w`` is a DurationError, not
an OverflowError.
"""

from __future__ import annotations

import datetime as dt
import re

from feeds.errors import DurationError

_PART = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_WHOLE = re.compile(r"(?:\s*\d+\s*[smhdw])+\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAMES = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
MAX_DURATION = dt.timedelta(days=366)
"""The longest duration accepted anywhere."""
_MAX_DIGITS = 12


def parse_duration(text: str) -> dt.timedelta:
    """Read ``7d``, ``1h30m`` and the like; raises DurationError saying what is accepted."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text) or not text.strip():
        raise DurationError(
            f"{text!r} is not a duration; write a number and a unit (s, m, h, d, w),"
            " e.g. '15m', '6h', '7d' or '1d12h'"
        )
    parts = _PART.findall(text)
    if any(len(n.lstrip("0")) > _MAX_DIGITS for n, _ in parts):
        raise DurationError(f"{text[:40]!r} is too long; a duration is at most 366d")
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"{text[:40]!r} is too long; a duration is at most 366d")
    if seconds <= 0:
        raise DurationError(f"{text!r} is zero; a duration must be positive")
    return dt.timedelta(seconds=seconds)


def parse_durations(text: str) -> tuple[dt.timedelta, ...]:
    """Read a comma-separated list such as ``7d,1d,1h``."""
    return tuple(parse_duration(part.strip()) for part in text.split(",") if part.strip())


def format_duration(value: dt.timedelta) -> str:
    """Write a duration compactly (``1d12h``), the inverse of :func:`parse_duration`."""
    seconds = int(value.total_seconds())
    parts = []
    for name, size in _NAMES:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts) or "0s"
