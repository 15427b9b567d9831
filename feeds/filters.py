"""Choosing events: by category set and by a date window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from feeds.model import Event, local_date
from feeds.zones import zone as get_zone


def select(
    events: Iterable[Event],
    categories: frozenset[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    zone: str = "America/Los_Angeles",
) -> tuple[Event, ...]:
    """Events with any of *categories* (all when None) that touch [since, until]."""
    tz = get_zone(zone)
    chosen = []
    for event in events:
        if categories is not None and not categories.intersection(event.categories):
            continue
        first = local_date(event.start, tz)
        last = local_date(event.deadline, tz)
        if since is not None and last < since:
            continue
        if until is not None and first > until:
            continue
        chosen.append(event)
    return tuple(chosen)
