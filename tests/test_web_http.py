"""The feed server's HTTP routes against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import http.client
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Self

import pytest
from aiohttp import web
from icalendar import Calendar

from feeds.categories import ROLES
from feeds.ical import Revision
from feeds.load import load
from feeds.model import Timeline
from lfx_cal.web import add_routes
from scheduler.metrics import Metrics
from scheduler.snapshot import Snapshot, build_snapshot
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "example-term.md"
ZONE = "America/Los_Angeles"
TERM = "lfx-2027-t2"


@dataclasses.dataclass
class State:
    """The daemon's side of the contract: a swappable snapshot and the metrics."""

    snapshot: Snapshot
    metrics: Metrics = dataclasses.field(default_factory=Metrics)


def snapshot_of(timelines: Sequence[Timeline], revisions: Mapping[str, Revision] = {}) -> Snapshot:
    return build_snapshot(list(timelines), revisions, ZONE)


def example() -> Timeline:
    return load(str(EXAMPLE), zone=ZONE)


class Reply(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class Served:
    """An aiohttp application on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app, access_log=None)
        self.port = 0

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]

    def __enter__(self) -> Self:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, method: str = "GET", **headers: str) -> Reply:
        """One raw request (no redirects, no error raising); ``If_None_Match=`` style headers."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(
                method, path, headers={k.replace("_", "-"): v for k, v in headers.items()}
            )
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()


class Site(Served):
    """The routes over *state*, served on loopback."""

    def __init__(self, state: State) -> None:
        app = web.Application()
        self.state, self.server = state, add_routes(app, state)
        super().__init__(app)


@pytest.fixture
def site() -> Iterator[Site]:
    with Site(State(snapshot_of([example()]))) as opened:
        yield opened


def events_of(body: bytes) -> list[Any]:
    calendar = Calendar.from_ical(body)
    for component in calendar.walk():
        assert not component.errors, component.errors
    return list(calendar.walk("VEVENT"))


def titles(body: bytes) -> set[str]:
    return {str(event["SUMMARY"]).removeprefix(PREFIX) for event in events_of(body)}


PREFIX = "LFX 2027 T2 · "  # the all and role feeds merge terms: titles say which


def test_feed_200_headers_and_valid_calendar(site: Site) -> None:
    reply = site.get("/feeds/all.ics")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag = reply.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong
    assert reply.headers["Last-Modified"] == "Wed, 01 Jan 2020 00:00:00 GMT"
    assert reply.headers["Cache-Control"] == "public, max-age=300"
    assert reply.headers["Server"] == "lfx-cal"
    assert str(ROOT).encode() not in reply.body  # the server's paths stay private
    assert b"Source: example-term.md (line 10)" in reply.body
    assert {"Project Proposals Open", "Last Day of Term"} <= titles(reply.body)
    assert f"SUMMARY:{PREFIX}Last Day of Term".encode() in reply.body
    term_feed = site.get(f"/feeds/{TERM}.ics").body
    assert b"SUMMARY:Last Day of Term" in term_feed and PREFIX.encode() not in term_feed
    head = site.get("/feeds/all.ics", "HEAD")
    assert head.status == 200 and head.body == b""
    for header in ("ETag", "Last-Modified", "Content-Type", "Content-Length"):
        assert head.headers[header] == reply.headers[header], header
    assert int(head.headers["Content-Length"]) == len(reply.body)


def test_every_feed_name_and_role_contents(site: Site) -> None:
    for name in ("all", TERM, *ROLES):
        assert site.get(f"/feeds/{name}.ics").status == 200, name
    mentee = titles(site.get("/feeds/mentee.ics").body)
    assert "Mentee Applications Open" in mentee
    assert "Project Proposals Open" not in mentee  # proposals are for mentors
    assert "Project Proposals Open" in titles(site.get("/feeds/mentor.ics").body)


def test_conditional_requests_304(site: Site) -> None:
    first = site.get("/feeds/all.ics")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    later = email.utils.format_datetime(dt.datetime(2030, 1, 1, tzinfo=dt.UTC), usegmt=True)
    earlier = email.utils.format_datetime(dt.datetime(2019, 1, 1, tzinfo=dt.UTC), usegmt=True)
    for headers in (
        {"If_None_Match": etag},
        {"If_None_Match": f'"other", {etag}'},
        {"If_None_Match": f"W/{etag}"},  # If-None-Match uses the weak comparison
        {"If_None_Match": "*"},
        {"If_Modified_Since": modified},
        {"If_Modified_Since": later},
    ):
        reply = site.get("/feeds/all.ics", **headers)
        assert reply.status == 304 and reply.body == b"", headers
        assert reply.headers["ETag"] == etag
        assert reply.headers["Cache-Control"] == "public, max-age=300"
    for headers in (
        {"If_None_Match": '"other"'},
        {"If_Modified_Since": earlier},
        {"If_None_Match": '"other"', "If_Modified_Since": later},  # If-None-Match decides
    ):
        assert site.get("/feeds/all.ics", **headers).status == 200, headers
    assert site.get("/feeds/all.ics", "HEAD", If_None_Match=etag).status == 304


def test_unknown_names_and_traversal_are_404_without_internals(site: Site) -> None:
    for path in (
        "/feeds/nope.ics",
        "/feeds/..%2F..%2Fetc%2Fpasswd.ics",
        "/feeds/%2e%2e.ics",
        "/feeds/../../etc/passwd",
        "/feeds/all.ics/..%2f..%2fpyproject.toml",
        "/feeds/ALL.ics",
        "/feeds/all",
        "/static/../pyproject.toml",
    ):
        reply = site.get(path)
        assert reply.status == 404, path
        assert len(reply.body) < 100
        for leak in (b"Traceback", b"/work", b"aiohttp", b"Python", str(ROOT).encode()):
            assert leak not in reply.body
        assert reply.headers["Server"] == "lfx-cal"


