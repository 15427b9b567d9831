"""The reminder daemon: APScheduler jobs over the plan, the ledger as the truth.

APScheduler (``AsyncIOScheduler``, in-memory job store) only decides *when* to
look; what has been sent lives in the database ledger. Each job is one
(event, lead) pair with a deterministic id; when it fires it fans out to every
subscriber target, and each delivery is claimed atomically before it is sent and
marked after. That makes a second daemon on the same PostgreSQL, a restart after
``kill -9`` or a re-plan harmless: a claimed or sent key is never sent again.

Every wait is bounded (decisions):

* Polls run in the daemon's own small pool of daemon threads (never asyncio's
  default pool), one at a time per source. A poll gets its source's
  ``fetch_deadline`` plus :data:`PARSE_BUDGET`; one that overruns is reported
  (``/healthz`` says which source is stuck and for how long), later polls of that
  source are skipped until it ends, and its late result is discarded.
* ``start(poll_first=False)`` (what ``serve`` uses) schedules the first polls
  instead of awaiting them, so the HTTP listener is open before any far end is
  asked anything.
* A probe every :data:`SWEEP` writes one row and counts overdue deliveries;
  ``/healthz`` reads only this in-memory :class:`Health`, never the database,
  so it needs no worker thread and answers while everything else is stuck.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feeds.attention import attention
from feeds.meaning import reminder_instant
from feeds.merge import distinct_uids
from feeds.model import Event, Timeline
from feeds.public import redact
from feeds.zones import zone as get_zone
from notifiers import Notifier
from notifiers.workers import Workers
from scheduler.changes import Diff
from scheduler.config import Config, Source, Subscription
from scheduler.delivery import Courier
from scheduler.ledger_base import Kind, Move
from scheduler.metrics import Metrics
from scheduler.plan import Job, change_keys, jobs_for, what
from scheduler.poll import PollResult, describe, poll
from scheduler.schema import stamp
from scheduler.snapshot import Snapshot, build_snapshot
from scheduler.store import Store

log = logging.getLogger("lfx_cal.daemon")
SWEEP = dt.timedelta(seconds=15)
"""How often retries and deliveries left by a dead process are picked up."""
PARSE_BUDGET = 30.0
"""Seconds a poll may spend beyond its fetch deadline (reading, parsing, comparing)."""
OVERDUE = dt.timedelta(minutes=10)
"""A delivery claimable for longer than this and still not done makes ``/healthz`` degraded."""
PROBE_STALE = 4 * SWEEP.total_seconds()
"""Seconds without a successful database probe before ``/healthz`` calls it unwritable."""


@dataclass
class SourceHealth:
    """What ``/healthz`` says about one source (kept in memory by the daemon)."""

    last_success: str | None = None
    last_error: str | None = None
    failures: int = 0
    started: float | None = None
    """``time.monotonic()`` when the poll in flight began, None when none is."""
    limit: float = 0.0
    """Seconds the poll in flight may take."""
    future: concurrent.futures.Future[PollResult] | None = None


@dataclass
class Health:
    """The daemon's own view of its health, readable without a thread or the database."""

    sources: dict[str, SourceHealth] = field(default_factory=dict)
    probed: float | None = None
    """``time.monotonic()`` of the last successful database write probe."""
    probe_error: str | None = None
    overdue: int = 0

    def problems(self, now: float | None = None) -> list[str]:
        """Why the service is degraded, one short reason each (empty when healthy)."""
        now = time.monotonic() if now is None else now
        reasons: list[str] = []
        for name, state in sorted(self.sources.items()):
            running = state.future is not None and not state.future.done()
            if running and state.started is not None and now - state.started > state.limit:
                reasons.append(f"source {name}: poll stuck for {now - state.started:.0f} s")
            elif state.last_error:
                reasons.append(f"source {name}: last poll failed")
        if self.probe_error:
            reasons.append(f"database: {self.probe_error}")
        elif self.probed is not None and now - self.probed > PROBE_STALE:
            reasons.append(f"database: no successful write for {now - self.probed:.0f} s")
        if self.overdue:
            reasons.append(f"deliveries: {self.overdue} overdue")
        return reasons


