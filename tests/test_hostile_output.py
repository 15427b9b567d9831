"""What reaches people and screens (issue 10): in-range values, clean text, no secrets.

Hostile documents and events are built here; feeds and the page are served by a
real aiohttp server on loopback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import subprocess
import sys
from pathlib import Path

import pytest

from feeds.load import load
from feeds.model import Event
from lfx_cal.web.feeds import LRU
from notifiers import Change, Kind, build_message
from notifiers.console import render_lines
from notifiers.mailbuild import parse_address, render_base
from notifiers.slack_blocks import render
from scheduler.config import parse_config
from scheduler.errors import ConfigError
from tests.test_web_http import Site, State, example, snapshot_of

HOSTILE = "Evil \x1b[2J\x1b[31mred\x1b[0m \u202etxt.exe\u202c \x07bell \x9b31m"
BAD = ("\x1b", "\u202e", "\u202c", "\x07", "\x9b")
SECRETS = ("s3cr3t", "t0k3n", "/srv/private")


def test_a_date_at_the_edge_of_the_calendar_does_not_break_feeds_or_the_page() -> None:
    timeline = example()
    edge = [
        Event(uid="t-reunion@lfx-cal", term=timeline.term.id, title="Reunion",
              start=dt.date(9999, 12, 31)),
        Event(uid="t-late@lfx-cal", term=timeline.term.id, title="Late",
              start=dt.datetime(9999, 12, 31, 23, 50, tzinfo=dt.UTC)),
        Event(uid="t-first@lfx-cal", term=timeline.term.id, title="First",
              start=dt.date(1, 1, 1)),
    ]  # fmt: skip
    hostile = dataclasses.replace(timeline, events=(*timeline.events, *edge))
    with Site(State(snapshot_of([hostile]))) as site:
        for path in ("/", "/feeds/all.ics", f"/feeds/{timeline.term.id}.ics", "/api/timelines"):
            reply = site.get(path)
            assert reply.status == 200, (path, reply.body[:300])
        assert b"Project Proposals Open" in site.get("/feeds/all.ics").body


def test_durations_are_range_checked_everywhere() -> None:
    with Site(State(snapshot_of([example()]))) as site:
        for alarms in ("99999999999999999999w", "1000000w", "1d," * 500, "9" * 5000 + "s"):
            reply = site.get(f"/feeds/all.ics?alarms={alarms}")
            assert reply.status == 400, alarms[:30]
            assert reply.headers["X-Content-Type-Options"] == "nosniff"
    text = '[[subscriptions]]\nname = "a"\nnotifier = "console"\nleads = ["1000000w"]\n'
    with pytest.raises(ConfigError, match="too long"):
        parse_config(text, "c.toml")
    text = '[[sources]]\nname = "t"\nurl = "https://h/x.md"\npoll = "1m"\nfetch_deadline = "1h"\n'
    with pytest.raises(ConfigError, match="fetch_deadline"):
        parse_config(text, "c.toml")
    with pytest.raises(ConfigError, match="public_url"):
        parse_config('[service]\npublic_url = "cal.example.org"\n', "c.toml")


def test_every_response_says_nosniff_and_how_to_cache() -> None:
    with Site(State(snapshot_of([example()]))) as site:
        for path in ("/", "/feeds/all.ics", "/feeds/nope.ics", "/api/timelines", "/metrics", "/x"):
            reply = site.get(path)
            assert reply.headers["X-Content-Type-Options"] == "nosniff", path
            assert reply.headers["Cache-Control"], path


def test_feed_variants_render_once_into_a_cache_bounded_in_bytes() -> None:
    cache: LRU[str, bytes] = LRU(100, max_bytes=1000, weigh=len)
    for n in range(10):
        cache.put(str(n), b"x" * 300)
    assert cache.bytes <= 1000 and len(cache) == 3
    assert cache.peek("9") is not None and cache.peek("0") is None
    with Site(State(snapshot_of([example()]))) as site:
        for _ in range(3):
            assert site.get("/feeds/all.ics?alarms=1d").status == 200
        assert len(site.server.feeds) == 1


def _hostile_document(tmp_path: Path) -> Path:
    doc = tmp_path / "term.md"
    rows = [f"| {HOSTILE} | 2031-06-10 |", "| =?utf-8?b?SGVsbG8=?= | 2031-06-12 |"]
    head = "# Term 02 - 2031 June - August\n\n### Timeline\n\n| Activity | Dates |\n|---|---|\n"
    doc.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    return doc


def test_control_characters_never_reach_feeds_pages_or_terminals(tmp_path: Path) -> None:
    doc = _hostile_document(tmp_path)
    timeline = load(str(doc), zone="UTC")
    assert timeline.events[0].title.startswith("Evil")
    with Site(State(snapshot_of([timeline]))) as site:
        for path in ("/", "/feeds/all.ics", "/api/timelines"):
            body = site.get(path).body.decode()
            assert not [c for c in BAD if c in body], path
    for command in (["show"], ["show", "--format", "json"]):
        shown = subprocess.run(
            [sys.executable, "-m", "lfx_cal", *command, str(doc)], capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stderr
        assert "Evil" in shown.stdout
        assert not [c for c in BAD if c in shown.stdout + shown.stderr], command


def test_messages_are_clean_and_show_only_the_public_source(tmp_path: Path) -> None:
    remote = Event(
        uid="t-x@lfx-cal", term="lfx-2031-t2", title=HOSTILE, start=dt.date(2031, 6, 10),
        notes=(f"note {HOSTILE}",), source="https://u:s3cr3t@example.org/t.md?token=t0k3n",
    )  # fmt: skip
    local = dataclasses.replace(remote, source="/srv/private/terms/README.md")
    for event in (remote, local):
        change = Change("deadline", "Tue 10 Jun 2031", "Wed 11 Jun 2031")
        message = build_message(event, Kind.CHANGED, change=change, zone="UTC")
        raw = render_base(message, parse_address("lfx@example.org"))
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [str(mail["Subject"])]
        parts += [p.get_content() for p in mail.walk() if not p.is_multipart()]
        text, blocks = render(message)
        parts += [text, repr(blocks), *render_lines(message, "console")]
        everything = "\n".join(p if isinstance(p, str) else p.decode() for p in parts)
        assert not [s for s in SECRETS if s in everything], event.source
        assert not [c for c in BAD if c in everything], event.source
        if event is local:  # the attached .ics names the file, not the server's path
            assert "Source: README.md" in everything.replace("\r\n ", "")


def test_a_subject_with_encoded_words_reads_literally() -> None:
    event = Event(
        uid="t-y@lfx-cal", term="t", title="=?utf-8?b?SGVsbG8=?=", start=dt.date(2031, 6, 1)
    )
    message = build_message(event, Kind.REMINDER, lead=dt.timedelta(days=1), zone="UTC")
    raw = render_base(message, parse_address("lfx@example.org"))
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    # the wording is issue 11's ("… in 1 day — <when>"); the encoded word stays literal
    assert str(mail["Subject"]) == "=?utf-8?b?SGVsbG8=?= in 1 day — Sun, Jun 1"
    plain = dataclasses.replace(event, title="Plain title")
    raw = render_base(build_message(plain, Kind.OPENING, zone="UTC"), parse_address("a@b.org"))
    # ordinary subjects stay readable (issue 11 wording for an opening)
    assert b"Subject: Plain title is open until Sun, Jun 1\r\n" in raw
