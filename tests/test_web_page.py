"""The web page in headless Chromium: phone widths, the next deadline, zones, links, access.

Needs ``chromium`` and ``chromedriver`` on PATH (found with :func:`shutil.which`,
as ``.ci/run`` does) and the ``selenium`` package; skipped without them unless
``LFX_CAL_REQUIRE_BROWSER`` is set (then it fails). The accessibility check
injects axe-core, pinned in ``tests/js/package-lock.json`` and installed by
``npm ci`` on first use (:mod:`tests._icaljs`).

One browser session serves the whole module: widths are set with
``Emulation.setDeviceMetricsOverride`` and zones with
``Emulation.setTimezoneOverride`` on the same session. Full-page JPEG screenshots
at 390 and 1280 px go to ``tests/artifacts/screenshots/`` (git-ignored), or to the folder
named by ``LFX_CAL_SCREENSHOTS``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import itertools
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from feeds.categories import ROLES
from feeds.ical import Revision
from feeds.load import load
from feeds.meaning import Rules
from feeds.model import Event
from lfx_cal.publish import publish
from lfx_cal.web import add_routes
from lfx_cal.web.links import add_event, google_add, outlook_add, subscribe_links
from lfx_cal.web.page import render_page
from scheduler.snapshot import Snapshot, build_snapshot
from tests import _icaljs
from tests.conftest import FIXTURES, ROOT
from tests.test_ical import validate
from tests.test_web_http import TERM, ZONE, Served, Site, State, example, snapshot_of

TODAY = dt.datetime.now(dt.UTC).date()
DAY = dt.timedelta(days=1)
CLOSE = dt.datetime.combine(TODAY + 10 * DAY, dt.time(18, 0), dt.UTC)
REVIEW = (TODAY + 3 * DAY, TODAY + 6 * DAY)
BEGINS = TODAY + 15 * DAY
CHANGED = dt.datetime.combine(TODAY - 3 * DAY, dt.time(23, 30), dt.UTC)
WIDTHS = (320, 360, 390, 768, 1280)
ZONES = ("Asia/Tokyo", "Asia/Kolkata", "America/New_York")
SHOTS = Path(os.environ.get("LFX_CAL_SCREENSHOTS") or ROOT / "tests" / "artifacts" / "screenshots")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--lang=en-US",
    "--window-size=1280,1600",
)


def term_document(folder: Path) -> Path:
    """A real YAML term schedule whose dates are relative to today."""
    path = folder / "term.yaml"
    path.write_text(
        f"term: {{year: {TODAY.year}, number: 3}}\nschedule:\n"
        f"  - key: proposals\n    label: Project Proposals Open\n"
        f"    start: {TODAY - 20 * DAY}\n    end: {TODAY - 5 * DAY}\n"
        f"  - key: applications\n    label: Mentee Applications Open\n"
        f"    start: {TODAY - 2 * DAY}\n    end: {CLOSE.date()}\n    time: 18:00 UTC\n"
        f"  - key: stipend\n    label: First Stipend Payments\n    start: {TODAY + DAY}\n"
        f"  - key: review\n    label: Mentors Review Applications\n"
        f"    start: {REVIEW[0]}\n    end: {REVIEW[1]}\n"
        f"  - key: kickoff\n    label: Mentorship Kick Off Call\n    start: {TODAY + 20 * DAY}\n"
        f'    time: "9:30"\n'  # no zone: a doubtful row
        f"  - key: begins\n    label: Mentorship Program Begins\n    start: {BEGINS}\n"
    )
    return path


def snapshot_with_change(timelines: list[Any]) -> Snapshot:
    """A snapshot whose last change is :data:`CHANGED` (so the page prints "Last change")."""
    uid = timelines[0].events[0].uid
    return build_snapshot(timelines, {uid: Revision(1, CHANGED)}, ZONE)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if webdriver is None or chromium is None or chromedriver is None:
        if os.environ.get("LFX_CAL_REQUIRE_BROWSER"):
            pytest.fail(
                "LFX_CAL_REQUIRE_BROWSER is set but chromium/chromedriver/selenium is missing"
            )
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="lfx-cal-chromium-")
    options = Options()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    browser.set_script_timeout(30)
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
        add_routes(app, State(snapshot_with_change(timelines)))
        with Served(app) as served:
            yield served


def width(driver: Any, pixels: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": pixels, "height": 900, "deviceScaleFactor": 1, "mobile": pixels < 700},
    )


def open_page(driver: Any, url: str, zone: str) -> None:
    """Load *url* under *zone* and wait for the page script's first tick."""
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})
    driver.get(url)
    deadline = time.monotonic() + 10
    while not driver.execute_script(
        "return !!document.querySelector('.countdown') &&"
        " document.querySelector('.countdown').textContent !== ''"
    ):
        assert time.monotonic() < deadline, "the page script did not run"
        time.sleep(0.02)


