"""Time zones, in one place: lookup, labels as printed in documents, conversions.

:func:`zone` looks an IANA name up (cached), :data:`PROGRAM_ZONE` is the default
program zone, :func:`lookup` maps a printed label to a zone,
:func:`resolve_wall_clock` turns a wall-clock time into a UTC instant (RFC 5545
rules at DST edges), :func:`as_instant` and :func:`local_date` convert event
endpoints. A label names the *wall clock* of a zone. ``PDT`` and ``PST`` both mean
America/Los_Angeles on the date in question; the DST flag only lets us warn
when the printed label contradicts daylight saving for that date.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
PROGRAM_ZONE = "America/Los_Angeles"
"""The program zone when none is configured: LFX Mentorship's deadlines are Pacific time."""


class ZoneLabel(NamedTuple):
    """What a printed label means: an IANA zone and, if the label says so, DST on or off."""

    label: str
    zone: str
    dst: bool | None = None

    @property
    def is_utc(self) -> bool:
        """True for UTC/GMT/Z, whose times are authoritative equivalents."""
        return self.zone == "UTC"


_LABELS: dict[str, tuple[str, bool | None]] = {
    "pt": ("America/Los_Angeles", None),
    "pacific": ("America/Los_Angeles", None),
    "pacific time": ("America/Los_Angeles", None),
    "pdt": ("America/Los_Angeles", True),
    "pst": ("America/Los_Angeles", False),
    "et": ("America/New_York", None),
    "eastern": ("America/New_York", None),
    "edt": ("America/New_York", True),
    "est": ("America/New_York", False),
    "ct": ("America/Chicago", None),
    "cdt": ("America/Chicago", True),
    "cst": ("America/Chicago", False),
    "mt": ("America/Denver", None),
    "mdt": ("America/Denver", True),
    "mst": ("America/Denver", False),
    "utc": ("UTC", None),
    "gmt": ("UTC", None),
    "z": ("UTC", None),
    "cet": ("Europe/Berlin", False),
    "cest": ("Europe/Berlin", True),
    "bst": ("Europe/London", True),
    "ist": ("Asia/Kolkata", None),
    "jst": ("Asia/Tokyo", None),
    "aoe": ("Etc/GMT+12", None),
    "anywhere on earth": ("Etc/GMT+12", None),
    "eastern time": ("America/New_York", None),
    "central time": ("America/Chicago", None),
    "mountain time": ("America/Denver", None),
    "akst": ("America/Anchorage", False),
    "akdt": ("America/Anchorage", True),
    "hst": ("Pacific/Honolulu", None),
    "brt": ("America/Sao_Paulo", None),
    "wet": ("Europe/Lisbon", False),
    "west": ("Europe/Lisbon", True),
    "eet": ("Europe/Athens", False),
    "eest": ("Europe/Athens", True),
    "msk": ("Europe/Moscow", None),
    "wat": ("Africa/Lagos", None),
    "cat": ("Africa/Maputo", None),
    "eat": ("Africa/Nairobi", None),
    "sgt": ("Asia/Singapore", None),
    "hkt": ("Asia/Hong_Kong", None),
    "kst": ("Asia/Seoul", None),
    "aest": ("Australia/Sydney", False),
    "aedt": ("Australia/Sydney", True),
    "nzst": ("Pacific/Auckland", False),
    "nzdt": ("Pacific/Auckland", True),
}
_HALF_HOURS = {  # offsets that are a whole zone's all year (no daylight saving)
    ("+", 5, 30): "Asia/Kolkata",
    ("+", 5, 45): "Asia/Kathmandu",
    ("+", 6, 30): "Asia/Yangon",
    ("+", 9, 30): "Australia/Darwin",
    ("+", 4, 30): "Asia/Kabul",
}

_OFFSET = re.compile(r"(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def is_label(key: str) -> bool:
    """True when the lower-case word *key* is a zone label we know (``pdt``, ``aoe``...)."""
    return " ".join(key.split()) in _LABELS


def lookup(label: str) -> ZoneLabel | None:
    """Return the meaning of a printed zone label, or None when it is not one we know."""
    key = " ".join(label.lower().split())
    if key in _LABELS:
        zone, dst = _LABELS[key]
        return ZoneLabel(label, zone, dst)
    match = _OFFSET.match(key)
    if match:
        sign, hours, minutes = match.groups()
        if int(hours) == 0 and not minutes:
            return ZoneLabel(label, "UTC")
        if (minutes is None or int(minutes) == 0) and int(hours) <= 14:
            # Etc/GMT signs are inverted: UTC-7 is Etc/GMT+7.
            return ZoneLabel(label, f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}")
        half = _HALF_HOURS.get((sign, int(hours), int(minutes or 0)))
        return ZoneLabel(label, half) if half else None
    return None


@cache
def zone(name: str) -> ZoneInfo:
    """Return a cached ZoneInfo; raises ``ZoneInfoNotFoundError`` for unknown names."""
    return ZoneInfo(name)


def valid_zone(name: str) -> bool:
    """True when *name* is an IANA zone this machine (or tzdata) knows."""
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def as_instant(value: dt.date | dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Return *value* as a UTC instant; a date means the start of that day in *tz*."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), tz).astimezone(UTC)


def local_date(value: dt.date | dt.datetime, tz: ZoneInfo) -> dt.date:
    """Return the calendar day of *value* as seen in *tz*."""
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).date()
    return value


class Resolved(NamedTuple):
    """A wall-clock time resolved to UTC, with what was doubtful about it."""

    instant: dt.datetime
    problem: str = ""


def resolve_wall_clock(day: dt.date, clock: dt.time, where: ZoneLabel) -> Resolved:
    """Turn a wall-clock time on *day* in the labelled zone into a UTC instant.

    Follows RFC 5545 §3.3.5: a time inside a spring-forward gap is read with the
    offset before the gap; a time in the autumn overlap is the first occurrence,
    unless the label (e.g. ``PST``) names the second.
    """
    tz = zone(where.zone)
    naive = dt.datetime.combine(day, clock)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    problem = ""
    chosen = first
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != naive:
            problem = (
                f"{clock:%H:%M} does not exist on {day} in {where.zone} (clocks skip it);"
                " read with the offset before the change (RFC 5545)"
            )
        elif where.dst is not None:
            chosen = first if bool(first.dst()) == where.dst else second
        else:
            problem = (
                f"{clock:%H:%M} happens twice on {day} in {where.zone};"
                " read as the first occurrence (RFC 5545)"
            )
    elif where.dst is not None and bool(first.dst()) != where.dst:
        actual = first.tzname() or where.zone
        problem = (
            f"{where.label} printed, but {day} is {actual} in {where.zone};"
            f" read as {clock:%H:%M} wall-clock time there"
        )
    return Resolved(chosen.astimezone(UTC), problem)
