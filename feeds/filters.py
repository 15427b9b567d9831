"""Choosing events: by category set and by a date window — the one place that filters.

:func:`wanted` turns what a user wrote (categories and/or a role) into a filter,
:func:`matches` applies one to an event's categories and :func:`select` to a list
of events with a date window. ``export``, subscriptions and feeds all filter so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from feeds.categories import expand
from feeds.model import CATEGORIES, Event
from feeds.zones import PROGRAM_ZONE, local_date
from feeds.zones import zone as get_zone


def wanted(categories: Iterable[str] = (), role: str | None = None) -> frozenset[str] | None:
    """The filter for *categories* plus *role*'s preset; None (everything) when neither.

    Raises ``ValueError`` naming the valid choices for an unknown category or role.
    """
    categories = list(categories)
    return expand(categories, role) if categories or role else None


def matches(filter_: frozenset[str] | None, categories: Iterable[str]) -> bool:
    """True when an event with *categories* passes *filter_* (None lets everything pass)."""
    return filter_ is None or not filter_.isdisjoint(categories)


EVERYTHING = frozenset(CATEGORIES)
"""The filter that lets every event pass, as a set (subscriptions store one)."""


def select(
    events: Iterable[Event],
    categories: frozenset[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    zone: str = PROGRAM_ZONE,
) -> tuple[Event, ...]:
    """Events with any of *categories* (all when None) that touch [since, until]."""
    tz = get_zone(zone)
    chosen = []
    for event in events:
        if not matches(categories, event.categories):
            continue
        first = local_date(event.start, tz)
        last = local_date(event.deadline, tz)
        if since is not None and last < since:
            continue
        if until is not None and first > until:
            continue
        chosen.append(event)
    return tuple(chosen)