def item(driver: Any, title: str, within: str = "main") -> Any:
    for element in driver.find_elements("css selector", f"{within} li.deadline"):
        if element.find_element("css selector", ".title").get_attribute("textContent") == title:
            return element
    raise AssertionError(f"no deadline {title!r} in {within}")


def next_card(driver: Any) -> Any:
    cards = driver.find_elements("css selector", "#next-list > li.deadline")
    assert len(cards) == 1, "exactly one next-deadline card"
    return cards[0]


def test_phone_widths_no_sideways_scroll_and_screenshots(driver: Any, site: Served) -> None:
    open_page(driver, site.url(), "UTC")
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for pixels in WIDTHS:
            width(driver, pixels)
            scroll, inner = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert inner == pixels
            assert scroll <= inner, (pixels, scroll)
            table = driver.find_element("css selector", "table.feeds tr").value_of_css_property(
                "display"
            )
            assert table == ("block" if pixels < 640 else "table-row"), pixels  # cards on phones
            code = driver.find_element("css selector", "table.feeds code")
            assert code.size["height"] < 30, "a feed id wraps letter by letter"
            # the timeline picture keeps a legible size and scrolls inside its own box
            font = driver.execute_script(
                "var t = document.querySelector('svg.timeline text.label');"
                "return t.getBoundingClientRect().height"
            )
            assert font >= 9, (pixels, font)
            if pixels in (390, 1280):  # the whole page, top to bottom
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": pixels,
                        "height": height,
                        "deviceScaleFactor": 1,
                        "mobile": pixels < 700,
                    },
                )
                shot = driver.execute_cdp_cmd(
                    "Page.captureScreenshot", {"format": "jpeg", "quality": 80}
                )
                (SHOTS / f"page-{pixels}.jpg").write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert (SHOTS / "page-390.jpg").stat().st_size > 1000


def test_without_javascript_in_the_browser(driver: Any, site: Served) -> None:
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        width(driver, 390)
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
        driver.get(site.url())
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= 390, scroll
        card = next_card(driver)  # the mentee's next deadline, rendered by the server
        assert card.find_element("css selector", ".title").text == "Mentee Applications Open"
        at_home = CLOSE.astimezone(ZoneInfo(ZONE))
        shown = card.find_element("css selector", ".when time").text
        assert shown.endswith(f"{at_home:%H:%M} {at_home:%Z}"), shown  # the program zone
        assert driver.find_element("id", "viewer-zone").text == ZONE
        assert not driver.find_element("id", "roles").is_displayed()  # needs the script
        google = card.find_element("css selector", "a[data-add=google]").get_attribute("href")
        assert google.startswith("https://calendar.google.com/calendar/render?action=TEMPLATE")
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_countdowns_states_and_no_errors(driver: Any, site: Served) -> None:
    open_page(driver, site.url(), "UTC")
    first = driver.find_elements("css selector", ".upcoming-list li.deadline .title")
    titles = [e.get_attribute("textContent") for e in first]
    assert titles[:2] == ["First Stipend Payments", "Mentors Review Applications"]
    driver.find_element("id", "only-role").click()  # every role's rows
    countdown = item(driver, "Mentee Applications Open", ".upcoming-list")
    text = countdown.find_element("css selector", ".countdown").text
    assert re.fullmatch(r"closes in (9|10)d \d\dh \d\dm \d\ds", text), text
    review = item(driver, "Mentors Review Applications").find_element("css selector", ".countdown")
    assert re.fullmatch(r"opens in [23]d \d\dh \d\dm \d\ds", review.text), review.text
    stipend = item(driver, "First Stipend Payments").find_element("css selector", ".countdown")
    assert re.fullmatch(r"in \d\dh \d\dm \d\ds|in 1d \d\dh \d\dm \d\ds", stipend.text), stipend.text
    passed = item(driver, "Project Proposals Open").find_element("css selector", ".countdown")
    assert passed.text == "passed"
    flagged = item(driver, "Mentorship Kick Off Call").find_element("css selector", ".flag")
    assert flagged.is_displayed() and "no time zone" in flagged.get_attribute("title")
    assert len(driver.find_elements("css selector", "svg.timeline")) == 2
    assert driver.find_elements("css selector", "svg.timeline g.flagged")
    # an informational day that has begun reads "today"; a row whose time has come moves to past
    driver.execute_script(
        "var s = document.querySelector('.upcoming-list li[data-uid*=stipend] .countdown');"
        "s.setAttribute('data-opens', new Date(Date.now() - 1000).toISOString());"
        "var c = document.querySelector('.upcoming-list li[data-uid*=applications] .countdown');"
        "c.setAttribute('data-until', new Date(Date.now() - 1000).toISOString());"
    )
    before = stipend.text
    time.sleep(1.1)
    assert (
        item(driver, "First Stipend Payments", ".upcoming-list")
        .find_element("css selector", ".countdown")
        .text
        == "today"
    ), before
    moved = driver.find_element("css selector", "#past-list li.deadline .title").text
    assert moved == "Mentee Applications Open"
    # the mentee has no deadline left: the next card shows the next date of any kind
    assert next_card(driver).find_element("css selector", ".title").text == (
        "First Stipend Payments"
    )
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # no CSP violation, no script error
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources == []  # self-contained: nothing fetched besides the page


