"""Delivering what a job or a change asks for: claim, decide, send, mark — in lanes.

Each ledger key is claimed before it is sent and its outcome is committed
before its lane sends anything else, so a crash can repeat at most the messages
that were on the wire: one per lane, and no more than the notifier's
:attr:`~notifiers.base.Notifier.in_flight` (a slot per message from its body to
its committed outcome, see :class:`_Slots`; the other e-mail connections go
through their envelopes meanwhile). Keys are written and claimed in chunks of
``CHUNK`` (one ``ensure`` and one ``claim`` transaction per chunk; the next
chunk is claimed while this one is sent), and a chunk is abandoned once half
its lease is spent, so no other daemon can take over a key this one is still
going to send.

Lanes: each notifier says how many sends it may run at once
(:attr:`~notifiers.base.Notifier.parallel`) and which sends must follow one
another (:meth:`~notifiers.base.Notifier.lane`): a Slack channel or a webhook is
one lane, paced on its own, channels go side by side; e-mail recipients share
``connections`` lanes that take the next recipient as soon as they are free,
each in one of the notifier's threads for a whole chunk (:meth:`Courier._send_run`):
a thread hop per message kept the loop busy and the lanes waiting for the GIL.
Notifiers run beside each other, so a hung SMTP server or a Slack channel told
to wait an hour holds up its own lane(s) only. Outcomes go to the ledger through
one group commit (:mod:`scheduler.outcomes`): one transaction carries the marks
of every lane that finished meanwhile.

Why not one statement for a whole chunk's marks after the chunk: a ``kill -9``
would then repeat every message sent since the last write, not only those on
the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from feeds.categories import ROLES
from feeds.model import CATEGORIES, Event
from notifiers import (
    Change,
    DeliveryError,
    Kind,
    Message,
    Notifier,
    Receipt,
    TransientError,
    build_message,
    changed_from,
)
from scheduler.config import Service, Subscription
from scheduler.ledger_base import ChangeKey, Ledger, Mark
from scheduler.metrics import Metrics
from scheduler.outcomes import GroupCommit, Ticket
from scheduler.plan import Job, Key, fan_out
from scheduler.schema import stamp

log = logging.getLogger("lfx_cal.delivery")
_Work = tuple[Key, Message, dt.datetime, int]
"""One claimed delivery to make: key, message, due instant, attempt number."""
LEASE = dt.timedelta(minutes=5)
CHUNK = 500
"""Keys written and claimed per transaction (a 10,000-target fan-out is 20 chunks)."""
SWEEP_CHUNK = 50
"""Rows a sweep claims at once: retries come back slowly (backoff), and a small
chunk keeps claims of a slow far end short of their lease."""
RUN_SLICE = 0.1
"""Longest run of sends (seconds) an e-mail lane makes per hop to a worker thread."""
LATE_AFTER = dt.timedelta(seconds=5)
"""A reminder sent later than this after its due time is marked late."""
SLOT_WAIT = 60.0
"""Longest wait (seconds) for another lane's outcome to be recorded before a message's body."""
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
        self._marks = GroupCommit(ledger.mark)
        self._slots: dict[str, _Slots] = {}

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

    async def settle(self, timeout: float) -> None:
        """Wait up to *timeout* seconds for the outcomes of finished sends to be recorded."""
        await self._marks.settle(timeout)

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
            rows = await asyncio.to_thread(ledger.claim_due, owner, claimed_at, LEASE, SWEEP_CHUNK)
            if rows and not await self._present():
                return
            work: list[_Work] = []
            built: dict[tuple[object, ...], Message | None] = {}
            for row in rows:
                if row.key.subscription not in self._by_name:  # removed since it was written
                    gone = f"subscription {row.key.subscription!r} is no longer configured"
                    await self._mark_failed(row.key, gone, None)
                    continue
                message = self._for_key(row.key, built)
                if message is None:
                    await self._mark_failed(row.key, "the event is no longer in any timeline", None)
                    continue
                work.append((row.key, message, row.due_at, row.attempts))
            await self._send_all(work, claimed_at)
            if self.stopping or self._lease_spent(claimed_at):
                return  # unsent claims are released on stop, or expire and come back
            if len(rows) < SWEEP_CHUNK:
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

    def _looks(self, subscription: str) -> tuple[object, ...]:
        """What a message depends on besides the notice: the feed, the reader's zone and links."""
        own = self._subscription(subscription)
        return (self._feed(subscription), own.zone, own.unsubscribe)

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

    def _for_key(self, key: Key, built: dict[tuple[object, ...], Message | None]) -> Message | None:
        """The message of a stored key; *built* keeps those of one sweep (same notice, feed)."""
        notice = (key.kind, key.uid, key.lead_s, key.instant, *self._looks(key.subscription))
        if notice not in built:
            built[notice] = self._build_for_key(key)
        return built[notice]

    def _build_for_key(self, key: Key) -> Message | None:
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

        A message depends on its subscription only through the feed it links
        to and, for a self-service subscriber, its zone and unsubscribe links
        (:meth:`_looks`), so one is built per look (``message_for(name)``), not
        per subscription. The next chunk is written and claimed while this one is
        sent; the keys of all subscriptions go out together (see :meth:`_send_all`).
        """
        messages: dict[tuple[object, ...], Message] = {}

        def message(key: Key) -> Message:
            look = self._looks(key.subscription)
            if look not in messages:
                messages[look] = message_for(key.subscription)
            return messages[look]

        chunks = [keys[start : start + CHUNK] for start in range(0, len(keys), CHUNK)]
        ahead: asyncio.Future[tuple[list[Key], dt.datetime]] | None = None
        for index, chunk in enumerate(chunks):
            if self.stopping:
                return  # a chunk claimed ahead is released by the owner on stop
            if ahead is None:
                ahead = asyncio.ensure_future(self._claim(chunk, due))
            claimed, claimed_at = await ahead
            ahead = None
            if claimed and not await self._present():
                return
            if index + 1 < len(chunks):
                ahead = asyncio.ensure_future(self._claim(chunks[index + 1], due))
            await self._send_all([(key, message(key), due, 1) for key in claimed], claimed_at)
        if ahead is not None:
            await ahead

    async def _claim(self, chunk: Sequence[Key], due: dt.datetime) -> tuple[list[Key], dt.datetime]:
        """Write *chunk* as pending rows (unless there) and claim what is claimable."""
        # Rows are written chunk by chunk: a 10,000-target fan-out never holds them all.
        await asyncio.to_thread(self.ledger.ensure, [(key, due) for key in chunk], self.clock())
        claimed_at = self.clock()
        claimed = await asyncio.to_thread(self.ledger.claim, chunk, self.owner, claimed_at, LEASE)
        return claimed, claimed_at

    async def _send_all(self, work: Sequence[_Work], claimed_at: dt.datetime) -> None:
        """Send claimed keys: the notifiers side by side, each in its own lanes.

        A slow or dead far end (an SMTP server that stopped answering) then holds
        up its own messages only. Once a send has failed transiently after more
        than :data:`SLOW_FAILURE`, the rest of the chunk on that far end (the
        lane of a Slack channel; every lane of an SMTP relay) is not tried in
        this pass: each is recorded as a failed attempt with the usual backoff,
        instead of waiting out the same timeout one message at a time.
        """
        groups: dict[str, list[_Work]] = {}
        for item in work:
            name = self._subscription(item[0].subscription).notifier
            groups.setdefault(name, []).append(item)
        await asyncio.gather(*(self._send_group(name, g, claimed_at) for name, g in groups.items()))

    async def _send_group(self, name: str, work: Sequence[_Work], claimed_at: dt.datetime) -> None:
        """One notifier's share: ``parallel`` runners on the shared lane, one per own lane."""
        notifier = self.notifiers[name]
        width = max(1, notifier.parallel)
        shared: deque[_Work] = deque()
        lanes: dict[str, deque[_Work]] = {}
        for item in work:
            lane = notifier.lane(item[0].target)
            if lane is None:
                shared.append(item)
            else:
                lanes.setdefault(lane, deque()).append(item)
        # Each send takes a slot of ``parallel``: the lease is checked once a slot is
        # free, so at most that many sends start after it (a lane per Slack channel
        # may mean hundreds of lanes). Slots are taken per message, not per lane.
        gate = asyncio.Semaphore(width)
        relay = _Trouble()
        # Without lanes of its own (e-mail), each runner sends its share from one of
        # the notifier's threads, many messages per hop (see _send_run).
        batch = notifier if not lanes else None
        runners = [self._run_lane(shared, claimed_at, relay, gate, batch) for _ in range(width)]
        runners += [self._run_lane(q, claimed_at, _Trouble(), gate) for q in lanes.values()]
        await asyncio.gather(*runners)

    async def _run_lane(
        self,
        queue: deque[_Work],
        claimed_at: dt.datetime,
        trouble: _Trouble,
        gate: asyncio.Semaphore,
        batch: Notifier | None = None,
    ) -> None:
        """Send the items of *queue* one after another (several runners may share it).

        With *batch* (an unpaced notifier whose only lane is the shared one), the
        runner hands the queue to one of that notifier's threads, which sends
        item after item (:meth:`_send_run`) until the queue is empty, the lease is
        half spent, the daemon stops or the far end is in trouble.
        """
        while queue:
            if trouble.failing is not None:
                key, _, _, attempts = queue.popleft()
                retry = self.clock() + backoff(attempts) if attempts < MAX_ATTEMPTS else None
                await self._mark_failed(key, f"not tried: {trouble.failing}", retry)
                continue
            async with gate:
                if self.stopping or self._lease_spent(claimed_at):
                    return  # released on stop, or the lease expires and the sweep retries
                if not queue or trouble.failing is not None:
                    continue
                if batch is not None:
                    await batch.pool.run(self._send_run, batch, queue, claimed_at, trouble)
                    continue
                key, message, due, attempts = queue.popleft()
                started = time.monotonic()
                error = await self._send(key, message, due, attempts)
            took = time.monotonic() - started
            if error is not None and took > SLOW_FAILURE:
                trouble.failing = f"the previous send failed after {took:.0f} s"

    async def _send(
        self, key: Key, message: Message, due: dt.datetime, attempts: int
    ) -> str | None:
        """Send one key and record the outcome; returns the error of a transient failure."""
        ledger, metrics = self.ledger, self.metrics
        now = self.clock()
        reason = self._too_late(key, due, now)
        if reason:
            await asyncio.to_thread(ledger.mark_skipped, [key], now, reason)
            metrics.reminder("skipped")
            log.warning("skipped %s -> %s: %s", key.uid, self._who(key), self._private(key, reason))
            return None
        name = self._subscription(key.subscription).notifier
        notifier = self.notifiers[name]
        late: bool | None = None
        try:
            if notifier.lane(key.target) is None:  # unpaced (e-mail): send and record in a thread
                receipt, late = await notifier.pool.run(
                    self._send_and_record, notifier, message, key, due
                )
            else:
                receipt = await notifier.asend(message, key.target, key="/".join(map(str, key)))
        except _Unrecorded as unrecorded:  # sent, but the ledger failed: not a send error
            raise unrecorded.error from None
        except Exception as error:  # a backend bug must not stop the fan-out either
            return await asyncio.to_thread(self._failed, key, attempts, error)
        if late is None:
            at = self.clock()
            late = at - due > LATE_AFTER and key.kind != Kind.CHANGED
            await self._marks.record(
                Mark.sent(key, at, late=late, receipt=receipt.id or receipt.detail)
            )
        metrics.reminder("late" if late else "sent")
        metrics.sent(name)
        return None

    def _send_run(
        self, notifier: Notifier, queue: deque[_Work], claimed_at: dt.datetime, trouble: _Trouble
    ) -> None:
        """In one of *notifier*'s threads: send and record items of *queue* one by one.

        One thread hop per run instead of per message: the event loop stays
        idle while a fan-out goes out, so the lanes' threads do not wait for the
        GIL behind it after each reply (measured: see the commit). The checks are
        those of :meth:`_run_lane`, made before every message; each outcome is
        committed before the next send, as always. Returns when the queue is
        empty, the daemon stops, half the lease is spent or a send failed slowly
        (the runner then marks the rest as not tried), or after :data:`RUN_SLICE`
        seconds: the runner then queues another run behind whatever else waits for
        the notifier's threads (another reminder due meanwhile), so a fan-out
        delays other deliveries by a slice, not by a chunk.
        """
        end = time.monotonic() + RUN_SLICE
        previous: Ticket | None = None  # the outcome of this run's last send, maybe unwritten
        try:
            while not self.stopping and not self._lease_spent(claimed_at):
                if time.monotonic() > end:
                    return
                if trouble.failing is not None:
                    return
                try:
                    key, message, due, attempts = queue.popleft()
                except IndexError:
                    return
                started = time.monotonic()
                error, previous = self._send_blocking(
                    notifier, key, message, due, attempts, previous
                )
                took = time.monotonic() - started
                if error is not None and took > SLOW_FAILURE:
                    trouble.failing = f"the previous send failed after {took:.0f} s"
        finally:
            if previous is not None:  # a run ends with its outcomes on record
                previous.wait()

    def _send_blocking(
        self,
        notifier: Notifier,
        key: Key,
        message: Message,
        due: dt.datetime,
        attempts: int,
        previous: Ticket | None,
    ) -> tuple[str | None, Ticket | None]:
        """:meth:`_send` for an unpaced notifier, in its thread; the same outcomes.

        The outcome of the lane's *previous* send may still be on its way to
        the ledger: this message is handed to the far end only once it is
        committed (:meth:`~notifiers.base.Notifier.send_after`), so the write
        overlaps this message's first round trips. Returns the error of a
        transient failure and the ticket of this send's outcome (None once
        everything up to it is on record).
        """
        now = self.clock()
        reason = self._too_late(key, due, now)
        if reason:
            self.ledger.mark_skipped([key], now, reason)
            self.metrics.reminder("skipped")
            log.warning("skipped %s -> %s: %s", key.uid, self._who(key), self._private(key, reason))
            return None, previous

        slots = self._slots_of(notifier)
        held = False  # a slot of *slots* is this message's (ready() may run twice: a reconnect)

        def ready() -> None:
            nonlocal held
            if previous is not None:
                try:
                    previous.wait()
                except Exception as error:  # not the far end's: must not read as a send error
                    raise _Unrecorded(error) from error
            if not held:
                slots.take(self._marks)
                held = True

        try:
            try:
                receipt = notifier.send_after(
                    ready, message, key.target, key="/".join(map(str, key))
                )
            except _Unrecorded as unrecorded:  # the previous outcome could not be recorded
                raise unrecorded.error from None
            except Exception as error:
                if previous is not None:
                    previous.wait()  # the ledger's own error, if any, comes first
                return self._failed(key, attempts, error), None
            at = self.clock()
            late = at - due > LATE_AFTER and key.kind != Kind.CHANGED
            ticket = self._marks.submit(
                Mark.sent(key, at, late=late, receipt=receipt.id or receipt.detail)
            )
            if held:  # the slot is free again once the outcome is on record
                held = False
                ticket.then(slots.give)
                if slots.wanted:  # another lane waits for it: write now, in this thread
                    with contextlib.suppress(Exception):  # raised again by ticket.wait()
                        ticket.wait()
        finally:
            if held:  # not sent, or its failure is on record (or could not be)
                slots.give()
        self.metrics.reminder("late" if late else "sent")
        self.metrics.sent(self._subscription(key.subscription).notifier)
        return None, ticket

    def _slots_of(self, notifier: Notifier) -> _Slots:
        found = self._slots.get(notifier.name)
        if found is None:
            found = self._slots.setdefault(notifier.name, _Slots(notifier.in_flight))
        return found

    def _failed(self, key: Key, attempts: int, error: Exception) -> str | None:
        """Record a failed send of *key* (blocking); the error text if it may be retried.

        A :class:`TransientError` is retried after :func:`backoff` (or the
        server's Retry-After), any other :class:`DeliveryError` is final, and an
        unexpected exception (a backend bug) is logged and retried like a
        transient one: it must not stop the fan-out.
        """
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, TransientError):
            retry = None
            if attempts < MAX_ATTEMPTS:
                retry = self.clock() + backoff(attempts, error.retry_after)
            self._mark_failed_blocking(key, text, retry)
            return str(error)
        if isinstance(error, DeliveryError):
            self._mark_failed_blocking(key, text, None)
            return None
        log.error("delivery %s -> %s: unexpected error", key.uid, self._who(key), exc_info=error)
        retry = self.clock() + backoff(attempts) if attempts < MAX_ATTEMPTS else None
        self._mark_failed_blocking(key, text[:500], retry)
        return str(error)

    def _send_and_record(
        self, notifier: Notifier, message: Message, key: Key, due: dt.datetime
    ) -> tuple[Receipt, bool]:
        """In a worker thread: send, then wait until the outcome is committed.

        The time between the server's acceptance and the committed mark is the
        only time a ``kill -9`` repeats a message; here it holds no trip through
        the event loop. Returns the receipt and whether it went out late.
        """
        receipt = notifier.send(message, key.target, key="/".join(map(str, key)))
        at = self.clock()
        late = at - due > LATE_AFTER and key.kind != Kind.CHANGED
        try:
            self._marks.record_blocking(
                Mark.sent(key, at, late=late, receipt=receipt.id or receipt.detail)
            )
        except Exception as error:
            raise _Unrecorded(error) from error
        return receipt, late

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
        await asyncio.to_thread(self._mark_failed_blocking, key, error, retry)

    def _mark_failed_blocking(self, key: Key, error: str, retry: dt.datetime | None) -> None:
        now = self.clock()
        self._marks.record_blocking(Mark.failed(key, now, error, retry_at=retry))
        self.metrics.reminder("retried" if retry else "failed")
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


