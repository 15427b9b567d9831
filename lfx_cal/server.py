"""``lfx-cal serve``: one process, one event loop — the aiohttp listener and the daemon.

The daemon starts in the application's startup hook (APScheduler's
``AsyncIOScheduler`` needs the running loop) and stops in its cleanup hook:
on SIGTERM or Ctrl-C aiohttp stops accepting requests, in-flight sends finish,
unsent claims are released, then the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from lfx_cal.web.routes import add_routes
from notifiers import create
from scheduler.config import Config
from scheduler.daemon import Daemon
from scheduler.metrics import Metrics
from scheduler.snapshot import Snapshot
from scheduler.store import Store

log = logging.getLogger("lfx_cal.server")
DAEMON: web.AppKey[Daemon] = web.AppKey("daemon", Daemon)


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
    """200 while the scheduler runs (``degraded`` when a source is failing), else 503."""
    daemon = request.app[DAEMON]
    statuses = await asyncio.to_thread(daemon.store.source_status)
    sources = {
        s.source: {
            "last_success": s.last_success,
            "last_error": s.last_error,
            "failures": s.failures,
        }
        for s in statuses
    }
    running = daemon.scheduler.running
    failing = any(s.failures for s in statuses)
    body = {
        "status": "ok" if running and not failing else "degraded" if running else "stopped",
        "jobs": len(daemon.jobs()),
        "sources": sources,
    }
    return web.json_response(body, status=200 if running else 503)


def make_app(config: Config, *, feed_url: str | None = None) -> web.Application:
    """Build the application: routes plus a daemon that lives as long as the app."""
    store = Store(config.service.database)
    names = {s.notifier for s in config.subscriptions}
    notifiers = {name: create(name, config.notifiers.get(name, {})) for name in names}
    daemon = Daemon(config, store, notifiers, feed_url=feed_url)
    app = web.Application()
    app[DAEMON] = daemon
    app.router.add_get("/healthz", healthz)
    add_routes(app, State(daemon))

    async def lifespan(_app: web.Application) -> AsyncIterator[None]:
        await daemon.start()
        yield
        await daemon.stop()
        for notifier in notifiers.values():
            notifier.close()
        store.close()

    app.cleanup_ctx.append(lifespan)
    return app


async def run(config: Config, *, banner: str = "", ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT; a second signal during shutdown is ignored."""
    host, _, port = config.service.listen.rpartition(":")
    feed_url = f"http://{config.service.listen}/feeds/all.ics"
    runner = web.AppRunner(make_app(config, feed_url=feed_url), handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, host.strip("[]"), int(port), shutdown_timeout=10)
        await site.start()
        print(f"lfx-cal: listening on http://{config.service.listen}/", flush=True)
        if banner:
            print(banner, flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping: finishing in-flight sends")
    finally:
        await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def serve(config: Config, *, banner: str = "") -> None:
    """Configure logging and run the service until a signal."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # a proxy logs access
    asyncio.run(run(config, banner=banner))
