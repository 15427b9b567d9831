"""Hostile sources (issue 10): secrets in URLs, dripping origins, documents that break things.

Real servers on loopback; hostile documents are built in the tests.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import scheduler.changes as changes_module
import scheduler.poll as poll_module
from feeds.errors import DocumentError, SourceError
from feeds.load import load
from feeds.model import Event
from feeds.public import clean_text, public_source, redact
from feeds.sources import fetch, fetch_if_changed
from scheduler.changes import diff
from scheduler.config import parse_config
from scheduler.poll import poll
from scheduler.store import Store
from tests._servers_hostile import DrippingOrigin

SECRETS = ("s3cr3t-pw", "t0k3n-XYZ", "reader:")
TERM = "# Term 02 - 2031 June - August\n\n### Timeline\n\n| Activity | Dates |\n|---|---|\n"
NOW = dt.datetime(2031, 5, 1, tzinfo=dt.UTC)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_public_source_drops_credentials_query_and_server_paths() -> None:
    assert public_source("https://u:p@example.org:8443/a/b.md?token=x#f") == (
        "https://example.org:8443/a/b.md"
    )
    assert public_source("/srv/secret/terms/README.md") == "README.md"
    assert public_source("http://[::1]:80/x.md?k=v") == "http://[::1]:80/x.md"
    assert public_source("http://u:p@host:notaport/x") == "(unreadable URL)"
    text = "GET http://u:pw@h/x.md?token=abc failed; also https://h2/y?z=1."
    assert redact(text) == "GET http://h/x.md failed; also https://h2/y."


def test_clean_text_removes_escapes_controls_and_bidi_overrides() -> None:
    hostile = "\x1b[31mred\x1b[0m \x1b]0;title\x07 a\u202eb\u2066c\u2069 \x85\x9b31md \x00e\tf\ng"
    assert clean_text(hostile) == "red  abc d e f g"
    assert clean_text(hostile, keep_lines=True).endswith("e\tf\ng")
    assert clean_text("plain text") == "plain text"


class Origin:
    """A loopback origin whose answer the test sets: status, body, Content-Type."""

    def __init__(self) -> None:
        self.status, self.body, self.kind = 200, (TERM + "| Kickoff | 2031-06-10 |\n").encode(), ""
        self.requests = 0
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                origin.requests += 1
                self.send_response(origin.status)
                if origin.kind:
                    self.send_header("Content-Type", origin.kind)
                self.send_header("Content-Length", str(len(origin.body)))
                self.end_headers()
                self.wfile.write(origin.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        port = self.server.server_address[1]
        self.url = f"http://reader:s3cr3t-pw@127.0.0.1:{port}/term.md?token=t0k3n-XYZ"


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.server.shutdown()


def test_errors_and_httpx_log_lines_never_show_credentials(
    origin: Origin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fetch(origin.url)  # a success logs "HTTP Request: GET …" at INFO
    origin.status = 404
    with pytest.raises(SourceError) as failed:
        fetch(origin.url)
    assert "HTTP 404" in str(failed.value)
    assert leaks(str(failed.value)) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request" in logged  # httpx did log, in its public form
    assert leaks(logged) == [], logged


def test_content_type_text_html_is_refused_whatever_the_bytes(origin: Origin) -> None:
    origin.kind = "text/html; charset=utf-8"  # body is Markdown, the server says HTML
    with pytest.raises(SourceError, match="HTML page"):
        fetch(origin.url)


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_dripping_origin_fails_at_the_total_deadline(where: str) -> None:
    origin = DrippingOrigin(where, interval=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(SourceError) as failed:
            fetch_if_changed(origin.url, timeout=5, deadline=2)
        elapsed = time.monotonic() - started
        assert "no complete answer within 2 s" in str(failed.value)
        assert leaks(str(failed.value)) == []
        assert origin.bytes_sent > 2  # it was dripping, not refusing: no read timeout fired
        assert elapsed < 30  # generous: without a total deadline it would run for hours
    finally:
        origin.close()


def _source(tmp_path: Path, text: str) -> Any:
    doc = tmp_path / "term.md"
    doc.write_text(text, encoding="utf-8")
    return parse_config(f'[[sources]]\nname = "t"\npath = "{doc.as_posix()}"\n', "c.toml").sources[
        0
    ]


def test_unchanged_content_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = poll_module.parse_document

    def counting(document: Any, **kwargs: Any) -> Any:
        parsed.append(document.name)
        return real(document, **kwargs)

    monkeypatch.setattr(poll_module, "parse_document", counting)
    source = _source(tmp_path, TERM + "| Kickoff | 2031-06-10 |\n")
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        for _ in range(5):
            result = poll(source, store, "UTC", NOW)
            assert result.error is None and result.timeline is not None
        assert len(parsed) == 1  # four more polls of the same bytes: one hash each
        Path(source.location).write_text(TERM + "| Kickoff | 2031-06-11 |\n", encoding="utf-8")
        assert poll(source, store, "UTC", NOW).diff.moved
        assert len(parsed) == 2


def test_any_exception_while_reading_is_a_recorded_failure(tmp_path: Path) -> None:
    source = _source(tmp_path, TERM + "| Kickoff | 2031-06-10 |\n")
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        good = poll(source, store, "UTC", NOW)
        hostile = [
            TERM + "| Late | 9999-12-31 23:00 AoE |\n",  # OverflowError inside the reader
            "term: {year: 2031, number: 2}\nschedule:\n" + "  - " * 1 + "[" * 5000 + "]" * 5000,
        ]
        for text in hostile:
            Path(source.location).write_text(text, encoding="utf-8")
            result = poll(source, store, "UTC", NOW)  # must not raise
            assert result.error, text[:40]
            assert result.timeline == good.timeline  # the last good version stays
        assert store.source_status()[0].failures == 2


def test_a_poll_over_its_budget_keeps_the_last_good_version(tmp_path: Path) -> None:
    source = _source(tmp_path, TERM + "| Kickoff | 2031-06-10 |\n")
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        good = poll(source, store, "UTC", NOW)
        Path(source.location).write_text(TERM + "| Kickoff | 2031-06-12 |\n", encoding="utf-8")
        late = poll(source, store, "UTC", NOW, budget=0.0)
        assert "budget" in (late.error or "") and late.timeline == good.timeline
        assert store.last_good("t")[1] == good.timeline


def test_dates_at_the_edge_of_the_calendar_are_warnings_not_crashes(tmp_path: Path) -> None:
    doc = tmp_path / "edge.md"
    rows = [
        "| Alumni reunion | 9999-12-31 |",
        "| Ancient | 0001-01-01 |",
        "| Late | 9999-12-31 23:00 AoE |",
        "| Kickoff | 2031-06-10 |",
    ]
    doc.write_text(TERM + "\n".join(rows) + "\n")
    timeline = load(str(doc), zone="UTC")  # never an OverflowError
    assert [e.title for e in timeline.events] == ["Kickoff"]
    assert sum("outside 1970" in w.message for w in timeline.warnings) >= 3
    nested = tmp_path / "deep.yaml"
    nested.write_text("term: {year: 2031, number: 2}\nschedule:\n  - " + "[" * 5000 + "]" * 5000)
    with pytest.raises(DocumentError, match="nested too deeply"):  # never a RecursionError
        load(str(nested), zone="UTC")


def _events(count: int, suffix: str) -> list[Event]:
    base = dt.date(2031, 1, 1)
    return [
        Event(
            uid=f"t-row-{i}-{suffix}@lfx-cal",
            term="t",
            title=f"Row {i} {suffix}",
            start=base + dt.timedelta(days=i % 50),  # many rows share their dates
            categories=("other",),
        )
        for i in range(count)
    ]


def test_rename_pairing_is_linear_and_keeps_document_order() -> None:
    old, new = _events(3, "a"), _events(3, "b")
    changes = diff(old, new)
    assert changes.renamed == (
        ("t-row-0-b@lfx-cal", "t-row-0-a@lfx-cal"),
        ("t-row-1-b@lfx-cal", "t-row-1-a@lfx-cal"),
        ("t-row-2-b@lfx-cal", "t-row-2-a@lfx-cal"),
    )
    assert not changes.added and not changes.removed

    calls = 0
    original = changes_module.when

    def counting(event: Event) -> str:
        nonlocal calls
        calls += 1
        return original(event)

    changes_module.when = counting  # count the work instead of timing it
    try:
        counts = []
        for n in (1000, 4000):
            calls = 0
            result = diff(_events(n, "a"), _events(n, "b"))
            assert len(result.renamed) == n
            counts.append(calls)
    finally:
        changes_module.when = original
    assert counts[1] <= 4 * counts[0] + 100  # linear: 4× the rows, ≤ 4× the work
