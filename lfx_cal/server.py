"""``lfx-cal serve``: one process, one event loop — the aiohttp listener and the daemon.

The daemon starts in the application's startup hook (APScheduler's
``AsyncIOScheduler`` needs the running loop) and stops in its cleanup hook:
on SIGTERM or Ctrl-C aiohttp stops accepting requests, in-flight sends finish,
unsent claims are released, then the process exits.

Decisions (bounded waits, honest health):

* The listener opens before any source is polled: the daemon's first polls are
  scheduled, not awaited, so a dead origin cannot keep the service from
  starting.
* ``/healthz`` reads only the daemon's in-memory :class:`~scheduler.daemon.Health`
  (no database query, no worker thread): it answers while everything else is
  stuck. It is ``degraded`` with HTTP 503 and a list of ``reasons`` when a poll
  failed or is stuck past its deadline, the database takes no writes, or
  deliveries are overdue; ``ok``/200 otherwise. No reason contains a secret
  (sources are shown in their public form).
* Connections: ``keepalive_timeout`` (:data:`IDLE_TIMEOUT`) closes a connection
  that has not sent a complete request in that time — idle keep-alive and
  half-sent headers alike — and at most :func:`connection_cap` connections are
  kept open (over it the oldest idle one is closed), so idle sockets cannot use
  up the process's file descriptors or lock out ``/healthz``; the listen backlog
  (one accept burst) is :data:`BACKLOG`. Malformed requests and failed accepts
  are logged as one short line a minute, not a traceback each.
* SIGTERM: the site gets :data:`SHUTDOWN_GRACE` seconds, the daemon 10; a
  watchdog ends the process after :data:`HARD_STOP` seconds whatever a far end
  does (notifier and poll threads are daemon threads and never block exit).
* Links in messages use ``[service] public_url``; without it they point at the
  listen address, with a warning when that is a wildcard or loopback address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from feeds.public import redact_library_logs
from lfx_cal.web.routes import add_routes
from notifiers import create
from scheduler.config import Config
from scheduler.daemon import Daemon, utcnow
from scheduler.metrics import Metrics
from scheduler.snapshot import Snapshot
from scheduler.store import Store

log = logging.getLogger("lfx_cal.server")
DAEMON: web.AppKey[Daemon] = web.AppKey("daemon", Daemon)
IDLE_TIMEOUT = 15.0
"""Seconds a connection may stay open without a complete request (idle or half-sent)."""
SHUTDOWN_GRACE = 3.0
"""Seconds in-flight HTTP requests get on shutdown."""
HARD_STOP = 18.0
"""Seconds after SIGTERM when the process exits whatever is still running."""
MAX_CONNECTIONS = 512


class State:
    """What the web routes read: the daemon's current snapshot and its metrics."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.metrics: Metrics = daemon.metrics

    @property
    def snapshot(self) -> Snapshot:
        """The timelines being served right now."""
        return self.daemon.snapshot


async def healthz(request: web.Request) -> web.Response:
    """200 ``ok`` when all is well; 503 ``degraded`` (with reasons) or ``stopped``."""
    daemon = request.app[DAEMON]
    health = daemon.health
    now = time.monotonic()
    sources: dict[str, dict[str, Any]] = {
        name: {
            "last_success": state.last_success,
            "last_error": state.last_error,
            "failures": state.failures,
            "polling_for": None if state.started is None else round(now - state.started),
        }
        for name, state in sorted(health.sources.items())
    }
    running = daemon.scheduler.running
    reasons = health.problems(now) if running else ["scheduler not running"]
    attention = daemon.attention()
    for name, sentences in attention.items():
        if name in sources:
            sources[name]["attention"] = list(sentences)
    body = {
        "status": "stopped" if not running else "degraded" if reasons else "ok",
        "reasons": reasons,
        "attention": [
            f"source {name}: {text}" for name, found in attention.items() for text in found
        ],
        "jobs": len(daemon.jobs()),
        "sources": sources,
        "overdue": health.overdue,
    }
    return web.json_response(body, status=200 if not reasons else 503)


def feed_url_of(config: Config) -> str:
    """The address of the ``all`` feed used in messages: ``public_url`` or the listen address."""
    public = config.service.public_url
    if public:
        return public.rstrip("/") + "/feeds/all.ics"
    return f"http://{config.service.listen}/feeds/all.ics"


def private_listen(listen: str) -> bool:
    """True when links to *listen* would only work on this host (wildcard or loopback)."""
    host = listen.rpartition(":")[0].strip("[]")
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


BACKLOG = 32
"""Listen backlog, which is also how many connections asyncio accepts in one burst."""
RESERVED_FILES = 64
"""File descriptors left for the database, polls, logs and one accept burst."""