@pytest.mark.parametrize("zone", ZONES)
def test_next_deadline_in_forced_zones(driver: Any, site: Served, zone: str) -> None:
    open_page(driver, site.url(), zone)
    legacy = {"Asia/Kolkata": "Asia/Calcutta"}  # ICU still reports the old name
    assert driver.find_element("id", "viewer-zone").text in (zone, legacy.get(zone))
    card = next_card(driver)
    assert card.find_element("css selector", ".title").text == "Mentee Applications Open"
    local = CLOSE.astimezone(ZoneInfo(zone))
    shown = card.find_element("css selector", ".when time")
    assert shown.get_attribute("datetime") == CLOSE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert shown.get_attribute("data-local") == local.strftime("%Y-%m-%d %H:%M")
    text = shown.text
    assert f"{local:%b} {local.day}, {local.year}" in text, text
    assert f"{local.hour % 12 or 12}:{local:%M} {'AM' if local.hour < 12 else 'PM'}" in text, text
    program = card.find_element("css selector", ".program")
    assert program.is_displayed()
    at_home = CLOSE.astimezone(ZoneInfo(ZONE))
    assert f"{at_home:%H:%M} {at_home:%Z} ({ZONE})" in program.text, program.text
    countdown = card.find_element("css selector", ".countdown").text
    left = CLOSE - dt.datetime.now(dt.UTC)
    days = (left.days, (left - dt.timedelta(seconds=5)).days)  # a whole day may just turn
    assert re.fullmatch(rf"closes in ({days[0]}|{days[1]})d \d\dh \d\dm \d\ds", countdown), (
        countdown
    )
    # "Last change" is in the viewer's zone too
    change = driver.find_element("css selector", "header time")
    assert change.get_attribute("data-local") == CHANGED.astimezone(ZoneInfo(zone)).strftime(
        "%Y-%m-%d %H:%M"
    )
    # a date-only deadline is the same calendar day in every zone
    day = item(driver, "Mentorship Program Begins").find_element("css selector", ".when time")
    assert day.text == f"{BEGINS:%a}, {BEGINS:%b} {BEGINS.day}, {BEGINS.year}"


def test_role_choice_filters_and_is_remembered(driver: Any, site: Served) -> None:
    try:
        role_choice(driver, site)
    finally:  # the other tests start from the default role
        driver.execute_script("localStorage.clear()")


