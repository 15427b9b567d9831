"""The reminder plan: pure functions from events and subscriptions to jobs and deliveries.

A :class:`Job` is one (event, lead) pair — what APScheduler schedules. Its id is
deterministic, so re-planning replaces jobs instead of adding them, and the
number of jobs depends on events and distinct leads, never on subscribers. When
a job fires, :func:`fan_out` turns it into one ledger key per subscriber target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

from feeds.model import Event, as_instant
from scheduler.changes import when
from scheduler.config import Subscription
from scheduler.schema import DeliveryKey, stamp

REMINDER = "reminder"
OPENING = "opening"
CHANGED = "changed"


class Job(NamedTuple):
    """One scheduled moment: remind about ``uid``'s deadline ``lead`` before it."""

    kind: str
    uid: str
    lead: dt.timedelta
    instant: dt.datetime
    due: dt.datetime

    @property
    def id(self) -> str:
        """Deterministic APScheduler job id (the deadline is part of it: a move re-plans)."""
        return f"{self.kind}|{self.uid}|{int(self.lead.total_seconds())}|{stamp(self.instant)}"


Key = DeliveryKey
"""One delivery: the ledger's unique key."""


def wants(subscription: Subscription, event: Event) -> bool:
    """True when the subscription's categories include any of the event's."""
    return not subscription.categories.isdisjoint(event.categories)


def jobs_for(
    events: Iterable[Event],
    subscriptions: Sequence[Subscription],
    zone: ZoneInfo,
    *,
    after: dt.datetime,
) -> list[Job]:
    """Every reminder (and opening) job for deadlines later than *after*.

    A date-only deadline is the start of that day in the program *zone*.
    """
    jobs: list[Job] = []
    for event in events:
        matching = [s for s in subscriptions if wants(s, event)]
        if not matching:
            continue
        try:  # a date at the calendar's edge (0001-01-01 minus a lead) plans nothing
            deadline = event.deadline_at(zone)
            if deadline > after:
                for lead in sorted({lead for s in matching for lead in s.leads}, reverse=True):
                    jobs.append(Job(REMINDER, event.uid, lead, deadline, deadline - lead))
            if event.end is not None and any(s.openings for s in matching):
                opens = as_instant(event.start, zone)
                if opens > after:
                    jobs.append(Job(OPENING, event.uid, dt.timedelta(0), opens, opens))
        except OverflowError:
            continue
    jobs.sort(key=lambda job: (job.due, job.id))
    return jobs


def fan_out(job: Job, event: Event, subscriptions: Sequence[Subscription]) -> list[Key]:
    """The ledger keys of *job*: one per target of each subscription that wants it."""
    lead_s = int(job.lead.total_seconds())
    instant = stamp(job.instant)
    keys: list[Key] = []
    for subscription in subscriptions:
        if not wants(subscription, event):
            continue
        if job.kind == REMINDER and job.lead not in subscription.leads:
            continue
        if job.kind == OPENING and not subscription.openings:
            continue
        keys.extend(
            Key(subscription.name, job.kind, job.uid, lead_s, instant, target)
            for target in subscription.targets
        )
    return keys


def what(old: Event | None, new: Event | None) -> str:
    """The ledger's identity of a change alert: ``old dates|new dates`` (``-`` for none)."""
    return f"{when(old) if old else '-'}|{when(new) if new else '-'}"


def change_keys(event: Event, what: str, subscriptions: Sequence[Subscription]) -> list[Key]:
    """Ledger keys for a change alert about *event* (*what* identifies the change)."""
    return [
        Key(s.name, CHANGED, event.uid, 0, what, target)
        for s in subscriptions
        if s.changes and wants(s, event)
        for target in s.targets
    ]
