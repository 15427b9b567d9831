"""Prometheus metrics of one daemon, in its own registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


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

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