def role_choice(driver: Any, site: Served) -> None:
    open_page(driver, site.url(), "UTC")
    stipend = item(driver, "First Stipend Payments", ".upcoming-list")
    assert stipend.is_displayed()  # a mentee gets stipend dates, but they are not the next card
    driver.find_element("css selector", "#roles input[value=mentor]").click()
    card = next_card(driver)
    assert card.find_element("css selector", ".title").text == "Mentors Review Applications"
    assert card.find_element("css selector", ".countdown").text.startswith("opens in ")
    assert "role=mentor" in driver.current_url
    role_feed = driver.find_element("css selector", "#role-feed a.webcal").get_attribute("href")
    assert role_feed == "webcal:" + site.url("/feeds/mentor.ics").split(":", 1)[1]
    assert not stipend.is_displayed()  # filtered to the mentor's dates
    driver.find_element("id", "only-role").click()
    assert stipend.is_displayed()
    open_page(driver, site.url(), "UTC")  # no ?role=: localStorage remembers
    assert driver.find_element("css selector", "#roles input[value=mentor]").is_selected()
    assert next_card(driver).find_element("css selector", ".title").text == (
        "Mentors Review Applications"
    )
    open_page(driver, site.url("/?role=admin"), "UTC")
    assert driver.find_element("id", "next-role").text == "organizer (everything)"
    # role presets pick the named role feed, not nine category= parameters
    driver.find_element("css selector", "#picker button[data-role=mentor]").click()
    assert driver.find_element("id", "picked-url").text == site.url("/feeds/mentor.ics")
    outlook = driver.find_element("css selector", "#picked a.outlook").get_attribute("href")
    assert "category" not in outlook and outlook.endswith("&name=LFX%20Mentorship%20(mentor)")
    # alarms go to the webcal and download links only (Google and Outlook ignore them)
    driver.find_element("css selector", "#pick-alarms option[value='7d,1d']").click()
    webcal = driver.find_element("css selector", "#picked a.webcal").get_attribute("href")
    google = driver.find_element("css selector", "#picked a.google").get_attribute("href")
    assert webcal.endswith("/feeds/mentor.ics?alarms=7d,1d") and "alarms" not in google
    with urllib.request.urlopen(site.url("/feeds/mentor.ics?alarms=7d,1d"), timeout=10) as reply:
        body = reply.read().decode()
    assert "Mentors Review Applications" in body and "TRIGGER" in body
    stipend_box = driver.find_element("css selector", "#pick-categories input[value=stipend]")
    assert not stipend_box.is_enabled()  # a role feed never has it


def _decode_google(href: str) -> dict[str, str]:
    parts = urlsplit(href)
    assert parts.netloc == "calendar.google.com" and parts.path == "/calendar/render"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_add_to_calendar_links_and_single_event_ics(driver: Any, site: Served) -> None:
    open_page(driver, site.url(), "Asia/Tokyo")
    card = next_card(driver)
    assert "keep reminders" in driver.find_element("css selector", "#next .hint").text
    google = _decode_google(
        card.find_element("css selector", "a[data-add=google]").get_attribute("href")
    )
    assert google["action"] == "TEMPLATE"
    end = CLOSE + dt.timedelta(minutes=15)
    assert google["dates"] == f"{CLOSE:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    assert google["text"] == "Closes: Mentee applications"
    assert f"LFX {TODAY.year} T3" in google["details"]
    outlook = card.find_element("css selector", "a[data-add=outlook]").get_attribute("href")
    query = {k: v[0] for k, v in parse_qs(urlsplit(outlook).query).items()}
    assert urlsplit(outlook).netloc == "outlook.live.com"
    assert query["startdt"] == f"{CLOSE:%Y-%m-%dT%H:%M:%SZ}" and "allday" not in query
    begins = item(driver, "Mentorship Program Begins", ".upcoming-list")
    whole_day = _decode_google(
        begins.find_element("css selector", "a[data-add=google]").get_attribute("href")
    )
    assert whole_day["dates"] == f"{BEGINS:%Y%m%d}/{BEGINS + DAY:%Y%m%d}"
    review = item(driver, "Mentors Review Applications", ".upcoming-list")
    review_google = _decode_google(
        review.find_element("css selector", "a[data-add=google]").get_attribute("href")
    )
    assert review_google["dates"] == f"{REVIEW[1]:%Y%m%d}/{REVIEW[1] + DAY:%Y%m%d}"
    href = card.find_element("css selector", "a[data-add=ics]").get_attribute("href")
    with urllib.request.urlopen(href, timeout=10) as reply:
        assert reply.headers["Content-Type"] == "text/calendar; charset=utf-8"
        body = reply.read()
    calendar = validate(body)  # icalendar's .errors empty, vobject's validate(), line lengths
    events = calendar.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events][-1] == (
        f"LFX {TODAY.year} T3 · Closes: Mentee applications"
    )
    closing = events[-1]
    assert closing["DTSTART"].dt == CLOSE
    triggers = sorted(a["TRIGGER"].dt for a in closing.walk("VALARM"))
    assert triggers == [-dt.timedelta(days=7), -dt.timedelta(days=1)]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(site.url("/events/nothing-here.ics"), timeout=10)
    assert missing.value.code == 404


