"""Self-service e-mail sign-up end to end: Chromium, the served page, aiosmtpd, the ledger.

A real ``make_app`` (daemon, SQLite, the e-mail backend) on loopback; headless
Chromium (in Asia/Tokyo) fills the form on the page; aiosmtpd receives the
confirmation; the test follows the link, confirms with the button, a reminder
due a minute later (injected clock) arrives with List-Unsubscribe headers and
Tokyo times; the RFC 8058 one-click POST stops the next one. Replayed and
expired tokens, forged posts and floods are refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import http.client
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp import web

from lfx_cal.server import DAEMON, make_app
from scheduler.config import parse_config
from scheduler.ledger_base import Kind, Status
from scheduler.store import Store
from scheduler.subscribers import Full, Prefs, Purpose, Signer, Subscribers
from tests._daemon import free_port, write_term
from tests._servers_smtp import Handler, start_plain
from tests.test_web_http import Served

SECRET = "s" * 40
T = TypeVar("T")


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class Bound(Served):
    """:class:`Served` on a port chosen beforehand (the config's public_url names it)."""

    def __init__(self, app: web.Application, port: int) -> None:
        super().__init__(app)
        self.port = port

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def run(self, work: Callable[[], Any]) -> Any:
        """Run ``work()`` (a coroutine factory) on the app's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(work(), self.loop).result(20)

    def post(self, path: str, fields: dict[str, str], **headers: str) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            body = urlencode(fields)
            head = {"Content-Type": "application/x-www-form-urlencoded"}
            head |= {k.replace("_", "-"): v for k, v in headers.items()}
            connection.request("POST", path, body=body, headers=head)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()


def wait_for(check: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


CONFIG = """
[service]
database = "sqlite:///{db}"
timezone = "America/Los_Angeles"
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}/"
signup = true
signup_secret_env = "LFX_CAL_TEST_SIGNUP_SECRET"
signup_leads = ["1d", "1h"]
signup_per_ip = {per_ip}
signup_per_address = 2
[[sources]]
name = "t"
path = "{doc}"
[notifiers.email]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "LFX Reminders <lfx@example.org>"
"""


def driver_or_skip() -> Any:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    if webdriver is None or chromium is None or driver is None:
        if os.environ.get("LFX_CAL_REQUIRE_BROWSER"):
            pytest.fail("LFX_CAL_REQUIRE_BROWSER is set but chromium/chromedriver is missing")
        pytest.skip("headless Chromium not installed")
    options = Options()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="lfx-cal-signup-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options), profile


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    deadline = now + dt.timedelta(days=1, minutes=1)  # the 1-day reminder is due in a minute
    doc = tmp_path / "term.md"
    write_term(doc, [("Mentee Applications Close", deadline)])
    handler = Handler()
    smtp = start_plain(handler)
    port = free_port()
    text = CONFIG.format(
        db=(tmp_path / "s.db").as_posix(), doc=doc.as_posix(), port=port, smtp=smtp.port, per_ip=4
    )
    config = parse_config(text, str(tmp_path / "c.toml"))
    monkeypatch.setenv("LFX_CAL_TEST_SIGNUP_SECRET", SECRET)
    clock = Clock(now)
    app = make_app(config, feed_url=f"http://127.0.0.1:{port}/feeds/all.ics", clock=clock)
    try:
        with Bound(app, port) as served:
            # the first poll; 30 s, not 10: three workers and a browser share two cores in CI
            wait_for(lambda: b"Mentee" in served.get("/api/timelines").body, timeout=30)
            yield {
                "served": served,
                "smtp": handler,
                "clock": clock,
                "deadline": deadline,
                "config": config,
                "daemon": app[DAEMON],
            }
    finally:
        smtp.stop()


def link_in(raw: bytes, path: str) -> str:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(rf"(http://\S+{path}\?t=\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def test_sign_up_confirm_remind_and_one_click_unsubscribe(
    world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    served: Bound = world["served"]
    smtp: Handler = world["smtp"]
    clock: Clock = world["clock"]
    browser, profile = driver_or_skip()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
        browser.get(served.url("/"))
        form = browser.find_element(By.ID, "signup-form")
        zone = form.find_element(By.NAME, "zone")
        assert zone.get_attribute("value") == "Asia/Tokyo"  # detected by the pinned script
        form.find_element(By.NAME, "email").send_keys("Mentee@Example.org")
        Select(form.find_element(By.NAME, "role")).select_by_value("mentee")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: "Check your inbox" in browser.page_source)
        confirmation = wait_for(lambda: smtp.messages)[0]
        assert confirmation.rcpt_tos == ["mentee@example.org"]
        link = link_in(confirmation.content, "/confirm")
        browser.get(link)  # opening the link (a mail scanner would) confirms nothing
        assert "Confirm my subscription" in browser.page_source
        token = dict(p.split("=", 1) for p in urlsplit(link).query.split("&"))["t"]
        browser.find_element(By.ID, "confirm").click()
        wait_for(lambda: "You are subscribed" in browser.page_source)
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)

    # A replayed confirmation is refused (the token was used).
    origin = served.url("").rstrip("/")
    assert served.post("/confirm", {"t": token}, Origin=origin)[0] == 410

    # The 1-day reminder, due a minute after sign-up, in the subscriber's zone and headers.
    daemon = world["daemon"]
    jobs = sorted(
        (j for j in daemon.plan() if j.kind == Kind.REMINDER), key=lambda j: j.lead, reverse=True
    )
    assert [j.lead for j in jobs] == [dt.timedelta(days=1), dt.timedelta(hours=1)]
    clock.now = jobs[0].due
    served.run(lambda: daemon.courier.fire(jobs[0]))
    reminder = wait_for(lambda: smtp.messages[1:])[0]
    mail = email.message_from_bytes(reminder.content, policy=email.policy.default)
    assert reminder.rcpt_tos == ["mentee@example.org"]
    assert "JST" in str(mail["Subject"]) and "in 1 day" in str(mail["Subject"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(mail["List-Unsubscribe"])
    https, mailto = re.findall(r"<([^>]+)>", unsubscribe)
    assert https.startswith(f"{origin}/unsubscribe?t=") and mailto.startswith("mailto:lfx@")
    assert "/manage?t=" in mail.get_body(("plain",)).get_content()

    # The address is in none of the public or operational outputs, nor in INFO logs.
    for path in ("/metrics", "/healthz", "/api/timelines", "/", "/feeds/all.ics"):
        assert b"example.org" not in served.get(path).body.lower(), path
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert ours and not [m for m in ours if "example.org" in m.lower()]  # aiosmtpd's are not

    # RFC 8058 one-click: a form POST, no cookie, no origin; pending deliveries go at once.
    path = https.removeprefix(origin)
    opened = served.get(path)  # a client that opens the link gets a button, nothing more
    assert opened.status == 200 and b'id="unsubscribe-button"' in opened.body
    assert served.post(path, {"List-Unsubscribe": "One-Click"})[0] == 200
    with Store(world["config"].service.database) as store:
        rows = store.deliveries()
    assert not [d for d in rows if d.key.subscription.startswith("subscriber-")]
    clock.now = jobs[1].due
    served.run(lambda: daemon.courier.fire(jobs[1]))
    time.sleep(0.3)
    assert len(smtp.messages) == 2  # nothing after the unsubscribe

    # An expired confirmation link is refused.
    status, _ = served.post(
        "/signup",
        {"email": "late@example.org", "lead": "1d", "zone": "UTC", "role": ""},
        Sec_Fetch_Site="same-origin",
    )
    assert status == 200
    late = link_in(wait_for(lambda: smtp.messages[2:])[0].content, "/confirm")
    clock.now += dt.timedelta(hours=49)
    assert served.get(late.removeprefix(origin)).status == 410


def test_forged_posts_and_floods_are_refused(world: dict[str, Any]) -> None:
    served: Bound = world["served"]
    page = served.get("/").body.decode()  # without JavaScript: a plain form, the zone filled in
    assert '<form id="signup-form" method="post" action="/signup">' in page
    assert 'name="zone" value="America/Los_Angeles"' in page
    own = served.get("/signup")  # the form on its own page carries a double-submit token
    cookie = own.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert f'name="csrf" value="{value}"' in own.body.decode()
    assert "form-action 'self'" in own.headers["Content-Security-Policy"]
    fields = {"email": "x@example.org", "lead": "1d", "zone": "UTC"}
    assert served.post("/signup", fields)[0] == 403  # no proof at all
    assert served.post("/signup", fields, Sec_Fetch_Site="cross-site")[0] == 403
    assert served.post("/signup", fields, Origin="http://evil.example")[0] == 403
    assert served.post("/signup", {**fields, "csrf": "abc"}, Cookie="lfx_csrf=abd")[0] == 403
    assert served.post("/signup", {**fields, "csrf": "abc"}, Cookie="lfx_csrf=abc")[0] == 200
    # The same answer for a known address; its mails stop at the per-address limit (2).
    answers = {served.post("/signup", fields, Sec_Fetch_Site="same-origin")[1] for _ in range(2)}
    assert len(answers) == 1
    # A flood from one client: over signup_per_ip (4 an hour) is refused.
    statuses = [
        served.post(
            "/signup", {**fields, "email": f"f{i}@example.org"}, Sec_Fetch_Site="same-origin"
        )[0]
        for i in range(3)
    ]
    assert statuses == [200, 429, 429]  # the fourth request of the hour passes, then no more
    time.sleep(0.3)
    to_x = [m for m in world["smtp"].messages if m.rcpt_tos == ["x@example.org"]]
    assert len(to_x) == 2  # the per-address limit: three accepted requests, two mails


def test_tokens_and_pending_cap(tmp_path: Path) -> None:
    rows = Subscribers(f"sqlite:///{tmp_path / 's.db'}")
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    prefs = Prefs(None, (dt.timedelta(days=1),), "UTC")
    limits = {"ttl": dt.timedelta(hours=1), "max_pending": 2, "per_address": 3}
    for name in ("a", "b"):
        mail, _ = rows.request(f"{name}@example.org", prefs, now, **limits)
        assert mail is not None
    with pytest.raises(Full):
        rows.request("c@example.org", prefs, now, **limits)
    # Known addresses are refused alike when full (no enumeration through the cap).
    with pytest.raises(Full):
        rows.request("a@example.org", prefs, now, **limits)
    # Expired sign-ups are deleted, which makes room again.
    later = now + dt.timedelta(hours=2)
    assert rows.request("c@example.org", prefs, later, **limits)[0] is not None
    signer = Signer(SECRET)
    token = signer.make(Purpose.CONFIRM, 7, "nonce", later)
    assert signer.read(Purpose.CONFIRM, token, now) == (7, "nonce")
    for bad in (token[:-2] + "xx", token.replace(".nonce.", ".other."), "1.2.3"):
        with pytest.raises(ValueError):
            signer.read(Purpose.CONFIRM, bad, now)
    with pytest.raises(ValueError):  # a confirm token does not manage
        signer.read(Purpose.MANAGE, token, now)
    with pytest.raises(ValueError):
        signer.read(Purpose.CONFIRM, token, later + dt.timedelta(seconds=1))
    rows.close()


def test_operator_commands_list_export_remove(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lfx_cal.cli import cli

    db = tmp_path / "s.db"
    (tmp_path / "c.toml").write_text(f'[service]\ndatabase = "sqlite:///{db.as_posix()}"\n')
    rows = Subscribers(f"sqlite:///{db}")
    now = dt.datetime.now(dt.UTC)
    prefs = Prefs("mentee", (dt.timedelta(days=1),), "Asia/Tokyo")
    rows.request("a@example.org", prefs, now, ttl=dt.timedelta(hours=1), max_pending=9,
                 per_address=3)  # fmt: skip
    rows.slack_subscribe("U0SLACK", prefs, now)
    config = ["--config", str(tmp_path / "c.toml")]
    listed = CliRunner().invoke(cli, ["subscribers", "list", *config])
    assert listed.exit_code == 0 and "a@example.org" in listed.output and "U0SLACK" in listed.output
    assert "\tmentee\t1d\tAsia/Tokyo\t" in listed.output  # leads as the form and config write them
    exported = CliRunner().invoke(cli, ["subscribers", "export", *config])
    records = [json.loads(line) for line in exported.output.splitlines()]
    assert {r["address"] for r in records} == {"a@example.org", "U0SLACK"}
    assert records[0]["zone"] == "Asia/Tokyo" and records[0]["state"] == "pending"
    removed = CliRunner().invoke(cli, ["subscribers", "remove", "A@Example.org", *config])
    assert removed.exit_code == 0 and [r.address for r in rows.listing()] == ["U0SLACK"]
    again = CliRunner().invoke(cli, ["subscribers", "remove", "a@example.org", *config])
    assert again.exit_code == 1
    rows.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 's.db'}"
        return
    from tests._postgres import fresh_database

    with fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


def test_life_cycle_on_sqlite_and_postgresql(database: str) -> None:
    from scheduler.ledger_base import DeliveryKey

    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    prefs = Prefs(None, (dt.timedelta(days=1),), "UTC")
    rows = Subscribers(database)
    limits = {"ttl": dt.timedelta(hours=1), "max_pending": 9, "per_address": 3}
    mail, _ = rows.request("p@example.org", prefs, now, **limits)
    assert mail is not None and rows.pending(mail.subscriber, mail.nonce) is not None
    confirmed = rows.confirm(mail.subscriber, mail.nonce, now)
    assert confirmed is not None and confirmed.state == "confirmed"
    assert rows.confirm(mail.subscriber, mail.nonce, now) is None  # once only
    again, _ = rows.request("P@example.org", Prefs("mentor", prefs.leads, "UTC"), now, **limits)
    assert again is not None and again.kind == "known"  # choices untouched
    assert rows.listing()[0].prefs.role is None
    with Store(database) as store:
        key = DeliveryKey(confirmed.name, Kind.REMINDER, "e@x", 86400, "2030-01-03T00:00:00Z",
                          "p@example.org")  # fmt: skip
        store.ensure([(key, now)], now)
        assert rows.change(confirmed.id, confirmed.manage_nonce, Prefs("mentor", prefs.leads,
                           "Asia/Tokyo"), now)  # fmt: skip
        assert not store.deliveries()  # planned for the old choices: dropped
        store.ensure([(key, now)], now)
        assert not rows.unsubscribe(confirmed.id, "wrong-nonce")
        assert rows.unsubscribe(confirmed.id, confirmed.manage_nonce)
        assert not store.deliveries() and not rows.listing()
        assert Status.PENDING not in store.counts()
    rows.close()


def test_an_address_the_email_parser_rejects_is_a_400_that_echoes_it(
    world: dict[str, Any],
) -> None:
    served: Bound = world["served"]
    origin = served.url("").rstrip("/")
    fields = {"email": "m@example..org", "lead": "1d", "zone": "UTC", "role": "mentee"}
    status, page = served.post("/signup", fields, Origin=origin)  # HeaderParseError inside
    assert (status, escape("'m@example..org' is not an address") in page) == (400, True)
    assert not world["smtp"].messages


def test_manage_page_changes_choices_with_csrf_proof(world: dict[str, Any]) -> None:
    served: Bound = world["served"]
    origin = served.url("").rstrip("/")
    fields = {"email": "m@example.org", "lead": "1d", "zone": "UTC", "role": "mentee"}
    assert served.post("/signup", fields, Origin=origin)[0] == 200
    link = link_in(wait_for(lambda: world["smtp"].messages)[0].content, "/confirm")
    token = link.split("?t=", 1)[1]
    assert served.post("/confirm", {"t": token})[0] == 403  # no proof
    status, page = served.post("/confirm", {"t": token}, Origin=origin)
    assert status == 200
    manage = re.search(r'href="(http://[^"]+/manage\?t=[^"]+)"', page)
    assert manage
    path = manage.group(1).removeprefix(origin)
    form = served.get(path)
    assert form.status == 200 and b'id="unsubscribe-button"' in form.body
    assert re.search(rb"<body><main>.*</main></body>", form.body)  # one landmark holds it all
    change = {"t": path.split("?t=", 1)[1], "lead": "1h", "zone": "Europe/Berlin", "role": ""}
    assert served.post("/manage", change, Sec_Fetch_Site="cross-site")[0] == 403
    assert served.post("/manage", {**change, "zone": "Mars/Base"}, Origin=origin)[0] == 400
    assert served.post("/manage", change, Origin=origin)[0] == 200
    mine = [s for s in world["daemon"].subscriptions() if s.name.startswith("subscriber-")]
    assert [(s.zone, s.leads) for s in mine] == [("Europe/Berlin", (dt.timedelta(hours=1),))]
    assert served.post("/manage", {**change, "t": change["t"] + "x"}, Origin=origin)[0] == 410


def test_sign_up_needs_its_settings() -> None:
    from scheduler.config import ConfigError
    from scheduler.preflight import check_self_service

    url = 'public_url = "https://cal.example.org/"\n'
    base = '[service]\nsignup = true\nsignup_secret_env = "S"\n' + url
    email = '[notifiers.email]\nhost = "h"\nfrom = "a@example.org"\n'
    with pytest.raises(ConfigError, match=r"service\.signup.*\[notifiers\.email\]"):
        parse_config(base)
    with pytest.raises(ConfigError, match=r"signup_secret_env.*missing"):
        parse_config("[service]\nsignup = true\n" + url + email)
    with pytest.raises(ConfigError, match=r"public_url.*missing"):
        parse_config('[service]\nsignup = true\nsignup_secret_env = "S"\n' + email)
    config = parse_config(base + email)
    with pytest.raises(ConfigError, match="shorter than 32"):
        check_self_service(config, {"S": "short"})
    check_self_service(config, {"S": SECRET})
    with pytest.raises(ConfigError, match="token_env"):
        check_self_service(
            parse_config('[notifiers.slack]\nwebhook_env = "W"\nsigning_secret_env = "G"\n'),
            {"W": "https://hooks.example/x", "G": "g"},
        )


def test_a_readers_zone_changes_the_words_not_the_instant() -> None:
    from feeds.model import Event
    from notifiers import build_message

    close = dt.date(2031, 6, 3)  # date-only: the end of the day in the program zone
    event = Event(
        uid="u@x", term="lfx-2031-t2", title="Mentee Applications", start=dt.date(2031, 5, 1),
        end=close, categories=("application",),
    )  # fmt: skip
    program = build_message(event, Kind.REMINDER, lead=dt.timedelta(days=1),
                            zone="America/Los_Angeles")  # fmt: skip
    tokyo = build_message(event, Kind.REMINDER, lead=dt.timedelta(days=1),
                          zone="America/Los_Angeles", reader_zone="Asia/Tokyo")  # fmt: skip
    assert tokyo.deadline == program.deadline
    assert "PDT" in program.title and "JST" in tokyo.title and "PDT" not in tokyo.title
    assert "Jun 4" in tokyo.deadline_text and "JST" in tokyo.text
