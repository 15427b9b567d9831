"""Prometheus metrics of one daemon, in its own registry (never the global one).

Besides counters, ``/metrics`` shows the delivery backlog as the ledger has it
when scraped (:class:`LedgerCollector`: rows due and not yet done, and how long
the oldest has been due) and each notifier's send rate over the last
:data:`RATE_WINDOW` seconds (``lfxcal_notifier_send_rate``) next to its
``lfxcal_notifier_sends_total`` counter, so a fan-out in progress and a far end
that stopped taking messages both show without a Prometheus server's ``rate()``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scheduler.ledger_base import Backlog

RATE_WINDOW = 10.0
"""Seconds over which ``lfxcal_notifier_send_rate`` is averaged."""


class LedgerCollector(Collector):
    """Reads the ledger's backlog at each scrape (one indexed query)."""

    def __init__(
        self, backlog: Callable[[dt.datetime], Backlog], clock: Callable[[], dt.datetime]
    ) -> None:
        self._backlog = backlog
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The backlog gauges; nothing when the ledger cannot be read (the probe reports it)."""
        now = self._clock()
        try:
            found = self._backlog(now)
        except Exception:  # a scrape must not fail because the database is away
            return
        yield GaugeMetricFamily(
            "lfxcal_delivery_backlog",
            "Deliveries due and not yet sent (pending or claimed).",
            value=found.rows,
        )
        age = 0.0 if found.oldest_due is None else (now - found.oldest_due).total_seconds()
        yield GaugeMetricFamily(
            "lfxcal_delivery_oldest_due_age_seconds",
            "How long the oldest delivery still to send has been due (0: none).",
            value=max(age, 0.0),
        )


class SendRate:
    """Sends per notifier in the last :data:`RATE_WINDOW` seconds (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}

    def add(self, notifier: str) -> None:
        """Count one send by *notifier* now."""
        now = self._clock()
        with self._lock:
            times = self._times.setdefault(notifier, deque())
            times.append(now)
            self._trim(times, now)

    def rates(self) -> dict[str, float]:
        """Sends per second over the window, per notifier that sent in it."""
        now = self._clock()
        with self._lock:
            for times in self._times.values():
                self._trim(times, now)
            return {name: len(times) / RATE_WINDOW for name, times in self._times.items()}

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and times[0] < now - RATE_WINDOW:
            times.popleft()


class _RateCollector(Collector):
    def __init__(self, rate: SendRate) -> None:
        self._rate = rate

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "lfxcal_notifier_send_rate",
            f"Messages sent per second by each notifier, over the last {RATE_WINDOW:g} s.",
            labels=["notifier"],
        )
        for name, value in sorted(self._rate.rates().items()):
            family.add_metric([name], value)
        yield family


class Metrics:
    """Counters and gauges exposed at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.feed_requests = Counter(
            "lfxcal_feed_requests",
            "Feed and API requests served, by feed name and HTTP status.",
            ["feed", "status"],
            registry=self.registry,
        )
        self.reminders = Counter(
            "lfxcal_reminders",
            "Reminder deliveries by outcome (sent, late, failed, retried, skipped).",
            ["outcome"],
            registry=self.registry,
        )
        self.notifier_sends = Counter(
            "lfxcal_notifier_sends",
            "Messages delivered, per notifier (rate() of it is the send rate).",
            ["notifier"],
            registry=self.registry,
        )
        self.send_rate = SendRate()
        self.registry.register(_RateCollector(self.send_rate))
        self.fetch_failures = Counter(
            "lfxcal_source_fetch_failures",
            "Failed polls of a source (unreachable, HTML page, no timeline, lost rows).",
            ["source"],
            registry=self.registry,
        )
        self.last_poll = Gauge(
            "lfxcal_source_last_success_seconds",
            "Unix time of the last successful poll of a source.",
            ["source"],
            registry=self.registry,
        )
        self._ledger: LedgerCollector | None = None
        self._children: dict[tuple[int, str], Any] = {}

    def _child(self, counter: Counter, label: str) -> Any:
        """*counter*'s child for *label*, looked up once (a fan-out counts every message)."""
        key = (id(counter), label)  # the counters live as long as this object
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, counter.labels(label))
        return child

    def sent(self, notifier: str) -> None:
        """Count one message delivered by *notifier*."""
        self._child(self.notifier_sends, notifier).inc()
        self.send_rate.add(notifier)

    def reminder(self, outcome: str) -> None:
        """Count one delivery by *outcome* (sent, late, failed, retried, skipped)."""
        self._child(self.reminders, outcome).inc()

    def watch(
        self, backlog: Callable[[dt.datetime], Backlog], clock: Callable[[], dt.datetime]
    ) -> None:
        """Report the ledger's backlog (``backlog(now)``) at every scrape."""
        if self._ledger is None:
            self._ledger = LedgerCollector(backlog, clock)
            self.registry.register(self._ledger)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (may read the ledger: not on a loop)."""
        return generate_latest(self.registry)