def utcnow() -> dt.datetime:
    """The current instant, UTC, whole seconds."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Daemon:
    """Polls sources, keeps the job plan in step with them and delivers reminders."""

    def __init__(
        self,
        config: Config,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        feed_url: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.zone = get_zone(config.service.timezone)
        self.rules = config.service.rules
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{utcnow():%H%M%S}"
        """The name this daemon claims deliveries under (host, process and start by default)."""
        self.timelines: dict[str, Timeline] = {}
        self.events: dict[str, Event] = {}
        self.snapshot: Snapshot = build_snapshot((), {}, config.service.timezone)
        self.courier = Courier(
            store,
            notifiers,
            subscriptions=config.subscriptions,
            service=config.service,
            clock=clock,
            owner=self.owner,
            metrics=self.metrics,
            feed_url=feed_url,
        )
        self.metrics.watch(store.backlog, clock)
        self.scheduler = AsyncIOScheduler(
            timezone=dt.UTC,
            job_defaults={
                "misfire_grace_time": int(config.service.misfire_grace.total_seconds()) or 1,
                "coalesce": True,
                "max_instances": 1,
            },
        )
        self._planned: dict[str, Job] = {}
        self._subscribers: tuple[Subscription, ...] = ()
        self._fired: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.health = Health({s.name: SourceHealth() for s in config.sources})
        self.overdue_after = OVERDUE
        self._polls = Workers("poll", max(1, min(4, len(config.sources))))
        self._probe = Workers("probe", 1)
        self._probing: concurrent.futures.Future[int] | None = None

    # -- life cycle -------------------------------------------------------------------
    async def start(self, *, poll_first: bool = True) -> None:
        """Load the last good versions, start the scheduler, poll every source once.

        With *poll_first* false the first polls are scheduled to run at once
        instead of being awaited (``serve`` opens its listener first).
        """
        await asyncio.to_thread(self.store.hold, self.owner)  # alive before claiming anything
        released = await asyncio.to_thread(self.store.recover, self.owner, self.clock())
        if released:
            log.warning("released %d deliveries claimed by a previous run", released)
        for source in self.config.sources:
            last = await asyncio.to_thread(self.store.last_good, source.name)
            if last is not None:
                self.timelines[source.name] = last[1]
        for status in await asyncio.to_thread(self.store.source_status):
            if status.source in self.health.sources:
                state = self.health.sources[status.source]
                state.last_success, state.failures = status.last_success, status.failures
                state.last_error = redact(status.last_error) if status.last_error else None
        await self.probe()
        self.scheduler.start()
        for source in self.config.sources:
            if poll_first:
                await self.poll(source)
            self.scheduler.add_job(
                self._spawn,
                IntervalTrigger(seconds=source.poll.total_seconds(), timezone=dt.UTC),
                args=["poll", source.name],
                id=f"poll|{source.name}",
                replace_existing=True,
                **({} if poll_first else {"next_run_time": dt.datetime.now(dt.UTC)}),
            )
        for periodic in ("sweep", "probe"):
            self.scheduler.add_job(
                self._spawn,
                IntervalTrigger(seconds=SWEEP.total_seconds(), timezone=dt.UTC),
                args=[periodic, ""],
                id=periodic,
                replace_existing=True,
            )
        await self.refresh()

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: stop scheduling, let in-flight sends finish, release what was not sent.

        In-flight work gets *timeout* seconds; whatever is still waiting on a far
        end then is cancelled (its thread is a daemon thread and is abandoned).
        """
        self.courier.stop()
        if self.scheduler.running:
            self.scheduler.pause()  # no new jobs; shutdown would cancel the running ones
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        await self.courier.settle(timeout / 2)  # outcomes of sends that did finish
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # cancels what is still stuck on a far end
        self._polls.shutdown(wait=False, cancel_futures=True)
        self._probe.shutdown(wait=False, cancel_futures=True)
        try:
            released = await asyncio.wait_for(
                asyncio.to_thread(self.store.release, self.owner, at=self.clock()),
                timeout=timeout / 2,
            )
        except (TimeoutError, Exception) as error:  # leases expire anyway
            log.warning("could not release claims on stop: %s", describe(error))
            return
        if released:
            log.info("released %d claimed deliveries for the next run", released)

    def subscriptions(self) -> tuple[Subscription, ...]:
        """The configured subscriptions, then the self-service ones (:meth:`set_subscribers`)."""
        return self.config.subscriptions + self._subscribers

    def set_subscribers(self, subscribers: Sequence[Subscription]) -> None:
        """Make *subscribers* (people who subscribed themselves) the current ones, and re-plan.

        Called at start and whenever someone subscribes, changes or leaves; what
        they no longer want is already gone from the ledger.
        """
        self._subscribers = tuple(subscribers)
        self.courier.subscribe(self.subscriptions())
        if self.scheduler.running:
            self.replan()

    def attention(self) -> dict[str, tuple[str, ...]]:
        """Per source, what an operator must hear (all events past, years against weekdays).

        See :func:`feeds.attention.attention`; cheap enough for ``/healthz``.
        """
        now, zone = self.clock(), self.config.service.timezone
        found = {name: attention(t, now, zone) for name, t in self.timelines.items()}
        return {name: sentences for name, sentences in found.items() if sentences}

    def jobs(self) -> list[str]:
        """Ids of the scheduled reminder jobs (poll and sweep jobs excluded)."""
        return [
            j.id
            for j in self.scheduler.get_jobs()
            if j.id.startswith((Kind.REMINDER, Kind.OPENING, Kind.TODAY))
        ]

    # -- jobs -------------------------------------------------------------------------
    async def _spawn(self, what: str, arg: str) -> None:
        """A job body, tracked so that shutdown can wait for it (runs on the loop)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._run(what, arg)
        except asyncio.CancelledError:
            if not self.courier.stopping:
                raise
            log.info(
                "%s %s: still waiting on a far end at stop; its claims are released", what, arg
            )
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _run(self, what: str, arg: str) -> None:
        try:
            if what == "poll":
                source = next(s for s in self.config.sources if s.name == arg)
                await self.poll(source)
            elif what == "sweep":
                await self.courier.sweep()
            elif what == "probe":
                await self.probe()
            else:
                self._fired.add(arg)
                job = self._planned.get(arg)
                if job is not None:
                    await self.courier.fire(job)
        except Exception:  # a job must never kill the daemon; the ledger keeps the state
            log.exception("%s %s failed", what, arg)

    async def probe(self) -> None:
        """Write one row and count overdue deliveries; the result feeds ``/healthz``."""
        health = self.health
        if self._probing is not None and not self._probing.done():
            return  # still stuck: /healthz reports the probe as stale
        future = self._probe.submit(self.store.probe, self.owner, self.clock(), self.overdue_after)
        self._probing = future
        try:
            health.overdue = await asyncio.wait_for(asyncio.wrap_future(future), PROBE_STALE)
        except TimeoutError:
            health.probe_error = f"write probe took longer than {PROBE_STALE:g} s"
            return
        except Exception as error:  # any failure means "cannot write"
            problem = f"cannot write ({describe(error)[:160]})"
            if health.probe_error != problem:
                log.warning("database health probe failed: %s", problem)
            health.probe_error = problem
            return
        health.probe_error, health.probed = None, time.monotonic()

    async def poll(self, source: Source) -> PollResult:
        """Poll one source and, when its dates changed, alert and re-plan."""
        state = self.health.sources.setdefault(source.name, SourceHealth())
        if state.future is not None and not state.future.done():
            stuck = time.monotonic() - (state.started or time.monotonic())
            log.warning(
                "source %s: the previous poll is still running (%.0f s)", source.name, stuck
            )
            return PollResult(source.name, self.timelines.get(source.name), Diff(), error="busy")
        now = self.clock()
        budget = source.fetch_deadline.total_seconds() + PARSE_BUDGET
        peers = tuple(t for name, t in self.timelines.items() if name != source.name)
        future = self._polls.submit(
            poll, source, self.store, self.config.service.timezone, now, budget=budget, peers=peers
        )
        state.future, state.started, state.limit = future, time.monotonic(), budget + 5.0
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), state.limit)
        except TimeoutError:
            result = PollResult(
                source.name,
                self.timelines.get(source.name),
                Diff(),
                error=f"poll did not finish within {state.limit:g} s",
            )
            self.metrics.fetch_failures.labels(source.name).inc()
            state.last_error, state.failures = result.error, state.failures + 1
            log.warning("source %s: %s", source.name, result.error)
            return result
        except Exception as error:  # e.g. the store could not record it
            result = PollResult(
                source.name, self.timelines.get(source.name), Diff(), error=describe(error)
            )
        state.started = None
        if result.error:
            self.metrics.fetch_failures.labels(source.name).inc()
            state.last_error, state.failures = redact(result.error), state.failures + 1
            log.warning("source %s: %s", source.name, redact(result.error))
        else:
            self.metrics.last_poll.labels(source.name).set(now.timestamp())
            state.last_error, state.failures, state.last_success = None, 0, stamp(now)
        if result.timeline is not None:
            self.timelines[source.name] = result.timeline
        if result.diff and not result.first:
            await self._alert(result)
        changes = result.diff
        if changes or result.first or changes.renamed or changes.split or changes.merged:
            await self.refresh()
        return result

    async def _alert(self, result: PollResult) -> None:
        """Cancel reminders for dates that are gone, then tell subscribers what moved.

        The cancellations are awaited (they are the ledger's truth); the alerts
        are sent by a task of their own, so a far end that hangs (an SMTP server
        that stops answering) never holds up the polls that follow.
        """
        subscriptions, changes, now = self.subscriptions(), result.diff, self.clock()
        for _, new in changes.moved:
            keep = reminder_instant(new, self.rules)
            await asyncio.to_thread(self.store.cancel, new.uid, keep, now)
        for event in changes.removed:
            await asyncio.to_thread(self.store.cancel, event.uid, None, now)

        async def send() -> None:
            for old, new in changes.moved:
                await self.courier.alert(new, old, change_keys(new, what(old, new), subscriptions))
            for event in changes.added:
                keys = change_keys(event, what(None, event), subscriptions)
                await self.courier.alert(event, None, keys)
            for event in changes.removed:
                keys = change_keys(event, what(event, None), subscriptions)
                await self.courier.alert(event, event, keys, removed=True)

        task = asyncio.create_task(self._spawn_coroutine("alert", result.source, send()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn_coroutine(self, what: str, arg: str, work: Awaitable[None]) -> None:
        """Run *work* like a job body: a failure is logged, a stop may cancel it."""
        try:
            await work
        except asyncio.CancelledError:
            if not self.courier.stopping:
                raise
            log.info("%s %s: still waiting on a far end at stop", what, arg)
        except Exception:  # one failed alert must not stop the daemon
            log.exception("%s %s failed", what, arg)

    async def refresh(self) -> None:
        """Rebuild the event index, the feed snapshot and the job plan."""
        # Sources whose UIDs collide (two documents of one term) are told apart, in
        # configuration order, so no event hides another (feeds.merge).
        timelines = distinct_uids(
            [self.timelines[s.name] for s in self.config.sources if s.name in self.timelines]
        )
        self.events = {e.uid: e for t in timelines for e in t.events}
        self.courier.know(self.events)
        revisions = await asyncio.to_thread(self.store.revisions)
        changes = await asyncio.to_thread(self.store.changes)
        snapshot = await asyncio.to_thread(  # serializes every timeline: not on the loop
            build_snapshot,
            timelines,
            revisions,
            self.config.service.timezone,
            self.snapshot.modified,
            self.rules,
            changes,
        )
        if snapshot.version != self.snapshot.version:  # Last-Modified moves with the content
            snapshot = snapshot._replace(modified=self.clock())
        self.snapshot = snapshot
        await self.carry_over()
        self.replan()

    def plan(self) -> list[Job]:
        """The jobs the current events and subscriptions call for (nothing is scheduled)."""
        after = self.clock() - self.config.service.misfire_grace
        return jobs_for(self.events.values(), self.subscriptions(), self.rules, after=after)

    async def carry_over(self) -> None:
        """Reminders keyed by another instant of the same written day are the same reminder.

        Earlier versions keyed a date-only close by the start of its day; the
        ledger rows they wrote (before this model first ran on the store) are
        re-keyed here before any job can fire, so a reminder sent before an
        upgrade is not sent again (see :func:`scheduler.ledger.carry_over`).
        """
        moves = [
            Move(job.kind, job.uid, job.lead, job.instant, old)
            for job in self.plan()
            if (old := job.legacy) is not None
        ]
        cancelled, carried = await asyncio.to_thread(self.store.carry_over, moves, self.clock())
        if cancelled or carried:
            log.info(
                "re-planned: %d pending reminders re-keyed, %d already sent", cancelled, carried
            )

    def replan(self) -> None:
        """Make the scheduled jobs exactly the plan: add new ones, drop stale ones."""
        now = self.clock()
        plan = self.plan()
        self._planned = {job.id: job for job in plan}
        for job_id in self.jobs():
            if job_id not in self._planned:
                self.scheduler.remove_job(job_id)
        for job in plan:
            if job.id in self._fired or self.scheduler.get_job(job.id) is not None:
                continue
            self.scheduler.add_job(
                self._spawn,
                DateTrigger(max(job.due, now), timezone=dt.UTC),
                args=["fire", job.id],
                id=job.id,
                replace_existing=True,
            )
