"""The reminder plan: pure functions from events and subscriptions to jobs and deliveries.

A :class:`Job` is one (event, lead) pair — what APScheduler schedules. Its id is
deterministic, so re-planning replaces jobs instead of adding them, and the
number of jobs depends on events and distinct leads, never on subscribers. When
a job fires, :func:`fan_out` turns it into one ledger key per subscriber target.

When a job is due follows :mod:`feeds.meaning` and nothing else: a lead before
the close (the end of the day for a date-only close), a "now open" notice at a
period's opening, a "Today:" notice (kind ``today``) on the morning of an
informational day, whose sub-day leads are skipped (:func:`skipped_leads` says
why, for ``lfx-cal check``). A job whose ledger instant an earlier model put
elsewhere (a date-only close was the start of its day) carries that instant as
``legacy``, so the daemon can carry reminders already sent over to the new key
(no double send).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

from feeds.meaning import (
    Rules,
    legacy_instant,
    notice_due,
    opening_due,
    opens_at,
    reminder_due,
    reminder_instant,
)
from feeds.model import Event
from scheduler.changes import when
from scheduler.config import Subscription
from scheduler.ledger_base import ChangeKey, DeliveryKey, Kind
from scheduler.schema import stamp

# The message kinds are :class:`notifiers.Kind`; these names are kept for callers.
REMINDER = Kind.REMINDER
OPENING = Kind.OPENING
TODAY = Kind.TODAY
CHANGED = Kind.CHANGED


class Job(NamedTuple):
    """One scheduled moment: remind about ``uid``'s deadline ``lead`` before it."""

    kind: Kind
    uid: str
    lead: dt.timedelta
    instant: dt.datetime
    due: dt.datetime
    legacy: dt.datetime | None = None
    """The instant an earlier model keyed this reminder by, when it differs (see module)."""

    @property
    def id(self) -> str:
        """Deterministic APScheduler job id (the deadline is part of it: a move re-plans)."""
        return f"{self.kind}|{self.uid}|{int(self.lead.total_seconds())}|{stamp(self.instant)}"


Key = DeliveryKey
"""One delivery: the ledger's unique key."""


def wants(subscription: Subscription, event: Event) -> bool:
    """True when the subscription's categories include any of the event's (and its term, if any)."""
    if subscription.term is not None and subscription.term != event.term:
        return False
    return not subscription.categories.isdisjoint(event.categories)


def jobs_for(
    events: Iterable[Event],
    subscriptions: Sequence[Subscription],
    rules: Rules | ZoneInfo,
    *,
    after: dt.datetime,
) -> list[Job]:
    """Every job about a moment later than *after*: reminders, openings, "today" notices.

    Reminders whose due time is already past are still planned (the courier
    records them as sent late or skipped, with the reason); openings and
    notices are planned while they are due after *after*. *rules* are the
    meaning rules (a bare zone means the default rules in it).
    """
    if isinstance(rules, ZoneInfo):
        rules = Rules(str(rules))
    jobs: list[Job] = []
    for event in events:
        matching = [s for s in subscriptions if wants(s, event)]
        if not matching:
            continue
        planned: list[Job] = []
        try:  # a date at the calendar's edge (0001-01-01 minus a lead) plans nothing
            instant = reminder_instant(event, rules)
            legacy = legacy_instant(event, rules)
            if instant > after:
                for lead in sorted({lead for s in matching for lead in s.leads}, reverse=True):
                    due, _ = reminder_due(event, lead, rules)
                    if due is not None:  # a missed one is still planned: the ledger records it
                        planned.append(Job(Kind.REMINDER, event.uid, lead, instant, due, legacy))
            notice = notice_due(event, rules)
            if notice is not None and notice > after:
                planned.append(Job(Kind.TODAY, event.uid, dt.timedelta(0), instant, notice))
            opens, opening = opens_at(event, rules), opening_due(event, rules)
            wanted = any(s.openings for s in matching)
            if opens is not None and opening is not None and wanted and opening > after:
                planned.append(Job(Kind.OPENING, event.uid, dt.timedelta(0), opens, opening))
        except OverflowError:
            continue
        jobs.extend(planned)
    jobs.sort(key=lambda job: (job.due, job.id))
    return jobs


def skipped_leads(
    events: Iterable[Event], subscriptions: Sequence[Subscription], rules: Rules
) -> list[tuple[Event, dt.timedelta, str]]:
    """The (event, lead, reason) of every subscribed lead that does not apply to its row."""
    skipped: list[tuple[Event, dt.timedelta, str]] = []
    for event in events:
        leads = {lead for s in subscriptions if wants(s, event) for lead in s.leads}
        for lead in sorted(leads, reverse=True):
            try:
                due, reason = reminder_due(event, lead, rules)
            except OverflowError:  # a date at the calendar's edge: jobs_for plans nothing
                continue
            if due is None:
                skipped.append((event, lead, reason))
    return skipped


def fan_out(job: Job, event: Event, subscriptions: Sequence[Subscription]) -> list[Key]:
    """The ledger keys of *job*: one per target of each subscription that wants it."""
    keys: list[Key] = []
    for subscription in subscriptions:
        if not wants(subscription, event):
            continue
        if job.kind == Kind.REMINDER and job.lead not in subscription.leads:
            continue
        if job.kind == Kind.OPENING and not subscription.openings:
            continue
        if job.kind == Kind.TODAY and not (subscription.leads or subscription.openings):
            continue
        keys.extend(
            Key.of(subscription.name, job.kind, job.uid, job.lead, job.instant, target)
            for target in subscription.targets
        )
    return keys


def what(old: Event | None, new: Event | None) -> ChangeKey:
    """The ledger's identity of a change alert: the old and the new dates (None for none)."""
    return ChangeKey(when(old) if old else None, when(new) if new else None)


def change_keys(event: Event, what: ChangeKey, subscriptions: Sequence[Subscription]) -> list[Key]:
    """Ledger keys for a change alert about *event* (*what* identifies the change).

    A self-service subscriber (``personal``) hears about moves and removals of
    the deadlines it follows, not about added rows: a next term appearing on a
    page would otherwise mail each of them once per row. Configured
    subscriptions with ``changes = true`` hear about all three.
    """
    added = what.old is None
    return [
        Key.of(s.name, Kind.CHANGED, event.uid, dt.timedelta(0), what, target)
        for s in subscriptions
        if s.changes and wants(s, event) and not (added and s.personal)
        for target in s.targets
    ]
