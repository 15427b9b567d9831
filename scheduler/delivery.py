"""Delivering what a job or a change asks for: claim, decide, send, mark — one key at a time.

Each ledger key is claimed before it is sent and marked right after, so a crash
can repeat at most the one message that was on the wire. Keys are claimed in
chunks of ``CHUNK``, and a chunk is abandoned once half its lease is spent, so
no other daemon can take over a key this one is still going to send.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlencode

from feeds.categories import ROLES
from feeds.model import CATEGORIES, Event
from notifiers import (
    Change,
    DeliveryError,
    Kind,
    Message,
    Notifier,
    TransientError,
    build_message,
    changed_from,
)
from scheduler.config import Service, Subscription
from scheduler.ledger_base import ChangeKey, Ledger
from scheduler.metrics import Metrics
from scheduler.plan import Job, Key, fan_out
from scheduler.schema import stamp

log = logging.getLogger("lfx_cal.delivery")
_Work = tuple[Key, Message, dt.datetime, int]
"""One claimed delivery to make: key, message, due instant, attempt number."""
LEASE = dt.timedelta(minutes=5)
CHUNK = 50
LATE_AFTER = dt.timedelta(seconds=5)
"""A reminder sent later than this after its due time is marked late."""
SLOW_FAILURE = 5.0
"""Seconds after which a failed send marks its notifier as failing for the rest of a chunk."""
MAX_ATTEMPTS = 6
BACKOFF = dt.timedelta(seconds=30)
MAX_WAIT = dt.timedelta(hours=1)
"""The longest wait before a retry, whatever a server's Retry-After asks for."""


def feed_for(all_feed: str, categories: frozenset[str]) -> str:
    """The feed a subscription's messages link to: its role's feed, or ``all`` narrowed.

    *all_feed* is the address of ``all.ics``; a subscription whose categories
    are exactly a role preset links to that role's feed (``mentee.ics``), one
    with every category to ``all.ics``, any other to ``all.ics?category=…``.
    """
    base = all_feed.rsplit("/", 1)[0]
    if categories >= frozenset(CATEGORIES):
        return all_feed
    for role, members in ROLES.items():
        if categories == frozenset(members):
            return f"{base}/{role}.ics"
    return all_feed + "?" + urlencode([("category", c) for c in sorted(categories)])


def backoff(attempts: int, retry_after: float | None = None) -> dt.timedelta:
    """Wait before attempt *attempts* + 1: 30 s, 1 min, 2 min, … (at most 1 h).

    A server's *retry_after* (seconds) lengthens the wait, up to :data:`MAX_WAIT`;
    a negative, infinite or absurd value cannot overflow anything.
    """
    exponent = min(max(attempts - 1, 0), 16)
    wait: dt.timedelta = min(BACKOFF * 2**exponent, MAX_WAIT)
    if retry_after and math.isfinite(retry_after) and retry_after > 0:
        wait = max(wait, dt.timedelta(seconds=min(retry_after, MAX_WAIT.total_seconds())))
    return wait