def axe_violations(driver: Any, rules: list[str] | None = None) -> list[list[Any]]:
    """axe-core's violations on the loaded page: rule id, impact, node count, first node."""
    only = {"runOnly": {"type": "rule", "values": rules}} if rules else {}
    found: list[list[Any]] = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "var options = Object.assign({resultTypes: ['violations']}, arguments[0]);"
        "axe.run(document, options)"
        ".then(function (r) { done(r.violations.map(function (v) {"
        "  return [v.id, v.impact, v.nodes.length, v.nodes[0].target.join(' ')]; })); })"
        ".catch(function (e) { done([['axe failed', String(e), 0, '']]); });",
        only,
    )
    return found


def test_accessibility_and_keyboard(driver: Any, site: Served) -> None:
    axe = _icaljs.package("axe-core")
    if axe is None:
        if os.environ.get("LFX_CAL_REQUIRE_NODE") == "1":
            pytest.fail("LFX_CAL_REQUIRE_NODE=1 but axe-core could not be installed (npm ci)")
        pytest.skip("axe-core not installed (cd tests/js && npm ci)")
    open_page(driver, site.url(), "UTC")
    width(driver, 390)
    try:
        driver.execute_script((axe / "axe.min.js").read_text(encoding="utf-8"))
        result = axe_violations(driver)
        bad = [v for v in result if v[1] in ("serious", "critical")]
        assert bad == [], bad
        assert not [v for v in result if v[0] == "color-contrast"], result
        # the dark scheme passes the contrast rule too
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        try:
            background = driver.execute_script(
                "return getComputedStyle(document.body).backgroundColor"
            )
            assert background == "rgb(20, 23, 29)"  # the dark scheme is in effect
            assert axe_violations(driver, ["color-contrast"]) == []
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        # every control is reachable with the Tab key, in one pass
        controls = driver.execute_script(
            "window.__seen = new Set();"
            "document.addEventListener('focusin', function (e) { window.__seen.add(e.target); });"
            "var all = document.querySelectorAll('a[href], button, input, select, [tabindex]');"
            "return Array.prototype.filter.call(all, function (el) {"
            "  return el.getClientRects().length > 0 && !el.disabled; }).length;"
        )
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        driver.execute_script("document.activeElement && document.activeElement.blur()")
        chain = ActionChains(driver)
        for _ in range(controls + 5):
            chain.send_keys(Keys.TAB)
        chain.perform()
        missed = driver.execute_script(
            "var all = document.querySelectorAll('a[href], button, input, select, [tabindex]');"
            "return Array.prototype.filter.call(all, function (el) {"
            "  return el.getClientRects().length > 0 && !el.disabled && !window.__seen.has(el)"
            "   && !(el.type === 'radio' && !el.checked); })"
            ".map(function (el) { return el.outerHTML.slice(0, 80); });"
        )
        assert missed == []
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_published_site_in_the_browser(driver: Any, tmp_path: Path) -> None:
    timelines = [load(str(term_document(tmp_path)), zone=ZONE)]
    out = tmp_path / "site"
    publish(snapshot_of(timelines), out)
    assert sorted(p.name for p in (out / "events").iterdir())[:2] == [
        f"lfx-{TODAY.year}-t3-applications.ics",
        f"lfx-{TODAY.year}-t3-begins.ics",
    ]
    for path in (out / "events").iterdir():  # every single-event file is valid, with alarms
        assert validate(path.read_bytes()).walk("VALARM"), path.name
    app = web.Application()
    app.router.add_static("/pages/", out)
    with Served(app) as served:
        open_page(driver, served.url("/pages/index.html"), "Asia/Tokyo")
        shown = next_card(driver).find_element("css selector", ".when time")
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
        assert not driver.find_elements("id", "pick-categories")  # no query filters
        assert not driver.find_element("id", "file-warning").is_displayed()
        ics = next_card(driver).find_element("css selector", "a[data-add=ics]")
        with urllib.request.urlopen(ics.get_attribute("href"), timeout=10) as response:
            assert b"BEGIN:VALARM" in response.read()
    # opened from the disk, the page says to publish with --base-url
    driver.get((out / "index.html").as_uri())
    warning = driver.find_element("id", "file-warning")
    assert warning.is_displayed() and "--base-url" in warning.text


