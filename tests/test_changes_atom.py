"""``GET /changes.atom``, the page's "Changed dates" and ``changes.atom`` from publish.

Every document is checked with a real feed parser (feedparser): Atom 1.0, not
malformed, one entry per change record, ids that do not change between renders.
"""

from __future__ import annotations

from pathlib import Path

import feedparser
from click.testing import CliRunner

from lfx_cal.cli import cli
from lfx_cal.web.atom import render_atom
from scheduler.snapshot import build_snapshot
from scheduler.store import ChangeRecord, Store
from tests.test_web_http import ROOT, Site, State, example

UID = "lfx-2027-t2-mentee-applications-open@lfx-cal"
RECORDS = [
    ChangeRecord("x", UID, "moved", "2027-05-12T00:00:00Z → 2027-05-25T23:59:00Z",
                 "2027-05-12T00:00:00Z → 2027-05-27T18:00:00Z", "2027-05-02T00:00:00Z"),
    ChangeRecord("x", "lfx-2027-t2-gone@lfx-cal", "removed", "2027-06-01", None,
                 "2027-05-01T00:00:00Z"),
    ChangeRecord("x", "lfx-2027-t2-last-day-of-term@lfx-cal", "added", None, "2027-08-27",
                 "2027-04-30T00:00:00Z"),
]  # fmt: skip


def parsed(body: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_atom_has_one_entry_per_record_with_utc_and_wall_clock_and_stable_ids() -> None:
    snapshot = build_snapshot([example()], {}, "America/Los_Angeles", changes=RECORDS)
    feed = parsed(render_atom(snapshot, "https://cal.example.org/"))
    assert [e.title for e in feed.entries] == [
        "Mentee Applications Open: moved",
        "lfx-2027-t2-gone@lfx-cal: removed",  # no longer served: its UID
        "Last Day of Term: added",
    ]
    moved = feed.entries[0]
    assert moved.updated == "2027-05-02T00:00:00Z"
    text = moved.content[0].value
    assert "2027-05-25T23:59:00Z (Tue May 25 16:59 PDT)" in text  # UTC, then program clock
    assert "⇒ 2027-05-12T00:00:00Z (Tue May 11 17:00 PDT) → 2027-05-27T18:00:00Z" in text
    assert feed.feed.links[0].href == "https://cal.example.org/changes.atom"
    again = parsed(render_atom(build_snapshot([], {}, "UTC", changes=RECORDS[:1])))
    assert again.entries[0].id == moved.id and moved.id.startswith("urn:uuid:")
    assert len({e.id for e in feed.entries}) == 3
    assert parsed(render_atom(build_snapshot([], {}, "UTC"))).entries == []


def test_served_and_on_the_page() -> None:
    snapshot = build_snapshot([example()], {}, "America/Los_Angeles", changes=RECORDS)
    with Site(State(snapshot)) as site:
        reply = site.get("/changes.atom")
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        assert len(parsed(reply.body).entries) == 3
        assert site.get("/changes.atom", If_None_Match=reply.headers["ETag"]).status == 304
        page = site.get("/").body.decode()
    section = page.split('<section id="changes">', 1)[1].split("</section>", 1)[0]
    assert '<a href="/changes.atom">' in section and section.count("<li>") == 3
    assert "Mentee Applications Open</strong> moved" in section


def test_publish_writes_changes_atom_from_the_database(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    doc = (ROOT / "config" / "example-term.md").as_posix()
    db = (tmp_path / "s.db").as_posix()
    config.write_text(
        f'[service]\ndatabase = "sqlite:///{db}"\n[[sources]]\nname = "x"\npath = "{doc}"\n'
    )
    with Store(f"sqlite:///{db}") as store:
        store.record_changes(RECORDS)
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["publish", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    feed = parsed((out / "changes.atom").read_bytes())
    assert [e.updated for e in feed.entries] == [r.at for r in reversed(RECORDS)]  # newest first
    assert '<a href="changes.atom">' in (out / "index.html").read_text()
