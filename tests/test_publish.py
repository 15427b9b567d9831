"""``lfx-cal publish``: the static site is the same bytes the server sends."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from feeds.categories import ROLES
from lfx_cal.publish import publish, run_publish
from lfx_cal.web import add_routes
from lfx_cal.web.events import event_name
from lfx_cal.web.links import subscribe_links
from scheduler.snapshot import Snapshot
from tests.conftest import ROOT
from tests.test_web_http import EXAMPLE, TERM, State, example, snapshot_of

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
WORKFLOW = ROOT / "examples" / "publish-pages.yml"


def served(snapshot: Snapshot, paths: list[str]) -> dict[str, bytes]:
    async def main() -> dict[str, bytes]:
        app = web.Application()
        add_routes(app, State(snapshot))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            return {path: await (await client.get(path)).read() for path in paths}

    return asyncio.run(main())


def test_publish_writes_the_same_feeds_json_and_page(tmp_path: Path) -> None:
    snapshot = snapshot_of([example()])
    written = publish(snapshot, tmp_path, now=NOW)
    names = ["all", TERM, *ROLES]
    files = {"api/timelines.json", "changes.atom", "index.html", ".nojekyll"}
    expected = {f"feeds/{n}.ics" for n in names} | files
    events = [f"events/{event_name(e.uid)}.ics" for e in example().events]
    expected |= set(events)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == expected
    paths = [f"/feeds/{n}.ics" for n in names] + ["/api/timelines", "/changes.atom"]
    server = served(snapshot, paths + [f"/{e}" for e in events])
    for event in events:  # one event with reminders, the same bytes the server sends
        assert (tmp_path / event).read_bytes() == server[f"/{event}"]
    for name in names:
        assert (tmp_path / "feeds" / f"{name}.ics").read_bytes() == server[f"/feeds/{name}.ics"]
    assert (tmp_path / "api" / "timelines.json").read_bytes() == server["/api/timelines"]
    assert (tmp_path / "changes.atom").read_bytes() == server["/changes.atom"]
    assert json.loads((tmp_path / "api/timelines.json").read_text())[0]["term"]["id"] == TERM
    html = (tmp_path / "index.html").read_text()
    assert 'data-path="feeds/all.ics"' in html and 'data-path="/feeds/' not in html
    assert 'href="api/timelines.json"' in html
    assert 'id="pick-categories"' not in html  # query filters need the server
    assert not list(tmp_path.rglob(".tmp-*"))


def test_publish_is_deterministic(tmp_path: Path) -> None:
    snapshot = snapshot_of([example()])
    publish(snapshot, tmp_path / "a", now=NOW)
    publish(snapshot, tmp_path / "b", now=NOW)
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            other = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert path.read_bytes() == other.read_bytes(), path


def test_base_url_makes_links_absolute_without_javascript(tmp_path: Path) -> None:
    publish(snapshot_of([example()]), tmp_path, "https://org.github.io/cal", now=NOW)
    html = (tmp_path / "index.html").read_text()
    links = subscribe_links("https://org.github.io/cal/feeds/mentee.ics", "LFX Mentorship (mentee)")
    assert links["webcal"] == "webcal://org.github.io/cal/feeds/mentee.ics"
    assert links["google"] == (
        "https://calendar.google.com/calendar/render?cid="
        "webcal%3A%2F%2Forg.github.io%2Fcal%2Ffeeds%2Fmentee.ics"
    )
    assert links["outlook"] == (
        "https://outlook.live.com/calendar/0/addfromweb?url="
        "https%3A%2F%2Forg.github.io%2Fcal%2Ffeeds%2Fmentee.ics&name=LFX%20Mentorship%20(mentee)"
    )
    for href in links.values():
        assert f'href="{href.replace("&", "&amp;")}"' in html
    assert '"base": "https://org.github.io/cal/"' in html


def test_stale_feeds_are_removed_and_other_files_kept(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "lfx-2020-t1.ics").write_text("old")
    (tmp_path / "CNAME").write_text("cal.example.org")
    publish(snapshot_of([example()]), tmp_path, now=NOW)
    assert not (tmp_path / "feeds" / "lfx-2020-t1.ics").exists()
    assert (tmp_path / "CNAME").read_text() == "cal.example.org"


def _config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "lfx.toml"
    path.write_text(f'[service]\ntimezone = "America/Los_Angeles"\n\n[[sources]]\n{source}\n')
    return path


def test_run_publish_from_a_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, f'name = "example"\npath = "{EXAMPLE}"')
    out = tmp_path / "site"
    assert run_publish(str(config), str(out)) == 0
    printed = capsys.readouterr()
    assert f"wrote {9 + len(example().events)} files" in printed.out
    assert "--base-url" in printed.err  # the page opened from file:// would link the disk
    assert (out / "feeds" / f"{TERM}.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")


def test_run_publish_errors_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_publish(str(tmp_path / "missing.toml"), str(tmp_path / "o")) == 2
    assert "missing.toml" in capsys.readouterr().err
    bad = _config(tmp_path, 'name = "gone"\npath = "nowhere.md"')
    assert run_publish(str(bad), str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "lfx.toml" in err and "'gone'" in err and "nowhere.md" in err
    assert not (tmp_path / "o").exists()  # nothing is written unless every source was read
    good = _config(tmp_path, f'name = "example"\npath = "{EXAMPLE}"')
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run_publish(str(good), str(blocker)) == 2
    assert re.search(r"file: cannot write", capsys.readouterr().err)
    assert run_publish(str(good), str(tmp_path / "o"), base_url="org.github.io") == 2
    assert "--base-url" in capsys.readouterr().err


def test_example_workflow_publishes_on_a_schedule() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["schedule"][0]["cron"]
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("lfx-cal publish --config" in run and "--out" in run for run in steps)