# The page's HTML as rendered and served (no browser needed).


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
    assert "@font-face" not in html and "@import" not in html
    order = [html.index(f'id="{name}"') for name in ("next", "upcoming", "subscribe", "timelines")]
    assert order == sorted(order)
    assert html.count("<svg") == 3
    for name in ("all", TERM, "lfx-2027-t3", *ROLES):
        assert f'data-path="/feeds/{name}.ics"' in html
    assert feed_site.get("/", If_None_Match=reply.headers["ETag"]).status == 304


def test_without_javascript_links_are_absolute_and_times_in_program_zone() -> None:
    timeline = example()
    snapshot = snapshot_of([timeline])
    first = timeline.events[0]
    html = render_page(
        snapshot, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), base_url="https://cal.example.org"
    )
    assert 'href="webcal://cal.example.org/feeds/mentee.ics"' in html
    name = first.uid.split("@")[0]
    assert f'href="https://cal.example.org/events/{name}.ics"' in html
    assert re.search(r"<time data-kind=\"instant\"[^>]*>[^<]* P[SD]T</time>", html)


def test_after_the_term() -> None:
    timeline = example()
    late = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    html = render_page(snapshot_of([timeline]), late)
    after = html[html.index('id="upcoming-empty"') :]
    assert after.startswith('id="upcoming-empty">')  # shown, not hidden
    assert "Nothing is upcoming." in after and "not published yet" in after
    assert timeline.term.title in after or timeline.term.id in after
    assert 'data-path="/feeds/mentee.ics"' in after
    assert '<p class="empty" id="next-none">' in html


def test_no_secrets_from_source_urls(feed_site: Site) -> None:
    timeline = example()
    secret = "https://user:hunter2@example.org/t/README.md?token=s3cret#frag"
    events = tuple(dataclasses.replace(e, source=secret) for e in timeline.events)
    leaky = dataclasses.replace(timeline, source=secret, url=secret, events=events)
    feed_site.state.snapshot = snapshot_of([leaky])
    name = timeline.events[0].uid.split("@")[0]
    for path in (
        "/",
        "/api/timelines",
        "/feeds/all.ics",
        f"/feeds/{TERM}.ics",
        f"/events/{name}.ics",
    ):
        body = feed_site.get(path).body
        assert b"hunter2" not in body and b"s3cret" not in body, path
        assert b"example.org/t/README.md" in body.replace(b"\r\n ", b"").replace(b"%2F", b"/"), path


def test_add_event_follows_the_deadline_model() -> None:
    """What one tap adds: the close, as the meaning model reads it (no browser)."""
    rules = Rules(ZONE)
    late = Rules(ZONE, deadline_time=dt.time(17, 0))
    day = dt.date(2027, 3, 10)
    due = Event("t-due@lfx-cal", "lfx-2027-t1", "Proposals due", day, categories=("proposal",))
    whole = add_event(due, due.term, rules, "https://example.org/t")
    assert (whole.start, whole.end, whole.title) == (day, day + DAY, "Proposals due (end of day)")
    assert whole.details.endswith("Source: https://example.org/t")
    outlook = parse_qs(urlsplit(outlook_add(whole)).query)
    assert outlook["allday"] == ["true"] and outlook["startdt"] == ["2027-03-10"]
    timed = add_event(due, due.term, late, "")
    five_pm = dt.datetime(2027, 3, 11, 1, 0, tzinfo=dt.UTC)  # 17:00 PST
    assert (timed.start, timed.end) == (five_pm, five_pm + dt.timedelta(minutes=15))
    assert _decode_google(google_add(timed))["dates"] == "20270311T010000Z/20270311T011500Z"
    call = dt.datetime(2027, 3, 5, 17, 30, tzinfo=dt.UTC)
    kickoff = Event("t-k@lfx-cal", "lfx-2027-t1", "Kick-off call", call, categories=("kickoff",))
    assert add_event(kickoff, kickoff.term, rules).start == call
    period = Event(
        "t-a@lfx-cal", "lfx-2027-t1", "Mentee Applications Open", day, day + 5 * DAY,
        categories=("application",),
    )  # fmt: skip
    opened = add_event(period, period.term, rules)
    assert opened.title == "Closes: Mentee applications (end of day)"
    assert (opened.start, opened.end) == (day + 5 * DAY, day + 6 * DAY)
    assert "Open 2027-03-10 to 2027-03-15." in opened.details


