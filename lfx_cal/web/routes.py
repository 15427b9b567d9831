"""HTTP routes of the feed server: feeds, the JSON API, metrics and the web page.

``add_routes(app, state)`` attaches them to the daemon's aiohttp application.
``state.snapshot`` is read once per request (the daemon swaps it atomically);
everything a response is built from is cached per ``snapshot.version``, so a
request costs a dictionary lookup and a header comparison.

Feeds, the page and the JSON are rendered off the event loop, in a small pool
of their own; feeds are kept in a cache bounded in bytes
(:data:`~lfx_cal.web.feeds.CACHE_BYTES`); requests for the same response that
arrive while it renders wait for that one rendering. Every response of the app,
errors and 404s included, carries ``X-Content-Type-Options: nosniff`` and a
``Cache-Control``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.metrics import Counter

from feeds.model import Event
from lfx_cal.web.atom import ATOM_TYPE, render_atom
from lfx_cal.web.events import event_files, render_event
from lfx_cal.web.feeds import (
    CACHE_BYTES,
    LRU,
    FeedQuery,
    QueryError,
    Rendered,
    feed_names,
    make_etag,
    parse_query,
    render_feed,
    rendered,
)
from lfx_cal.web.page import Deadline, content_security_policy, deadlines, passed, render_page
from lfx_cal.web.signup_form import SignupForm
from lfx_cal.web.sources import timelines_json
from notifiers.workers import Workers
from scheduler.metrics import Metrics
from scheduler.snapshot import Snapshot

SERVER = "lfx-cal"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
_PLAIN = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class WebState(Protocol):
    """What the routes read from the daemon: the current snapshot and the metrics."""

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot to serve; replaced (never mutated) after each change."""

    @property
    def metrics(self) -> Metrics:
        """The daemon's Prometheus metrics."""


def not_modified(request: web.Request, etag: str, modified: dt.datetime) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    header = request.headers.get("If-None-Match")
    if header is not None:
        if header == etag:
            return True
        tags = request.if_none_match or ()
        return any(tag.value == "*" or f'"{tag.value}"' == etag for tag in tags)
    since = request.if_modified_since
    return since is not None and modified.replace(microsecond=0) <= since