def connection_cap() -> int:
    """Connections kept open at once: what the file-descriptor limit leaves, at most 512.

    asyncio accepts up to :data:`BACKLOG` connections in a burst before any of
    them is seen here, so the cap leaves room for a burst as well.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_CONNECTIONS
    return max(8, min(MAX_CONNECTIONS, (soft - RESERVED_FILES) // 2))


class _QuietMalformed(logging.Filter):
    """Turn aiohttp's traceback per malformed request into one line a minute."""

    def __init__(self) -> None:
        super().__init__()
        self.last = 0.0
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        from aiohttp.http_exceptions import HttpProcessingError

        if not isinstance(error, HttpProcessingError | ConnectionError):
            return True
        now = time.monotonic()
        if now - self.last < 60:
            self.dropped += 1
            return False
        summary = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        record.msg = "malformed request: %s (%d more since the last report)"
        record.args = (summary[:200], self.dropped)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        self.last, self.dropped = now, 0
        return True


class _QuietAcceptErrors(logging.Filter):
    """asyncio logs a traceback for every failed accept(): keep one line a minute."""

    def __init__(self) -> None:
        super().__init__()
        self.last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if "accept() out of system resource" not in str(record.msg):
            return True
        now = time.monotonic()
        if now - self.last < 60:
            return False
        self.last = now
        record.msg, record.args = "accept() failed: too many open files; connections refused", None
        record.exc_info, record.exc_text = None, None
        return True


def make_app(
    config: Config,
    *,
    feed_url: str | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> web.Application:
    """Build the application: routes plus a daemon that lives as long as the app.

    *clock* (tests) replaces the daemon's and the self-service parts' clock.
    """
    from lfx_cal import selfservice

    store = Store(config.service.database)
    names = {s.notifier for s in config.subscriptions} | selfservice.backends(config)
    notifiers = {name: create(name, config.notifiers.get(name, {})) for name in names}
    now = clock or utcnow
    daemon = Daemon(config, store, notifiers, feed_url=feed_url, clock=now)
    app = web.Application()
    app[DAEMON] = daemon
    app.router.add_get("/healthz", healthz)
    parts = selfservice.build(app, config, daemon, notifiers, clock=now)
    add_routes(app, State(daemon), base_url=config.service.public_url or None, signup=parts.form)

    async def lifespan(_app: web.Application) -> AsyncIterator[None]:
        await parts.start()
        await daemon.start(poll_first=False)
        yield
        await daemon.stop()
        await parts.stop()
        for notifier in notifiers.values():
            notifier.close()
        store.close()

    app.cleanup_ctx.append(lifespan)
    return app


def _cap_connections(runner: web.AppRunner, cap: int) -> None:
    """Keep at most *cap* connections: over it, the oldest idle one makes room.

    Closing the newcomer instead would let a few hundred idle sockets lock out
    ``/healthz`` until they time out. "Idle" is aiohttp's own
    ``_request_in_progress`` flag; if a future aiohttp lacks it, the newcomer
    is refused instead.
    """
    server = runner.server
    assert server is not None
    accept = server.connection_made

    def connection_made(handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        accept(handler, transport)
        if len(server.connections) <= cap:
            return
        for other in server.connections:  # oldest first
            busy = getattr(other, "_request_in_progress", True)
            if other is not handler and busy is False and other.transport is not None:
                other.force_close()
                return
        transport.close()  # every other connection is busy: refuse this one

    server.connection_made = connection_made  # type: ignore[method-assign]


async def run(config: Config, *, banner: str = "", ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT; a second signal during shutdown is ignored."""
    host, _, port = config.service.listen.rpartition(":")
    if not config.service.public_url and private_listen(config.service.listen):
        log.warning(
            "links in messages will point at http://%s/, which works only on this host;"
            " set [service] public_url to the address people use",
            config.service.listen,
        )
    runner = web.AppRunner(
        make_app(config, feed_url=feed_url_of(config)),
        handle_signals=False,
        keepalive_timeout=IDLE_TIMEOUT,
        shutdown_timeout=SHUTDOWN_GRACE,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.setup()
        _cap_connections(runner, connection_cap())
        site = web.TCPSite(runner, host.strip("[]"), int(port), backlog=BACKLOG)
        await site.start()
        print(f"lfx-cal: listening on http://{config.service.listen}/", flush=True)
        if banner:
            print(banner, flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping: finishing in-flight sends")
        _watchdog(HARD_STOP)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _watchdog(seconds: float) -> None:
    """End the process after *seconds* if an orderly stop has not finished by then."""

    def expire() -> None:
        log.error("stop took longer than %.0f s; exiting now", seconds)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def serve(config: Config, *, banner: str = "") -> None:
    """Configure logging and run the service until a signal."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # a proxy logs access
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per poll, with URL
    logging.getLogger("aiohttp.server").addFilter(_QuietMalformed())
    logging.getLogger("asyncio").addFilter(_QuietAcceptErrors())
    redact_library_logs("httpx", "httpcore")
    asyncio.run(run(config, banner=banner))