@pytest.fixture(scope="module")
def full_site() -> Iterator[Served]:
    """The page with every section: the sign-up form on and change records present."""
    from lfx_cal.web.signup_form import SignupForm
    from scheduler.schema import ChangeRecord, stamp

    with tempfile.TemporaryDirectory() as folder:
        timeline = load(str(term_document(Path(folder))), zone=ZONE)
        uid = timeline.events[1].uid
        was = stamp(CLOSE - 2 * DAY)
        records = [  # newest first, as the store hands them over
            ChangeRecord("t", uid, "moved", f"{TODAY - 2 * DAY} → {was}",
                         f"{TODAY - 2 * DAY} → {stamp(CLOSE)}", stamp(CHANGED)),
            ChangeRecord("t", "lfx-gone@lfx-cal", "removed", str(TODAY + 30 * DAY), None,
                         stamp(CHANGED - DAY)),
        ]  # fmt: skip
        snapshot = build_snapshot([timeline], {}, ZONE, changes=records)
        app = web.Application()
        form = SignupForm((dt.timedelta(days=7), dt.timedelta(days=1), dt.timedelta(hours=1)), ZONE)
        add_routes(app, State(snapshot), signup=form)
        with Served(app) as served:
            yield served


def test_every_section_at_every_width(driver: Any, full_site: Served) -> None:
    """Sign-up form and changed dates: no sideways scroll, fields stacked, times local."""
    open_page(driver, full_site.url(), "Asia/Tokyo")
    try:
        assert driver.find_elements("css selector", "#signup-form") != []
        changed = driver.find_element("css selector", "#changes time")
        # the moment of the change is written in the viewer's zone, like every time on the page
        assert changed.get_attribute("datetime") == f"{CHANGED:%Y-%m-%dT%H:%M:%SZ}"
        local = CHANGED.astimezone(ZoneInfo("Asia/Tokyo"))
        assert changed.get_attribute("data-local") == f"{local:%Y-%m-%d %H:%M}"
        # and so are the old and new dates of each change
        moved = driver.find_elements("css selector", "#changes li")[0]
        times = moved.find_elements("css selector", "time[data-kind]")
        assert [e.get_attribute("datetime") for e in times[1:]] == [
            str(TODAY - 2 * DAY), f"{CLOSE - 2 * DAY:%Y-%m-%dT%H:%M:%SZ}",
            str(TODAY - 2 * DAY), f"{CLOSE:%Y-%m-%dT%H:%M:%SZ}",
        ]  # fmt: skip
        close = CLOSE.astimezone(ZoneInfo("Asia/Tokyo"))
        assert times[-1].get_attribute("data-local") == f"{close:%Y-%m-%d %H:%M}"
        for pixels in WIDTHS:
            width(driver, pixels)
            scroll, inner = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert scroll <= inner, (pixels, scroll)
            # each field of the form on a line of its own (a label never trails the field above)
            tops = driver.execute_script(
                "return Array.prototype.map.call("
                "document.querySelectorAll('#signup-form > label, #signup-form > fieldset'),"
                " function (el) { var r = el.getBoundingClientRect(); return [r.top, r.bottom]; })"
            )
            assert len(tops) == 5
            stacked = all(b[0] >= a[1] - 1 for a, b in itertools.pairwise(tops))
            assert stacked, (pixels, tops)
        axe = _icaljs.package("axe-core")
        if axe is not None:
            width(driver, 320)
            driver.execute_script((axe / "axe.min.js").read_text(encoding="utf-8"))
            bad = [v for v in axe_violations(driver) if v[1] in ("serious", "critical")]
            assert bad == [], bad
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
