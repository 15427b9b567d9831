"""The web page in headless Chromium: deadlines, countdowns, time zones, subscribe links.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package;
skipped without them unless ``LFX_CAL_REQUIRE_BROWSER`` is set (then it fails).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from feeds.categories import ROLES
from feeds.load import load
from lfx_cal.publish import publish
from lfx_cal.web import add_routes
from lfx_cal.web.links import subscribe_links
from tests.conftest import FIXTURES, ROOT
from tests.test_web_http import (
    TERM,
    ZONE,
    Served,
    Site,
    State,
    example,
    snapshot_of,
)

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
TODAY = dt.datetime.now(dt.UTC).date()
CLOSE = dt.datetime.combine(TODAY + dt.timedelta(days=10), dt.time(18, 0), dt.UTC)
BEGINS = TODAY + dt.timedelta(days=15)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
    "--window-size=1100,1600",
)


def term_document(folder: Path) -> Path:
    """A real YAML term schedule whose dates are relative to today."""
    day = dt.timedelta(days=1)
    path = folder / "term.yaml"
    path.write_text(
        f"term: {{year: {TODAY.year}, number: 3}}\nschedule:\n"
        f"  - key: proposals\n    label: Project Proposals Open\n"
        f"    start: {TODAY - 20 * day}\n    end: {TODAY - 5 * day}\n"
        f"  - key: applications\n    label: Mentee Applications Open\n"
        f"    start: {TODAY - 2 * day}\n    end: {CLOSE.date()}\n    time: 18:00 UTC\n"
        f"  - key: kickoff\n    label: Mentorship Kick Off Call\n    start: {TODAY + 20 * day}\n"
        f'    time: "9:30"\n'  # no zone: a doubtful row
        f"  - key: begins\n    label: Mentorship Program Begins\n    start: {BEGINS}\n"
    )
    return path


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    if webdriver is None or not CHROMIUM.exists() or not DRIVER.exists():
        if os.environ.get("LFX_CAL_REQUIRE_BROWSER"):
            pytest.fail(
                "LFX_CAL_REQUIRE_BROWSER is set but chromium/chromedriver/selenium is missing"
            )
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="lfx-cal-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site() -> Iterator[Served]:
    with tempfile.TemporaryDirectory() as folder:
        timelines = [load(str(term_document(Path(folder))), zone=ZONE)]
        timelines.append(load(str(FIXTURES / "dst.md"), zone=ZONE))
        app = web.Application()
        add_routes(app, State(snapshot_of(timelines)))
        with Served(app) as served:
            yield served


def open_page(driver: Any, url: str, zone: str) -> None:
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})
    driver.get(url)
    time.sleep(0.3)


def item(driver: Any, title: str) -> Any:
    for element in driver.find_elements("css selector", "li.deadline"):
        if element.find_element("css selector", ".title").text == title:
            return element
    raise AssertionError(f"no deadline {title!r} on the page")


def test_deadlines_and_countdowns_render(driver: Any, site: Served) -> None:
    open_page(driver, site.url(), "UTC")
    upcoming = driver.find_elements("css selector", "#upcoming-list li.deadline")
    titles = [e.find_element("css selector", ".title").text for e in upcoming]
    assert titles[:3] == [
        "Mentee Applications Open",
        "Mentorship Program Begins",
        "Mentorship Kick Off Call",
    ]
    past = driver.find_elements("css selector", "#past-list .title")
    assert "Project Proposals Open" in [e.text for e in past]
    countdown = item(driver, "Mentee Applications Open").find_element("css selector", ".countdown")
    first = countdown.text
    assert re.fullmatch(r"in (9|10)d \d\dh \d\dm \d\ds", first), first
    time.sleep(1.2)
    assert countdown.text != first
    passed = item(driver, "Project Proposals Open").find_element("css selector", ".countdown")
    assert passed.text == "passed"
    flagged = item(driver, "Mentorship Kick Off Call").find_element("css selector", ".flag")
    assert flagged.is_displayed() and "no time zone" in flagged.get_attribute("title")
    assert len(driver.find_elements("css selector", "svg.timeline")) == 2
    now_line = driver.find_element("css selector", "svg.timeline g.now")
    assert now_line.get_attribute("visibility") == "visible"
    assert driver.find_elements("css selector", "svg.timeline g.flagged")
    # a countdown that reaches zero moves its deadline to the past list
    driver.execute_script(
        "document.querySelector('#upcoming-list .countdown')"
        ".setAttribute('data-until', new Date(Date.now() - 1000).toISOString())"
    )
    time.sleep(1.2)
    moved = driver.find_element("css selector", "#past-list li.deadline .title").text
    assert moved == "Mentee Applications Open"
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # no CSP violation, no script error
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources == []  # self-contained: nothing fetched besides the page


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Asia/Kolkata", "America/New_York"])
def test_forced_time_zone_changes_shown_times(driver: Any, site: Served, zone: str) -> None:
    open_page(driver, site.url(), zone)
    legacy = {"Asia/Kolkata": "Asia/Calcutta"}  # ICU still reports the old name
    assert driver.find_element("id", "viewer-zone").text in (zone, legacy.get(zone))
    local = CLOSE.astimezone(ZoneInfo(zone))
    shown = item(driver, "Mentee Applications Open").find_element("css selector", ".when time")
    assert shown.get_attribute("datetime") == CLOSE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert shown.get_attribute("data-local") == local.strftime("%Y-%m-%d %H:%M")
    text = shown.text
    assert f"{local:%b} {local.day}, {local.year}" in text, text
    assert f"{local.hour % 12 or 12}:{local:%M} {'AM' if local.hour < 12 else 'PM'}" in text, text
    # a date-only deadline is the same calendar day in every zone
    day = item(driver, "Mentorship Program Begins").find_element("css selector", ".when time")
    assert day.text == f"{BEGINS:%a}, {BEGINS:%b} {BEGINS.day}, {BEGINS.year}"


def test_subscribe_links_are_right(driver: Any, site: Served) -> None:
    open_page(driver, site.url(), "UTC")
    rows = driver.find_elements("css selector", "table.feeds tr")
    names = [row.find_element("css selector", "code").text for row in rows]
    assert names == ["all", f"lfx-{TODAY.year}-t3", "lfx-2031", *ROLES]
    for row in rows:
        name = row.find_element("css selector", "code").text
        label = row.find_element("css selector", "th").text
        expected = subscribe_links(site.url(f"/feeds/{name}.ics"), label)
        for kind, href in expected.items():
            link = row.find_element("css selector", f"a[data-link={kind}]")
            assert link.get_attribute("href") == href, (name, kind)
    google = driver.find_element("css selector", "table.feeds a.google").get_attribute("href")
    assert google == (
        "https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F127.0.0.1%3A"
        f"{site.port}%2Ffeeds%2Fall.ics"
    )
    # pick a term, a role preset and alarms: the links follow
    driver.find_element("css selector", f"#pick-feed option[value=lfx-{TODAY.year}-t3]").click()
    driver.find_element("css selector", "#pick-categories button[data-role=mentee]").click()
    driver.find_element("css selector", "#pick-alarms option[value='7d,1d']").click()
    query = "&".join(f"category={c}" for c in sorted(ROLES["mentee"]))
    address = site.url(f"/feeds/lfx-{TODAY.year}-t3.ics?{query}&alarms=7d,1d")
    assert driver.find_element("id", "picked-url").text == address
    webcal = driver.find_element("css selector", "#picked a.webcal").get_attribute("href")
    assert webcal == "webcal:" + address.split(":", 1)[1]
    with urllib.request.urlopen(address, timeout=10) as response:  # the picked feed exists
        assert response.status == 200
        body = response.read().decode()
    assert "Mentee Applications Open" in body and "Project Proposals Open" not in body
    assert "TRIGGER:-P7D" in body
    # a role feed disables the categories it never has
    driver.find_element("css selector", "#pick-feed option[value=mentor]").click()
    stipend = driver.find_element("css selector", "#pick-categories input[value=stipend]")
    assert not stipend.is_enabled()


def test_published_site_in_the_browser(driver: Any, tmp_path: Path) -> None:
    timelines = [load(str(term_document(tmp_path)), zone=ZONE)]
    out = tmp_path / "site"
    publish(snapshot_of(timelines), out)
    app = web.Application()
    app.router.add_static("/pages/", out)
    with Served(app) as served:
        open_page(driver, served.url("/pages/index.html"), "Asia/Tokyo")
        shown = item(driver, "Mentee Applications Open").find_element("css selector", ".when time")
        assert shown.get_attribute("data-local") == CLOSE.astimezone(
            ZoneInfo("Asia/Tokyo")
        ).strftime("%Y-%m-%d %H:%M")
        download = driver.find_element("css selector", "table.feeds a.download")
        assert download.get_attribute("href") == served.url("/pages/feeds/all.ics")
        outlook = driver.find_element("css selector", "table.feeds a.outlook")
        assert (
            outlook.get_attribute("href")
            == subscribe_links(served.url("/pages/feeds/all.ics"), "LFX Mentorship (all terms)")[
                "outlook"
            ]
        )
        assert not driver.find_elements(
            "id", "pick-categories"
        )  # no query filters on a static host
        with urllib.request.urlopen(served.url("/pages/feeds/all.ics"), timeout=10) as response:
            assert response.read().startswith(b"BEGIN:VCALENDAR")


# The page's HTML as served (no browser needed).


@pytest.fixture
def feed_site() -> Iterator[Site]:
    with Site(State(snapshot_of([example()]))) as opened:
        yield opened


def test_page_served_escaped_and_flagged(feed_site: Site, tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        "term: {year: 2027, number: 3}\nschedule:\n  - key: evil\n"
        '    label: "</script><script>alert(1)</script> & <b>x</b>"\n    start: 2027-09-04\n'
    )
    dst = load(str(FIXTURES / "dst.md"), zone=ZONE)
    feed_site.state.snapshot = snapshot_of([example(), load(str(evil), zone=ZONE), dst])
    reply = feed_site.get("/")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'sha256-" in reply.headers["Content-Security-Policy"]
    html = reply.body.decode()
    assert "<script>alert(1)" not in html and "<b>x</b>" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt;" in html
    assert html.count("<script") == 2  # the JSON data block and the page script
    assert 'class="flag"' in html  # dst.md has doubtful rows
    assert str(tmp_path) not in html and str(ROOT) not in html
    assert " src=" not in html and html.count("<link") == 1  # nothing loaded from elsewhere
    assert html.index('id="upcoming"') < html.index('id="subscribe"') < html.index('id="timelines"')
    assert html.count("<svg") == 3
    for name in ("all", TERM, "lfx-2027-t3", *ROLES):
        assert f'data-path="/feeds/{name}.ics"' in html
    assert feed_site.get("/", If_None_Match=reply.headers["ETag"]).status == 304


def test_no_secrets_from_source_urls(feed_site: Site) -> None:
    timeline = example()
    secret = "https://user:hunter2@example.org/t/README.md?token=s3cret#frag"
    events = tuple(dataclasses.replace(e, source=secret) for e in timeline.events)
    leaky = dataclasses.replace(timeline, source=secret, url=secret, events=events)
    feed_site.state.snapshot = snapshot_of([leaky])
    for path in ("/", "/api/timelines", "/feeds/all.ics", f"/feeds/{TERM}.ics"):
        body = feed_site.get(path).body
        assert b"hunter2" not in body and b"s3cret" not in body, path
        assert b"example.org/t/README.md" in body.replace(b"\r\n ", b""), path
