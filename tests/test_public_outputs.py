"""A URL source is known by its public form in every output (issue 10 item 2).

A real loopback origin serves a term document behind ``user:password@`` and a
``?token=`` query; real ``lfx-cal`` processes read it and nothing they print or
write may carry either secret, while the fetch itself still uses them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from feeds.load import load
from feeds.sources import read
from tests.conftest import ROOT

SECRETS = ("s3cretpw", "TOK123", "user:")
# A row with no date gives a warning, so warnings (and their source prefix) are printed too.
LAST = "| Last Day of Term | Fri, Aug 27 |"
DOCUMENT = (
    (ROOT / "config" / "example-term.md")
    .read_text()
    .replace(LAST, f"{LAST}\n| Mystery row | soon |")
)


class _Origin:
    """Serves DOCUMENT and remembers the paths and Authorization headers it was asked with."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                origin.seen.append((self.path, self.headers.get("Authorization", "")))
                body = DOCUMENT.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"http://user:s3cretpw@127.0.0.1:{self.port}/doc.md?token=TOK123"
        self.public = f"http://127.0.0.1:{self.port}/doc.md"


@pytest.fixture
def origin() -> Iterator[_Origin]:
    server = _Origin()
    yield server
    server.server.shutdown()
    server.server.server_close()


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def lfx(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lfx_cal", *args],
        cwd=folder, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_read_document_is_named_by_its_public_form_but_fetched_with_its_secrets(
    origin: _Origin,
) -> None:
    document = read(origin.url)
    assert (document.name, document.url) == (origin.public, origin.public)
    assert origin.seen[-1][0] == "/doc.md?token=TOK123" and origin.seen[-1][1].startswith("Basic ")
    timeline = load(origin.url)
    assert timeline.source == origin.public and timeline.url == origin.public
    assert all(event.source == origin.public for event in timeline.events)
    assert not leaks(repr(timeline))


@pytest.mark.parametrize(
    "args",
    [
        ["show", "{url}"],
        ["show", "--format", "json", "{url}"],
        ["export", "{url}", "-o", "-"],
        ["export", "{url}", "-o", "x.ics"],
    ],
    ids=["show", "show-json", "export-stdout", "export-file"],
)
def test_show_and_export_never_print_or_write_the_secrets(
    origin: _Origin, tmp_path: Path, args: list[str]
) -> None:
    result = lfx(tmp_path, *[a.format(url=origin.url) for a in args])
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert not leaks(result.stdout + result.stderr), result.stdout + result.stderr
    assert origin.public in result.stdout + result.stderr + "".join(
        p.read_text() for p in tmp_path.glob("*.ics")
    )
    for written in tmp_path.glob("*.ics"):
        assert not leaks(written.read_text())
    assert origin.seen and all(auth.startswith("Basic ") for _, auth in origin.seen)


def test_publish_check_and_reminders_never_print_or_write_the_secrets(
    origin: _Origin, tmp_path: Path
) -> None:
    config = tmp_path / "lfx.toml"
    config.write_text(
        f'[service]\ndatabase = "sqlite:///lfx.db"\n\n'
        f'[[sources]]\nname = "term"\nurl = "{origin.url}"\n\n'
        '[[subscriptions]]\nname = "console"\nnotifier = "console"\ntarget = "-"\n'
    )
    outputs = []
    for args in (["publish", "--out", "site"], ["check"], ["reminders"]):
        result = lfx(tmp_path, *args[:1], "--config", str(config), *args[1:])
        assert "Traceback" not in result.stderr, (args, result.stderr)
        outputs.append(result.stdout + result.stderr)
    assert "warning" in outputs[0]
    assert not leaks("\n".join(outputs)), "\n".join(outputs)
    site = [p for p in (tmp_path / "site").rglob("*") if p.is_file()]
    assert site
    for written in site:
        assert not leaks(written.read_text(errors="replace")), written
