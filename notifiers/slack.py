"""Slack backend: ``chat.postMessage`` with a bot token, or an incoming webhook.

Targets: a channel name (``#deadlines``) or ID (``C0123…``) is posted to with
the bot token; the target :data:`WEBHOOK` (``"webhook"``) posts to the
configured incoming webhook. The token and the webhook URL are read from the
environment variables named by ``token_env`` and ``webhook_env``; they are never
stored in the file, shown by ``repr`` or logged (slack-sdk's own debug logging,
which prints webhook URLs, is routed to a logger that drops it).

Faults: slack-sdk's retry handlers retry connection errors, HTTP 500/503 (with
backoff ``retry_backoff``) and HTTP 429 after its ``Retry-After`` (up to
``max_retry_after`` seconds; a longer wait raises :class:`TransientError` with
``retry_after`` set, so a scheduler can come back later instead of holding a
thread). Pacing: at most one message per ``min_interval`` seconds per channel.
The client is synchronous; ``asend`` awaits its pacing slot with
:func:`asyncio.sleep` and then runs the request in the backend's own pool.

``Retry-After`` is read as a finite number of seconds clamped to
[0, :data:`RETRY_AFTER_CAP`] (one hour): ``Retry-After: 1e12``, ``inf`` or
garbage can never overflow a date computed from it. A send waits one out in
its thread only up to :data:`MAX_INLINE_WAIT` (60 s) and ``max_retries`` times.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping
from typing import Any, Self
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from notifiers.base import Notifier, Receipt
from notifiers.errors import ConfigError, DeliveryError, PermanentError, TransientError
from notifiers.message import Message
from notifiers.ratelimit import Pacer
from notifiers.settings import SlackSettings
from notifiers.slack_blocks import render

WEBHOOK = "webhook"
"""The target that means "the configured incoming webhook"."""

_QUIET = logging.getLogger("notifiers.slack.sdk")
_QUIET.setLevel(logging.WARNING)  # slack-sdk logs webhook URLs at DEBUG
_TRANSIENT = {
    "ratelimited",
    "service_unavailable",
    "fatal_error",
    "internal_error",
    "request_timeout",
    "timeout",
}


class _CappedRateLimitHandler(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, except that it gives up on a Retry-After above a cap."""

    def __init__(self, max_retry_count: int, cap: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.cap = cap

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        raw = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), "1")
        raw = raw[0] if isinstance(raw, list | tuple) and raw else raw
        if not str(raw).strip().isdigit():  # slack-sdk reads it with int(): only digits
            return False
        return _retry_after(response.headers) <= self.cap


RETRY_AFTER_CAP = 3600.0
"""The longest Retry-After honoured, in seconds (a larger value is read as this)."""
MAX_INLINE_WAIT = 60.0
"""The longest Retry-After waited out inside a send (holding a thread), whatever
``max_retry_after`` says; a longer one becomes a TransientError for the scheduler."""


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                seconds = float(str(raw).strip()[:32])
            except (TypeError, ValueError):
                return 1.0
            if not math.isfinite(seconds):
                return RETRY_AFTER_CAP if seconds > 0 else 1.0
            return min(max(seconds, 0.0), RETRY_AFTER_CAP)
    return 1.0


