"""The Slack ``/deadlines`` command and its "Remind me" button, end to end on loopback.

A real ``make_app`` (daemon, SQLite, the real slack-sdk client pointed at the
loopback stand-in); requests are signed with the signing secret exactly as
Slack signs them. Unsigned, stale and tampered requests get 401; "Remind me"
subscribes the user and a due reminder reaches them as a DM (chat.postMessage
to the user id); ``/deadlines stop`` ends it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from lfx_cal.server import DAEMON, make_app
from scheduler.config import parse_config
from scheduler.ledger_base import Kind
from tests._daemon import free_port, write_term
from tests._servers_slack import FakeSlack
from tests.test_signup import Bound, Clock, wait_for

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CONFIG = """
[service]
database = "sqlite:///{db}"
timezone = "America/Los_Angeles"
listen = "127.0.0.1:{port}"
signup_leads = ["1d", "1h"]
[[sources]]
name = "t"
path = "{doc}"
[notifiers.slack]
token_env = "LFX_CAL_TEST_SLACK_TOKEN"
signing_secret_env = "LFX_CAL_TEST_SLACK_SIGNING"
base_url = "{slack}"
min_interval = 0
"""


def signed(body: bytes, *, at: float | None = None, secret: str = SIGNING) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def post(served: Bound, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    doc = tmp_path / "term.md"
    write_term(doc, [("Mentee Applications Close", now + dt.timedelta(days=1, minutes=1))])
    port = free_port()
    with FakeSlack() as slack:
        text = CONFIG.format(
            db=(tmp_path / "s.db").as_posix(), doc=doc.as_posix(), port=port, slack=slack.base_url
        )
        config = parse_config(text, str(tmp_path / "c.toml"))
        monkeypatch.setenv("LFX_CAL_TEST_SLACK_TOKEN", "xoxb-test-token")
        monkeypatch.setenv("LFX_CAL_TEST_SLACK_SIGNING", SIGNING)
        clock = Clock(now)
        app = make_app(config, clock=clock)
        with Bound(app, port) as served:
            wait_for(lambda: b"Mentee" in served.get("/api/timelines").body)
            yield {"served": served, "slack": slack, "clock": clock, "daemon": app[DAEMON]}


def command(text: str, user: str = "U0TESTUSER") -> bytes:
    fields = {"command": "/deadlines", "text": text, "user_id": user, "team_id": "T0"}
    return urlencode(fields).encode()


def test_signatures_are_checked(world: dict[str, Any]) -> None:
    served: Bound = world["served"]
    body = command("mentee")
    plain = {"Content-Type": "application/x-www-form-urlencoded"}
    assert post(served, "/slack/commands", body, plain)[0] == 401  # unsigned
    stale = signed(body, at=time.time() - 6 * 60)
    assert post(served, "/slack/commands", body, stale)[0] == 401
    tampered = signed(body)
    assert post(served, "/slack/commands", command("stop"), tampered)[0] == 401
    wrong = signed(body, secret="another-secret")
    assert post(served, "/slack/commands", body, wrong)[0] == 401
    assert post(served, "/slack/interactions", b"payload=%7B%7D", plain)[0] == 401
    started = time.monotonic()
    status, reply = post(served, "/slack/commands", body, signed(body))
    assert status == 200 and time.monotonic() - started < 3.0
    answer = json.loads(reply)
    assert answer["response_type"] == "ephemeral" and "mentees" in answer["text"]
    texts = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    assert any("Mentee Applications Close" in t and "<!date^" in t for t in texts)
    button = answer["blocks"][-1]["elements"][0]
    assert button["action_id"] == "remind_me" and button["value"] == "mentee"
    usage = post(served, "/slack/commands", command("bogus"), signed(command("bogus")))
    assert b"Usage" in usage[1] and b"'bogus' is not a role" in usage[1]


def test_remind_me_sends_dms_until_stop(world: dict[str, Any]) -> None:
    served: Bound = world["served"]
    slack: FakeSlack = world["slack"]
    clock: Clock = world["clock"]
    daemon = world["daemon"]
    payload = {
        "type": "block_actions",
        "user": {"id": "U0TESTUSER"},
        "actions": [{"action_id": "remind_me", "value": "mentee"}],
        "response_url": f"http://127.0.0.1:{slack.port}/response/1",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert post(served, "/slack/interactions", body, signed(body))[0] == 200
    acknowledged = wait_for(lambda: [r for r in slack.requests if r.path == "/response/1"])
    assert "DM reminders" in acknowledged[0].body["text"]
    jobs = sorted(
        (j for j in daemon.plan() if j.kind == Kind.REMINDER), key=lambda j: j.lead, reverse=True
    )
    assert [j.lead for j in jobs] == [dt.timedelta(days=1), dt.timedelta(hours=1)]
    clock.now = jobs[0].due
    served.run(lambda: daemon.courier.fire(jobs[0]))
    dm = wait_for(slack.posts)[0]
    assert dm.body["channel"] == "U0TESTUSER" and "Mentee" in dm.body["text"]
    stop = command("stop")
    status, reply = post(served, "/slack/commands", stop, signed(stop))
    assert status == 200 and b"no more" in reply
    clock.now = jobs[1].due
    served.run(lambda: daemon.courier.fire(jobs[1]))
    time.sleep(0.2)
    assert len(slack.posts()) == 1  # nothing after /deadlines stop