def test_bad_queries_are_400(site: Site) -> None:
    for query in (
        "category=bogus",
        "category=stipend&category=%3Cx%3E",
        "alarms=soon",
        "alarms=1d,0s",
        "alarms=1d,2d,3d,4d,5d,6d,7d",
        "alarms=52w",
    ):
        reply = site.get(f"/feeds/all.ics?{query}")
        assert reply.status == 400, query
        assert b"<x>" not in reply.body and len(reply.body) < 200


def test_filters(site: Site) -> None:
    stipend = site.get("/feeds/all.ics?category=stipend")
    assert titles(stipend.body) == {"First Stipend Payments", "Second Stipend Payments"}
    a = site.get("/feeds/all.ics?category=stipend&category=evaluation")
    b = site.get("/feeds/all.ics?category=evaluation&category=stipend&utm=x")
    assert a.headers["ETag"] == b.headers["ETag"] and a.body == b.body
    assert len(titles(a.body)) == 4
    empty = site.get("/feeds/mentee.ics?category=proposal")  # narrowed to nothing
    assert empty.status == 200 and events_of(empty.body) == []
    alarmed = site.get(f"/feeds/{TERM}.ics?alarms=7d,1d")
    assert b"TRIGGER:-P7D" in alarmed.body and b"TRIGGER:-P1D" in alarmed.body
    plain = site.get(f"/feeds/{TERM}.ics")
    assert b"BEGIN:VALARM" not in plain.body
    assert alarmed.headers["ETag"] != plain.headers["ETag"]


def test_etag_changes_exactly_when_the_timeline_changes(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    text = EXAMPLE.read_text()
    path.write_text(text)
    before, again = load(str(path), zone=ZONE), load(str(path), zone=ZONE)
    path.write_text(text.replace("Tue, Aug 24, 11AM PDT (18:00 UTC)", "Tue, Aug 31, 11AM PDT"))
    after = load(str(path), zone=ZONE)
    uid = next(e.uid for e in after.events if e.title == "Final Mentee Evaluations")
    site.state.snapshot = snapshot_of([before])
    etag = site.get("/feeds/all.ics").headers["ETag"]
    site.state.snapshot = snapshot_of([again])  # a poll that found nothing new
    assert site.get("/feeds/all.ics", If_None_Match=etag).status == 304
    moved_at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    site.state.snapshot = snapshot_of([after], {uid: Revision(1, moved_at)})
    changed = site.get("/feeds/all.ics", If_None_Match=etag)
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert changed.headers["Last-Modified"] == "Sun, 01 Nov 2026 12:00:00 GMT"
    event = next(e for e in events_of(changed.body) if e["UID"] == uid)
    assert int(event["SEQUENCE"]) == 1
    assert event["LAST-MODIFIED"].dt == moved_at
    assert event["DTSTART"].dt.date() == dt.date(2027, 8, 31)
    assert site.get("/feeds/all.ics").headers["ETag"] == changed.headers["ETag"]


def test_bytes_are_rendered_once_per_version(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from lfx_cal.web import routes

    calls: list[str] = []
    real = routes.render_feed  # type: ignore[attr-defined]

    def counting(snapshot: Snapshot, query: Any) -> Any:
        calls.append(query.name)
        return real(snapshot, query)

    monkeypatch.setattr(routes, "render_feed", counting)
    for _ in range(5):
        assert site.get("/feeds/all.ics").status == 200
        assert site.get("/feeds/all.ics", "HEAD").status == 200
    assert calls == ["all"]
    site.get("/feeds/mentee.ics")
    assert calls == ["all", "mentee"] and len(site.server.feeds) == 2


def test_api_timelines_json(site: Site) -> None:
    reply = site.get("/api/timelines")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    data = json.loads(reply.body)
    assert isinstance(data, list) and len(data) == 1
    assert data[0]["source"] == "example-term.md"  # never the server's path
    assert data[0]["term"]["id"] == TERM
    first = data[0]["events"][0]
    assert {"uid", "title", "categories", "start", "end", "notes", "line"} <= set(first)
    assert first["end"] == "2027-05-04T18:00:00Z"
    assert site.get("/api/timelines", If_None_Match=reply.headers["ETag"]).status == 304


def test_metrics_count_feed_requests(site: Site) -> None:
    site.state.metrics.fetch_failures.labels(source="example").inc()
    site.state.metrics.last_poll.labels(source="example").set(1_800_000_000)
    etag = site.get("/feeds/all.ics").headers["ETag"]
    site.get("/feeds/all.ics")
    site.get("/feeds/all.ics", If_None_Match=etag)
    site.get("/feeds/nope.ics")
    site.get("/feeds/all.ics?category=bogus")
    reply = site.get("/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    text = reply.body.decode()
    assert 'lfxcal_feed_requests_total{feed="all",status="200"} 2.0' in text
    assert 'lfxcal_feed_requests_total{feed="all",status="304"} 1.0' in text
    assert 'lfxcal_feed_requests_total{feed="unknown",status="404"} 1.0' in text
    assert 'lfxcal_feed_requests_total{feed="all",status="400"} 1.0' in text
    assert 'lfxcal_source_fetch_failures_total{source="example"} 1.0' in text
    assert 'lfxcal_source_last_success_seconds{source="example"} 1.8e+09' in text