class _ScaledJitter(Jitter):
    """Random jitter of up to one backoff factor (slack-sdk's default adds up to 1 s)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def recalculate(self, duration: float) -> float:
        return duration + random.random() * self.factor


def _handlers(settings: SlackSettings) -> list[RetryHandler]:
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=settings.retry_backoff, jitter=_ScaledJitter(settings.retry_backoff)
    )
    return [
        ConnectionErrorRetryHandler(settings.max_retries, backoff),
        _CappedRateLimitHandler(
            settings.max_retries, min(settings.max_retry_after, MAX_INLINE_WAIT)
        ),
        ServerErrorRetryHandler(settings.max_retries, backoff),
    ]


class SlackNotifier(Notifier):
    """Posts messages to Slack; see the module docstring for targets and faults."""

    name = "slack"
    workers = 4

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self._pacer = Pacer(settings.min_interval)
        timeout = max(1, round(settings.timeout))
        self._client = WebClient(
            token=settings.token or None,
            base_url=settings.base_url,
            timeout=timeout,
            logger=_QUIET,
            retry_handlers=_handlers(settings),
        )
        self._webhook = (
            WebhookClient(
                settings.webhook_url,
                timeout=timeout,
                logger=_QUIET,
                retry_handlers=_handlers(settings),
            )
            if settings.webhook_url
            else None
        )

    def __repr__(self) -> str:
        return f"SlackNotifier({self.settings!r})"

    @classmethod
    def from_config(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Self:
        """Build from a ``[notifiers.slack]`` table."""
        return cls(SlackSettings.from_dict(table, environ))

    def _mentions(self, message: Message) -> tuple[str, ...]:
        return self.settings.mentions if message.kind.value in self.settings.mention_on else ()

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Post *message* to a channel or, for target ``"webhook"``, to the webhook.

        *key* is unused (Slack has no idempotency key); the receipt carries ``ts``.
        """
        self._pacer.wait(target)
        return self._post(message, target)

    async def asend(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Await the channel's pacing slot on the loop, then post from a worker thread."""
        await self._pacer.await_turn(target)
        return await self.pool.run(self._post, message, target)

    def _post(self, message: Message, target: str) -> Receipt:
        text, blocks = render(message, self._mentions(message))
        try:
            if target == WEBHOOK:
                return self._post_webhook(text, blocks)
            if not self.settings.token:
                raise ConfigError(
                    "token_env",
                    f"target {target!r} needs a bot token",
                    "set token_env, or use the target 'webhook'",
                    backend="slack",
                )
            response = self._client.chat_postMessage(
                channel=target, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as error:
            raise _api_error(error, target) from error
        except (URLError, OSError) as error:
            raise TransientError(
                f"Slack is unreachable for {target}: {error}; will retry later",
                backend="slack",
                target=target,
                detail=str(error),
            ) from error
        ts = str(response.get("ts", ""))
        return Receipt(
            "slack",
            target,
            ts,
            f"HTTP {response.status_code} ok channel={response.get('channel', '')}",
        )

    def _post_webhook(self, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        if self._webhook is None:
            raise ConfigError(
                "webhook_env",
                "target 'webhook' needs a webhook URL",
                "set webhook_env to the variable holding it",
                backend="slack",
            )
        response = self._webhook.send_dict({"text": text, "blocks": blocks, "unfurl_links": False})
        status, body = response.status_code, (response.body or "").strip()[:200]
        detail = f"HTTP {status} {body}"
        if status == 200:
            return Receipt("slack", WEBHOOK, "", detail)
        if status == 429 or status >= 500:
            raise TransientError(
                f"Slack webhook busy ({detail}); retry later",
                backend="slack",
                target=WEBHOOK,
                detail=detail,
                retry_after=_retry_after(response.headers) if status == 429 else None,
            )
        raise PermanentError(
            f"Slack webhook refused the message ({detail}); check that webhook_env holds a live "
            "webhook URL and the channel still exists",
            backend="slack",
            target=WEBHOOK,
            detail=detail,
        )


_FIXES = {
    "invalid_auth": "the token in token_env is not valid; create a new bot token",
    "not_authed": "no token was sent; set token_env",
    "token_revoked": "the token was revoked; create a new bot token",
    "account_inactive": "the bot's account is deactivated",
    "channel_not_found": "check the channel name or ID and invite the bot to it",
    "not_in_channel": "invite the bot to the channel (/invite @bot)",
    "is_archived": "the channel is archived; pick another",
    "missing_scope": "give the bot the chat:write scope",
}


def _api_error(error: SlackApiError, target: str) -> DeliveryError:
    response = error.response
    status = int(response.status_code)
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error", "")) or f"http_{status}"
    detail = f"HTTP {status} {code}"
    if status == 429 or status >= 500 or code in _TRANSIENT:
        retry_after = _retry_after(response.headers) if status == 429 else None
        return TransientError(
            f"Slack could not take the message for {target} ({detail}); retry later",
            backend="slack",
            target=target,
            detail=detail,
            retry_after=retry_after,
        )
    fix = _FIXES.get(code, "see https://api.slack.com/methods/chat.postMessage#errors")
    return PermanentError(
        f"Slack refused the message for {target} ({detail}): {fix}",
        backend="slack",
        target=target,
        detail=detail,
    )
