"""Slack backend through the real slack-sdk client against a local fake Slack server."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import time
from collections.abc import Iterator

import pytest

from feeds.model import Event
from notifiers import (
    WEBHOOK,
    Change,
    ConfigError,
    Kind,
    PermanentError,
    SlackNotifier,
    SlackSettings,
    TransientError,
    build_message,
)
from tests._servers_slack import WEBHOOK_PATH, FakeSlack, Reply

TOKEN = "xoxb-0000-test-token"
POST = "/api/chat.postMessage"
EVENT = Event(
    uid="lfx-2027-t2-applications@lfx-cal",
    term="lfx-2027-t2",
    title="Mentee Applications",
    start=dt.date(2027, 5, 12),
    end=dt.datetime(2027, 5, 25, 23, 59, tzinfo=dt.UTC),
    source="https://github.com/cncf/mentoring/blob/main/README.md?a=1&b=2",
)
MESSAGE = build_message(
    EVENT,
    Kind.REMINDER,
    lead=dt.timedelta(days=1),
    zone="UTC",
    feed_url="https://cal.example/f.ics",
)


@pytest.fixture()
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def backend(server: FakeSlack, **extra: object) -> SlackNotifier:
    table: dict[str, object] = {
        "token_env": "SLACK_TOKEN",
        "webhook_env": "SLACK_WEBHOOK",
        "base_url": server.base_url,
        "min_interval": 0,
        "retry_backoff": 0.01,
        "timeout": 5,
    }
    table.update(extra)
    env = {"SLACK_TOKEN": TOKEN, "SLACK_WEBHOOK": server.webhook_url}
    return SlackNotifier.from_config(table, env)


TITLE = "Mentee applications close in 1 day — Tue, May 25, 11:59 PM UTC"


def test_post_message_ok(slack: FakeSlack) -> None:
    receipt = backend(slack).send(MESSAGE, "#deadlines")
    [request] = slack.posts()
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = request.body
    assert body["channel"] == "#deadlines"
    assert receipt.id == "1700000000.000001" and receipt.backend == "slack"
    assert receipt.detail == "HTTP 200 ok channel=#deadlines"
    assert body["text"].startswith("Mentee applications close in 1 day — Tue, May 25, 11:59 PM UTC")
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": TITLE},
    }
    stamp = int(dt.datetime(2027, 5, 25, 23, 59, tzinfo=dt.UTC).timestamp())
    summary = blocks[1]["text"]["text"]
    assert f"<!date^{stamp}^{{date_short_pretty}} {{time}}|Tue, May 25, 11:59 PM UTC>" in summary
    context = blocks[-1]["elements"][0]["text"]
    assert "Term: *lfx-2027-t2*" in context
    # The source is shown in its public form: no query (it may carry a token).
    assert "<https://github.com/cncf/mentoring/blob/main/README.md|Source document>" in context
    assert "a=1" not in str(body)
    assert "<https://cal.example/f.ics|Calendar feed>" in context
    assert body["unfurl_links"] is False


def mrkdwn(value: object) -> list[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            return [value["text"]]
        return [t for v in value.values() for t in mrkdwn(v)]
    if isinstance(value, list):
        return [t for v in value for t in mrkdwn(v)]
    return []


def test_untrusted_text_mentions_nobody(slack: FakeSlack) -> None:
    event = Event(
        uid="x@lfx-cal",
        term="t <@U999>",
        title="Apply now <!channel> & <@U123> &lt;",
        start=dt.datetime(2027, 6, 1, 18, 0, tzinfo=dt.UTC),
        notes=("<!here> see <https://evil.example|click> & more",),
    )
    message = build_message(event, Kind.REMINDER, lead=dt.timedelta(hours=1), zone="UTC")
    backend(slack).send(message, "C0123456")
    body = slack.posts()[0].body
    parsed = [body["text"], *mrkdwn(body["blocks"])]  # what Slack parses for mentions
    assert len(parsed) == 4
    for mention in ("<!channel>", "<@U123>", "<!here>", "<@U999>", "<https://evil"):
        assert all(mention not in text for text in parsed)
    header = body["blocks"][0]["text"]
    assert header["type"] == "plain_text"  # shown literally, never parsed for mentions
    assert "Apply now &lt;!channel&gt; &amp; &lt;@U123&gt; &amp;lt;" in body["text"]
    notes = body["blocks"][2]["text"]["text"]
    assert notes == "&lt;!here&gt; see &lt;https://evil.example|click&gt; &amp; more"


def test_mentions_only_when_configured(slack: FakeSlack) -> None:
    backend(slack).send(MESSAGE, "#a")
    backend(slack, mentions=["here", "U0ABC"], mention_on=["reminder"]).send(MESSAGE, "#b")
    change = Change("deadline", "Mon", "Tue")
    changed = build_message(EVENT, Kind.CHANGED, change=change, zone="UTC")
    backend(slack, mentions=["here"], mention_on=["reminder"]).send(changed, "#c")
    first, second, third = (r.body for r in slack.posts())
    assert "<!here>" not in json.dumps(first) and "<!here>" not in json.dumps(third)
    assert second["text"].startswith("<!here> <@U0ABC> Mentee applications close in")
    assert "moved from Mon to *Tue*" in third["blocks"][1]["text"]["text"]


def test_rate_limited_then_ok_waits_retry_after(slack: FakeSlack) -> None:
    slack.then(POST, Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    started = time.monotonic()
    receipt = backend(slack).send(MESSAGE, "#deadlines")
    assert receipt.id
    assert len(slack.posts()) == 2
    assert time.monotonic() - started >= 1.0


def test_rate_limited_for_too_long_is_transient_with_retry_after(slack: FakeSlack) -> None:
    slack.then(POST, Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "120"}))
    with pytest.raises(TransientError) as caught:
        backend(slack, max_retry_after=5).send(MESSAGE, "#deadlines")
    assert caught.value.retry_after == 120
    assert len(slack.posts()) == 1


def test_server_error_is_retried(slack: FakeSlack) -> None:
    slack.then(POST, Reply(500, "oops"))
    assert backend(slack).send(MESSAGE, "#deadlines").id
    assert len(slack.posts()) == 2


def test_server_error_that_persists_is_transient(slack: FakeSlack) -> None:
    slack.then(POST, *[Reply(500, "oops")] * 3)
    with pytest.raises(TransientError, match="HTTP 500"):
        backend(slack, max_retries=2).send(MESSAGE, "#deadlines")
    assert len(slack.posts()) == 3


@pytest.mark.parametrize(
    ("error", "hint"),
    [("invalid_auth", "token"), ("channel_not_found", "invite the bot")],
)
def test_permanent_api_errors(slack: FakeSlack, error: str, hint: str) -> None:
    slack.then(POST, Reply(200, {"ok": False, "error": error}))
    with pytest.raises(PermanentError, match=hint) as caught:
        backend(slack).send(MESSAGE, "#nowhere")
    assert caught.value.detail == f"HTTP 200 {error}"
    assert TOKEN not in str(caught.value)
    assert len(slack.posts()) == 1  # not retried


def test_unreachable_slack_is_transient() -> None:
    with FakeSlack() as server:
        url = server.base_url
    notifier = SlackNotifier.from_config(
        {"token_env": "T", "base_url": url, "max_retries": 1, "retry_backoff": 0.01},
        {"T": TOKEN},
    )
    with pytest.raises(TransientError, match="unreachable"):
        notifier.send(MESSAGE, "#deadlines")


def test_webhook_ok_and_errors(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = backend(slack)
    receipt = notifier.send(MESSAGE, WEBHOOK)
    assert (receipt.target, receipt.id, receipt.detail) == ("webhook", "", "HTTP 200 ok")
    [request] = slack.requests
    assert request.path == WEBHOOK_PATH
    assert request.body["text"].startswith("Mentee applications close")
    assert request.body["blocks"][0]["type"] == "header"
    slack.then(WEBHOOK_PATH, Reply(404, "no_service"))
    with pytest.raises(PermanentError, match="no_service"):
        notifier.send(MESSAGE, WEBHOOK)
    slack.then(WEBHOOK_PATH, *[Reply(500, "oops")] * 3)
    with pytest.raises(TransientError):
        notifier.send(MESSAGE, WEBHOOK)
    assert "XXXXSECRETXXXX" not in caplog.text and TOKEN not in caplog.text


def test_one_message_per_interval_per_channel(slack: FakeSlack) -> None:
    notifier = backend(slack, min_interval=1.0)
    for channel in ("#a", "#a", "#b"):
        notifier.send(MESSAGE, channel)
    a1, a2, b1 = slack.posts()
    assert a2.at - a1.at >= 0.98
    assert b1.at - a2.at < 0.5  # another channel is not held back (it would wait ~1 s)


def test_async_send_paces_without_blocking_the_loop(slack: FakeSlack) -> None:
    notifier = backend(slack, min_interval=1.0)
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(40):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    async def main() -> list[str]:
        tick = asyncio.create_task(ticker())
        receipts = await asyncio.gather(*(notifier.asend(MESSAGE, "#a") for _ in range(3)))
        await tick
        return [r.id for r in receipts]

    ids = asyncio.run(main())
    assert len(set(ids)) == 3
    times = [r.at for r in slack.posts()]
    assert times[2] - times[0] >= 1.98
    # a blocking wait would stall the ticker for about a second
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.5


def test_settings_hide_secrets_and_explain_mistakes() -> None:
    env = {"T": TOKEN, "W": "https://hooks.slack.com/services/T/B/SECRET"}
    settings = SlackSettings.from_dict({"token_env": "T", "webhook_env": "W"}, env)
    assert settings.token == TOKEN
    text = repr(settings) + str(settings) + repr(SlackNotifier(settings))
    assert TOKEN not in text and "SECRET" not in text and "token_env='T'" in text
    with pytest.raises(ConfigError, match="SLACK_TOKEN is not set"):
        SlackSettings.from_dict({"token_env": "SLACK_TOKEN"}, {})
    with pytest.raises(ConfigError, match="neither token_env nor webhook_env"):
        SlackSettings.from_dict({}, {})
    with pytest.raises(ConfigError, match="mentions"):
        SlackSettings.from_dict({"token_env": "T", "mentions": ["@everyone-ish"]}, env)
    with pytest.raises(ConfigError, match="valid keys"):
        SlackSettings.from_dict({"token": "xoxb-inline"}, env)
    with pytest.raises(ConfigError, match="needs a webhook"):
        SlackNotifier(SlackSettings.from_dict({"token_env": "T"}, env)).send(MESSAGE, WEBHOOK)
