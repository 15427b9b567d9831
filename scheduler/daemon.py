"""The reminder daemon: APScheduler jobs over the plan, the ledger as the truth.

APScheduler (``AsyncIOScheduler``, in-memory job store) only decides *when* to
look; what has been sent lives in the database ledger. Each job is one
(event, lead) pair with a deterministic id; when it fires it fans out to every
subscriber target, and each delivery is claimed atomically before it is sent and
marked after. That makes a second daemon on the same PostgreSQL, a restart after
``kill -9`` or a re-plan harmless: a claimed or sent key is never sent again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feeds.meaning import reminder_instant
from feeds.model import Event, Timeline
from feeds.zones import zone as get_zone
from notifiers import Notifier
from scheduler.config import Config, Source
from scheduler.delivery import Courier
from scheduler.metrics import Metrics
from scheduler.plan import OPENING, REMINDER, TODAY, Job, change_keys, jobs_for, what
from scheduler.poll import PollResult, poll
from scheduler.schema import stamp
from scheduler.snapshot import Snapshot, build_snapshot
from scheduler.store import Store

log = logging.getLogger("lfx_cal.daemon")
SWEEP = dt.timedelta(seconds=15)
"""How often retries and deliveries left by a dead process are picked up."""


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
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.zone = get_zone(config.service.timezone)
        self.rules = config.service.rules
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{utcnow():%H%M%S}"
        self.timelines: dict[str, Timeline] = {}
        self.events: dict[str, Event] = {}
        self.snapshot: Snapshot = build_snapshot((), {}, config.service.timezone)
        self.courier = Courier(self, notifiers, feed_url=feed_url)
        self.scheduler = AsyncIOScheduler(
            timezone=dt.UTC,
            job_defaults={
                "misfire_grace_time": int(config.service.misfire_grace.total_seconds()) or 1,
                "coalesce": True,
                "max_instances": 1,
            },
        )
        self._planned: dict[str, Job] = {}
        self._fired: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Load the last good versions, start the scheduler, poll every source once."""
        await asyncio.to_thread(self.store.hold, self.owner)  # alive before claiming anything
        if self.store.is_sqlite:  # one process per file: open claims are a crashed run's
            released = await asyncio.to_thread(self.store.release)
        else:  # only the claims of daemons whose presence lock is gone
            released = await asyncio.to_thread(self.store.release_orphans, self.owner)
        if released:
            log.warning("released %d deliveries claimed by a previous run", released)
        for source in self.config.sources:
            last = await asyncio.to_thread(self.store.last_good, source.name)
            if last is not None:
                self.timelines[source.name] = last[1]
        self.scheduler.start()
        for source in self.config.sources:
            await self.poll(source)
            self.scheduler.add_job(
                self._spawn,
                IntervalTrigger(seconds=source.poll.total_seconds(), timezone=dt.UTC),
                args=["poll", source.name],
                id=f"poll|{source.name}",
                replace_existing=True,
            )
        self.scheduler.add_job(
            self._spawn,
            IntervalTrigger(seconds=SWEEP.total_seconds(), timezone=dt.UTC),
            args=["sweep", ""],
            id="sweep",
            replace_existing=True,
        )
        await self.refresh()

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: stop scheduling, let in-flight sends finish, release what was not sent."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.courier.stopping = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        released = await asyncio.to_thread(self.store.release, self.owner)
        if released:
            log.info("released %d claimed deliveries for the next run", released)

    def jobs(self) -> list[str]:
        """Ids of the scheduled reminder jobs (poll and sweep jobs excluded)."""
        return [
            j.id for j in self.scheduler.get_jobs() if j.id.startswith((REMINDER, OPENING, TODAY))
        ]

    # -- jobs -------------------------------------------------------------------------
    async def _spawn(self, what: str, arg: str) -> None:
        """A job body, tracked so that shutdown can wait for it (runs on the loop)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._run(what, arg)
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
            else:
                self._fired.add(arg)
                job = self._planned.get(arg)
                if job is not None:
                    await self.courier.fire(job)
        except Exception:  # a job must never kill the daemon; the ledger keeps the state
            log.exception("%s %s failed", what, arg)

    async def poll(self, source: Source) -> PollResult:
        """Poll one source and, when its dates changed, alert and re-plan."""
        now = self.clock()
        result = await asyncio.to_thread(
            poll, source, self.store, self.config.service.timezone, now
        )
        if result.error:
            self.metrics.fetch_failures.labels(source.name).inc()
            log.warning("source %s: %s", source.name, result.error)
        else:
            self.metrics.last_poll.labels(source.name).set(now.timestamp())
        if result.timeline is not None:
            self.timelines[source.name] = result.timeline
        if result.diff and not result.first:
            await self._alert(result)
        if result.diff or result.first or result.diff.renamed:
            await self.refresh()
        return result

    async def _alert(self, result: PollResult) -> None:
        """Cancel reminders for dates that are gone and tell subscribers what moved."""
        subscriptions, changes, now = self.config.subscriptions, result.diff, self.clock()
        for old, new in changes.moved:
            keep = stamp(reminder_instant(new, self.rules))
            await asyncio.to_thread(self.store.cancel, new.uid, keep, now)
            await self.courier.alert(new, old, change_keys(new, what(old, new), subscriptions))
        for event in changes.added:
            await self.courier.alert(
                event, None, change_keys(event, what(None, event), subscriptions)
            )
        for event in changes.removed:
            await asyncio.to_thread(self.store.cancel, event.uid, None, now)
            keys = change_keys(event, what(event, None), subscriptions)
            await self.courier.alert(event, event, keys, removed=True)

    async def refresh(self) -> None:
        """Rebuild the event index, the feed snapshot and the job plan."""
        self.events = {e.uid: e for t in self.timelines.values() for e in t.events}
        revisions = await asyncio.to_thread(self.store.revisions)
        timelines = [
            self.timelines[s.name] for s in self.config.sources if s.name in self.timelines
        ]
        snapshot = build_snapshot(
            timelines,
            revisions,
            self.config.service.timezone,
            self.snapshot.modified,
            rules=self.rules,
        )
        if snapshot.version != self.snapshot.version:  # Last-Modified moves with the content
            snapshot = snapshot._replace(modified=self.clock())
        self.snapshot = snapshot
        await self.carry_over()
        self.replan()

    def plan(self) -> list[Job]:
        """The jobs the current events and subscriptions call for (nothing is scheduled)."""
        after = self.clock() - self.config.service.misfire_grace
        return jobs_for(self.events.values(), self.config.subscriptions, self.rules, after=after)

    async def carry_over(self) -> None:
        """Reminders keyed by another instant of the same written day are the same reminder.

        Earlier versions keyed a date-only close by the start of its day; the
        ledger rows they wrote (before this model first ran on the store) are
        re-keyed here before any job can fire, so a reminder sent before an
        upgrade is not sent again (see :func:`scheduler.ledger.carry_over`).
        """
        moves = [
            (job.kind, job.uid, int(job.lead.total_seconds()), stamp(job.instant), stamp(old))
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