class FeedServer:
    """The handlers and their caches (one instance per application)."""

    def __init__(
        self, state: WebState, base_url: str | None = None, signup: SignupForm | None = None
    ) -> None:
        self.state = state
        self.base_url = base_url
        self.signup = signup
        self.names: LRU[str, dict[str, str]] = LRU(8)
        self.feeds: LRU[tuple[str, FeedQuery], Rendered] = LRU(
            max_bytes=CACHE_BYTES, weigh=lambda item: len(item.body)
        )
        self._rendering: dict[tuple[int, object], asyncio.Future[Rendered]] = {}
        self._renderer = Workers("render", 2)
        self.rows: LRU[str, tuple[Deadline, ...]] = LRU(8)
        self.pages: LRU[tuple[str, int], Rendered] = LRU(16)
        self.api: LRU[str, Rendered] = LRU(8)
        self.event_names: LRU[str, dict[str, Event]] = LRU(8)
        self.events: LRU[tuple[str, str], Rendered] = LRU(256)
        self._counters: dict[tuple[str, int], Counter] = {}
        self._metrics: Metrics | None = None

    def count(self, feed: str, status: int) -> None:
        """Count one request in ``lfxcal_feed_requests`` (label children are cached)."""
        metrics = self.state.metrics
        if metrics is not self._metrics:
            self._metrics, self._counters = metrics, {}
        try:
            child = self._counters[feed, status]
        except KeyError:
            child = metrics.feed_requests.labels(feed=feed, status=str(status))
            self._counters[feed, status] = child
        child.inc()

    def answer(
        self, request: web.Request, item: Rendered, snapshot: Snapshot, feed: str
    ) -> web.Response:
        """200 with the cached bytes, or 304 when the client's copy is current."""
        if not_modified(request, item.etag, snapshot.modified):
            self.count(feed, 304)
            return web.Response(status=304, headers=item.not_modified)
        self.count(feed, 200)
        return web.Response(body=item.body, headers=item.headers)

    def error(self, status: int, message: str, feed: str) -> web.Response:
        """A short plain-text error that reveals nothing about the server."""
        self.count(feed, status)
        return web.Response(status=status, text=message + "\n", headers=_PLAIN)

    async def feed(self, request: web.Request) -> web.Response:
        """``GET/HEAD /feeds/{name}.ics`` with ``category=`` and ``alarms=`` filters."""
        snapshot = self.state.snapshot
        name = request.match_info["name"]
        names = self.names.get(snapshot.version, lambda: feed_names(snapshot))
        if name not in names:
            return self.error(404, "no such feed; the list of feeds is on the home page", "unknown")
        if request.query_string:
            query = request.query
            try:
                key = parse_query(name, query.getall("category", []), query.get("alarms"))
            except QueryError as problem:
                return self.error(400, str(problem), name)
        else:
            key = FeedQuery(name)
        item = self.feeds.peek((snapshot.version, key))
        if item is None:
            try:
                item = await self._render(snapshot, key)
            except (OverflowError, ValueError):
                return self.error(500, "this feed cannot be rendered right now", name)
        return self.answer(request, item, snapshot, name)

    async def _render(self, snapshot: Snapshot, key: FeedQuery) -> Rendered:
        """Render one feed variant off the loop (see :meth:`_built`)."""
        return await self._built(self.feeds, (snapshot.version, key), render_feed, snapshot, key)

    async def _built(
        self, cache: LRU[Any, Rendered], key: object, build: Callable[..., Rendered], *args: Any
    ) -> Rendered:
        """The cached response for *key*, else ``build(*args)`` run in the render pool.

        Requests for the same key that arrive while it is being built wait for
        that one build.
        """
        item = cache.peek(key)
        if item is not None:
            return item
        flight = (id(cache), key)
        pending = self._rendering.get(flight)
        if pending is None:
            pending = asyncio.wrap_future(self._renderer.submit(build, *args))
            self._rendering[flight] = pending
            try:
                item = await asyncio.shield(pending)
            finally:
                self._rendering.pop(flight, None)
            return cache.put(key, item)
        return await asyncio.shield(pending)

    async def event(self, request: web.Request) -> web.Response:
        """``GET /events/{name}.ics``: one row with reminders, to import (:mod:`.events`)."""
        snapshot = self.state.snapshot
        name = request.match_info["name"]
        files = self.event_names.get(snapshot.version, lambda: event_files(snapshot))
        found = files.get(name)
        if found is None:
            return self.error(404, "no such event; the events are listed on the home page", "event")
        item = self.events.get((snapshot.version, name), lambda: render_event(snapshot, found))
        return self.answer(request, item, snapshot, "event")

    async def timelines(self, request: web.Request) -> web.Response:
        """``GET /api/timelines``: the ``show --format json`` objects, as a list."""
        snapshot = self.state.snapshot

        def build() -> Rendered:
            body = timelines_json(snapshot.timelines)
            etag = make_etag(snapshot.version, "api")
            return rendered(body, etag, JSON_TYPE, snapshot, **{"Access-Control-Allow-Origin": "*"})

        item = await self._built(self.api, snapshot.version, build)
        return self.answer(request, item, snapshot, "api")

    async def page(self, request: web.Request) -> web.Response:
        """``GET /``: the web page, cached per version and per count of passed deadlines."""
        snapshot = self.state.snapshot
        now = dt.datetime.now(dt.UTC)
        split = passed(self.rows.get(snapshot.version, lambda: deadlines(snapshot)), now)

        def build() -> Rendered:
            body = render_page(snapshot, now, base_url=self.base_url, signup=self.signup).encode()
            extra = {
                "Cache-Control": "no-cache",
                "Content-Security-Policy": content_security_policy() + "; frame-ancestors 'none'",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            }
            etag = make_etag(snapshot.version, "page", split, self.base_url)
            return rendered(body, etag, HTML_TYPE, snapshot, **extra)

        item = await self._built(self.pages, (snapshot.version, split), build)
        return self.answer(request, item, snapshot, "page")

    async def changes_atom(self, request: web.Request) -> web.Response:
        """``GET /changes.atom``: one Atom entry per change record (lfx_cal.web.atom)."""
        snapshot = self.state.snapshot

        def build() -> Rendered:
            body = render_atom(snapshot, self.base_url)
            etag = make_etag(snapshot.version, "atom", self.base_url)
            return rendered(body, etag, ATOM_TYPE, snapshot)

        item = await self._built(self.api, f"atom|{snapshot.version}", build)
        return self.answer(request, item, snapshot, "changes")

    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: Prometheus text format."""
        headers = {
            "Content-Type": CONTENT_TYPE_LATEST,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        # Rendering reads the ledger's backlog: off the loop, in the render threads.
        body = await self._renderer.run(self.state.metrics.render)
        return web.Response(body=body, headers=headers)


async def _server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")


def add_routes(
    app: web.Application,
    state: WebState,
    *,
    base_url: str | None = None,
    signup: SignupForm | None = None,
) -> FeedServer:
    """Attach ``/``, ``/feeds/{name}.ics``, ``/api/timelines`` and ``/metrics`` to *app*.

    *base_url* (the public address, e.g. ``https://cal.example.org/``) makes the
    page's subscribe links absolute without JavaScript; otherwise the page script
    builds them from the address it was loaded from. Every response of the app
    says ``Server: lfx-cal`` instead of the Python and aiohttp versions. With
    *signup* the page carries the sign-up form (:mod:`lfx_cal.web.signup`).
    """
    server = FeedServer(state, base_url, signup)
    app.router.add_get("/", server.page)
    app.router.add_get("/feeds/{name}.ics", server.feed)
    app.router.add_get("/events/{name}.ics", server.event)
    app.router.add_get("/api/timelines", server.timelines)
    app.router.add_get("/changes.atom", server.changes_atom)
    app.router.add_get("/metrics", server.metrics)
    app.on_response_prepare.append(_server_header)
    return server