def time_left(lead: dt.timedelta, deadline: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """What a reminder says is left: its lead, unless it goes out late (after downtime).

    A "1 hour before" reminder sent a minute before the deadline says "1 minute";
    one sent on time (give or take a few minutes of queueing) keeps its lead.
    """
    left = deadline - now
    if left >= lead - LATE_SLACK:
        return lead
    return max(dt.timedelta(minutes=1), dt.timedelta(minutes=int(left.total_seconds() // 60)))


LATE_SLACK = dt.timedelta(minutes=5)
"""How late a reminder may go out and still state its nominal lead."""


class Courier:
    """Sends the deliveries of one daemon through its notifiers.

    Everything it works with is handed to it: the *ledger*, the *notifiers* by
    name, the *subscriptions* and the *service* settings (zone, meaning rules,
    misfire grace), the *clock*, the *owner* name it claims under and the
    *metrics* it counts in. The daemon tells it the current events with
    :meth:`know` and to stop with :meth:`stop`; it never calls the daemon.
    """

    def __init__(
        self,
        ledger: Ledger,
        notifiers: Mapping[str, Notifier],
        *,
        subscriptions: Sequence[Subscription],
        service: Service,
        clock: Callable[[], dt.datetime],
        owner: str,
        metrics: Metrics,
        feed_url: str | None,
    ) -> None:
        self.ledger = ledger
        self.notifiers = notifiers
        self.subscriptions = tuple(subscriptions)
        self._by_name = {s.name: s for s in self.subscriptions}
        self.service = service
        self.clock = clock
        self.owner = owner
        self.metrics = metrics
        self.feed_url = feed_url
        self.events: Mapping[str, Event] = {}
        self.removed: dict[str, Event] = {}
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: nothing new is claimed or sent."""
        return self._stopping

    def stop(self) -> None:
        """Claim and send nothing more; what is claimed and unsent is released by the owner."""
        self._stopping = True

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Deliver for *subscriptions* from now on (self-service subscribers come and go)."""
        self.subscriptions = tuple(subscriptions)
        self._by_name = {s.name: s for s in self.subscriptions}

    def know(self, events: Mapping[str, Event]) -> None:
        """The events now in the timelines, by uid (what jobs and ledger keys name)."""
        self.events = events

    def _subscription(self, name: str) -> Subscription:
        found = self._by_name.get(name)
        if found is None:  # a ledger row of a subscription no longer configured
            raise LookupError(f"no subscription {name!r}")
        return found

    # -- entry points -----------------------------------------------------------------
    async def fire(self, job: Job) -> None:
        """A job's moment has come: fan out to every subscriber target and deliver.

        Each subscription gets its own message (its link is its own feed).
        """
        event = self.events.get(job.uid)
        if event is None:
            return
        keys = fan_out(job, event, self.subscriptions)

        lead = time_left(job.lead, job.instant, self.clock()) if job.kind == Kind.REMINDER else None

        def message(name: str) -> Message:
            return self._message(event, job.kind, lead=lead or job.lead, subscription=name)

        await self._deliver(keys, message, job.due)

    async def alert(
        self, event: Event, old: Event | None, keys: Sequence[Key], *, removed: bool = False
    ) -> None:
        """Tell subscribers with ``changes = true`` that *event*'s dates changed."""
        if removed:
            self.removed[event.uid] = event
        if not keys:
            return
        what = keys[0].change

        def message(name: str) -> Message:
            change = None
            if old is not None and not removed:  # in the reader's own zone, if it has one
                zone = self._subscription(name).zone or self.service.timezone
                change = changed_from(old, event, zone=zone)
            return self._change_message(event, what, change, subscription=name)

        await self._deliver(keys, message, self.clock())

    async def sweep(self) -> None:
        """Deliver what is due and unclaimed: retries, and keys a dead process left."""
        ledger, owner = self.ledger, self.owner
        orphans = await asyncio.to_thread(ledger.release_orphans, owner, self.clock())
        if orphans:
            log.warning("released %d deliveries claimed by a daemon that is gone", orphans)
        while not self.stopping:
            claimed_at = self.clock()
            rows = await asyncio.to_thread(ledger.claim_due, owner, claimed_at, LEASE, CHUNK)
            if rows and not await self._present():
                return
            work: list[_Work] = []
            for row in rows:
                message = self._for_key(row.key)
                if message is None:
                    await self._mark_failed(row.key, "the event is no longer in any timeline", None)
                    continue
                work.append((row.key, message, row.due_at, row.attempts))
            await self._send_all(work, claimed_at)
            if self.stopping or self._lease_spent(claimed_at):
                return  # unsent claims are released on stop, or expire and come back
            if len(rows) < CHUNK:
                return

    async def _present(self) -> bool:
        """True unless this daemon's presence (PostgreSQL) was lost since its previous claim.

        If the session holding it was lost, other daemons may have put back
        (and taken) what this one claimed: the chunk is abandoned, and its
        remaining claims come back when their lease expires.
        """
        if await asyncio.to_thread(self.ledger.hold, self.owner):
            return True
        log.warning("lost the database session that marks this daemon alive; chunk abandoned")
        return False

    def _lease_spent(self, claimed_at: dt.datetime) -> bool:
        """True once half the lease is gone: stop before another daemon may take the keys."""
        return self.clock() - claimed_at > LEASE / 2

    # -- messages ---------------------------------------------------------------------
    def _feed(self, subscription: str) -> str | None:
        if self.feed_url is None:
            return None
        return feed_for(self.feed_url, self._subscription(subscription).categories)

    def _message(
        self, event: Event, kind: Kind, *, subscription: str, lead: dt.timedelta | None = None
    ) -> Message:
        service, own = self.service, self._subscription(subscription)
        return build_message(
            event,
            kind,
            lead=lead,
            zone=service.timezone,
            rules=service.rules,
            feed_url=self._feed(subscription),
            reader_zone=own.zone,
            unsubscribe=own.unsubscribe,
        )

    def _change_message(
        self, event: Event, what: ChangeKey, change: Change | None, *, subscription: str
    ) -> Message:
        if change is None:
            change = Change("dates", what.old or "-", what.new or "removed")
        service, own = self.service, self._subscription(subscription)
        return build_message(
            event,
            Kind.CHANGED,
            change=change,
            zone=service.timezone,
            rules=service.rules,
            feed_url=self._feed(subscription),
            reader_zone=own.zone,
            unsubscribe=own.unsubscribe,
        )

    def _for_key(self, key: Key) -> Message | None:
        event = self.events.get(key.uid) or self.removed.get(key.uid)
        if event is None:
            return None
        name = key.subscription
        if key.kind == Kind.CHANGED:
            return self._change_message(event, key.change, None, subscription=name)
        if key.kind in (Kind.OPENING, Kind.TODAY):
            return self._message(event, key.kind, subscription=name)
        lead = time_left(dt.timedelta(seconds=key.lead_s), key.at, self.clock())
        return self._message(event, Kind.REMINDER, lead=lead, subscription=name)

    # -- the ledger protocol ----------------------------------------------------------
    async def _deliver(
        self, keys: Sequence[Key], message_for: Callable[[str], Message], due: dt.datetime
    ) -> None:
        """First delivery to *keys*: write, claim and send, chunk by chunk.

        Each subscription gets its own message (``message_for(name)``, built once);
        the keys of all subscriptions still go out together, one sequence per
        notifier (see :meth:`_send_all`).
        """
        ledger, owner = self.ledger, self.owner
        messages: dict[str, Message] = {}

        def message(key: Key) -> Message:
            if key.subscription not in messages:
                messages[key.subscription] = message_for(key.subscription)
            return messages[key.subscription]

        for start in range(0, len(keys), CHUNK):
            if self.stopping:
                return
            chunk = keys[start : start + CHUNK]
            # Rows are written chunk by chunk: a 10,000-target fan-out never holds them all.
            rows = [(key, due) for key in chunk]
            await asyncio.to_thread(ledger.ensure, rows, self.clock())
            claimed_at = self.clock()
            claimed = await asyncio.to_thread(ledger.claim, chunk, owner, claimed_at, LEASE)
            if claimed and not await self._present():
                return
            await self._send_all([(key, message(key), due, 1) for key in claimed], claimed_at)

    async def _send_all(self, work: Sequence[_Work], claimed_at: dt.datetime) -> None:
        """Send claimed keys: one sequence per notifier, the notifiers side by side.

        A slow or dead far end (an SMTP server that stopped answering) then holds
        up its own messages only. Within one notifier, once a send has failed
        transiently after more than :data:`SLOW_FAILURE`, the rest of the chunk
        for that notifier is not tried in this pass: each is recorded as a failed
        attempt with the usual backoff, instead of waiting out the same timeout
        one message at a time.
        """
        groups: dict[str, list[_Work]] = {}
        for item in work:
            name = self._subscription(item[0].subscription).notifier
            groups.setdefault(name, []).append(item)
        await asyncio.gather(*(self._send_group(g, claimed_at) for g in groups.values()))

    async def _send_group(self, work: Sequence[_Work], claimed_at: dt.datetime) -> None:
        failing: str | None = None
        for key, message, due, attempts in work:
            if self.stopping or self._lease_spent(claimed_at):
                return  # released on stop, or the lease expires and the sweep retries
            if failing is not None:
                retry = self.clock() + backoff(attempts) if attempts < MAX_ATTEMPTS else None
                await self._mark_failed(key, f"not tried: {failing}", retry)
                continue
            started = time.monotonic()
            error = await self._send(key, message, due, attempts)
            if error is not None and time.monotonic() - started > SLOW_FAILURE:
                failing = f"the previous send failed after {time.monotonic() - started:.0f} s"

    async def _send(
        self, key: Key, message: Message, due: dt.datetime, attempts: int
    ) -> str | None:
        """Send one key and record the outcome; returns the error of a transient failure."""
        ledger, metrics = self.ledger, self.metrics
        now = self.clock()
        reason = self._too_late(key, due, now)
        if reason:
            await asyncio.to_thread(ledger.mark_skipped, [key], now, reason)
            metrics.reminders.labels("skipped").inc()
            log.warning("skipped %s -> %s: %s", key.uid, self._who(key), self._private(key, reason))
            return None
        notifier = self.notifiers[self._subscription(key.subscription).notifier]
        try:
            receipt = await notifier.asend(message, key.target, key="/".join(map(str, key)))
        except TransientError as error:
            retry = None
            if attempts < MAX_ATTEMPTS:
                retry = self.clock() + backoff(attempts, error.retry_after)
            await self._mark_failed(key, f"{type(error).__name__}: {error}", retry)
            return str(error)
        except DeliveryError as error:
            await self._mark_failed(key, f"{type(error).__name__}: {error}", None)
            return None
        except Exception as error:  # a backend bug must not stop the fan-out
            log.exception("delivery %s -> %s: unexpected error", key.uid, self._who(key))
            retry = self.clock() + backoff(attempts) if attempts < MAX_ATTEMPTS else None
            await self._mark_failed(key, f"{type(error).__name__}: {error}"[:500], retry)
            return str(error)
        late = self.clock() - due > LATE_AFTER and key.kind != Kind.CHANGED
        await asyncio.to_thread(
            ledger.mark_sent,
            key,
            self.clock(),
            late=late,
            receipt=receipt.id or receipt.detail,
        )
        metrics.reminders.labels("late" if late else "sent").inc()
        return None

    def _too_late(self, key: Key, due: dt.datetime, now: dt.datetime) -> str | None:
        if key.kind == Kind.CHANGED:
            return None
        if key.kind == Kind.REMINDER and now >= key.at:
            return f"the deadline {key.instant} passed before the reminder could be sent"
        grace = self.service.misfire_grace
        if now - due > grace:
            return f"due {stamp(due)}, missed by {now - due} (more than misfire_grace {grace})"
        return None

    async def _mark_failed(self, key: Key, error: str, retry: dt.datetime | None) -> None:
        now = self.clock()
        await asyncio.to_thread(self.ledger.mark_failed, key, now, error, retry_at=retry)
        self.metrics.reminders.labels("retried" if retry else "failed").inc()
        log.warning(
            "delivery %s -> %s failed: %s", key.uid, self._who(key), self._private(key, error)
        )

    def _personal(self, key: Key) -> bool:
        found = self._by_name.get(key.subscription)
        return found is None or found.personal  # a gone subscription was a self-service one

    def _who(self, key: Key) -> str:
        """How logs name *key*'s target: a self-service subscriber by subscription name only."""
        return key.subscription if self._personal(key) else key.target

    def _private(self, key: Key, text: str) -> str:
        """*text* (an error, a reason) without a self-service subscriber's address in it."""
        return text.replace(key.target, key.subscription) if self._personal(key) else text
