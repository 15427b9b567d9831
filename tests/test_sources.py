"""Reading documents from files and from a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from feeds.errors import SourceError
from feeds.load import load
from feeds.sources import MAX_BYTES, raw_url, read
from tests.conftest import FIXTURES

PAGES: dict[str, tuple[int, str, bytes]] = {
    "/term.md": (200, "text/plain", (FIXTURES / "table-utc.md").read_bytes()),
    "/missing.md": (404, "text/plain", b"404: Not Found"),
    "/page.html": (200, "text/html", b"<!DOCTYPE html><html><body>Sign in</body></html>"),
    "/huge.md": (200, "text/plain", b"x" * (MAX_BYTES + 10)),
    "/latin1.md": (200, "text/plain", "# Caf\xe9".encode("latin-1")),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, kind, body = PAGES.get(self.path, (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_reads_a_url(server: str) -> None:
    timeline = load(f"{server}/term.md")
    assert timeline.term.id == "lfx-2032-t3" and len(timeline.events) == 9
    assert timeline.events[0].source == f"{server}/term.md"


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/missing.md", "HTTP 404"), ("/page.html", "HTML page"), ("/huge.md", "larger than"),
     ("/latin1.md", "not UTF-8")],
)  # fmt: skip
def test_http_failures_name_the_source_and_the_fix(server: str, path: str, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        read(f"{server}{path}")
    assert reason in str(caught.value) and path in str(caught.value)
    assert isinstance(caught.value, OSError)


def test_unreachable_server_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="cannot fetch"):
        read("http://127.0.0.1:9/term.md")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read(str(tmp_path / "nope.md"))
    with pytest.raises(SourceError, match="is a directory"):
        read(str(tmp_path))


def test_github_blob_addresses_become_raw() -> None:
    assert raw_url("https://github.com/o/r/blob/main/a/README.md") == (
        "https://raw.githubusercontent.com/o/r/main/a/README.md"
    )