class _Unrecorded(Exception):
    """A message went out but its outcome could not be recorded (the ledger's error)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Slots:
    """How many more messages of one far end may be on the wire without their outcome on record.

    A lane takes a slot just before a message's body goes out (see
    :meth:`~notifiers.base.Notifier.send_after`) and the slot comes back when
    the outcome is committed, or at once if nothing was delivered. So with more
    connections than slots the extra connections overlap their envelope round
    trips (MAIL, RCPT, DATA), which cost the far end nothing if the process
    dies, and a ``kill -9`` still repeats at most
    :attr:`~notifiers.base.Notifier.in_flight` messages. A lane waiting for a
    slot asks the group commit to write at once (:meth:`GroupCommit.hurry`):
    the marks it waits for are not its own, so nobody would hold their tickets.
    """

    def __init__(self, size: int) -> None:
        self._free = max(1, size)
        self._cond = threading.Condition()
        self.wanted = 0
        """Lanes waiting for a slot now."""

    def take(self, marks: GroupCommit, timeout: float = SLOT_WAIT) -> None:
        """Take a slot, waiting up to *timeout* seconds (then :class:`TimeoutError`)."""
        with self._cond:
            if self._free:
                self._free -= 1
                return
        marks.hurry()
        try:
            with self._cond:
                self.wanted += 1
                try:
                    if not self._cond.wait_for(lambda: self._free > 0, timeout):
                        raise TimeoutError(f"no outcome was recorded for {timeout:g} s")
                finally:
                    self.wanted -= 1
                self._free -= 1
        finally:
            marks.relax()

    def give(self) -> None:
        """Give a slot back."""
        with self._cond:
            self._free += 1
            self._cond.notify()


@dataclass
class _Trouble:
    """Shared by the lanes of one far end: why the rest is not tried (None: all well)."""

    failing: str | None = None
