"""The Slack ``/deadlines`` slash command and its "Remind me" button.

Enabled by ``[notifiers.slack] signing_secret_env``. Slack signs every request
(``v0:{timestamp}:{body}``, HMAC-SHA256); slack-sdk's
:class:`~slack_sdk.signature.SignatureVerifier` checks it and refuses
timestamps more than five minutes off. Anything unsigned, stale or tampered
with gets 401 before its body is parsed.

* ``POST /slack/commands``: ``/deadlines [role]`` answers at once (everything
  comes from the in-memory snapshot, far inside Slack's 3-second limit) with an
  ephemeral Block Kit list of the next deadlines, each instant written as
  ``<!date^UNIX^…|fallback>`` so every reader sees their own zone (a date-only
  close stays a date, as in reminders), and a "Remind me" button.
  ``/deadlines stop`` ends the user's DMs.
* ``POST /slack/interactions``: the button subscribes the user (a row in
  :mod:`scheduler.subscribers`, channel ``slack``, the user id as target) to
  DM reminders for that role, with the lead times the operator allows for
  sign-ups. Reminders reach them through the same ledger as everything else;
  the Slack backend posts to the user id, which Slack delivers as a DM from the
  app. The acknowledgement goes back through the request's ``response_url``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from feeds import filters
from feeds.categories import ROLES
from lfx_cal.web.page import Deadline, deadlines, passed
from notifiers.message import one_line
from notifiers.slack_blocks import escape, instant_markup
from scheduler.config import Service
from scheduler.snapshot import Snapshot
from scheduler.subscribers import Prefs, Subscribers

log = logging.getLogger("lfx_cal.slack_commands")
MAX_BODY = 16_384
"""Largest request body read, in bytes (Slack's are a few kilobytes)."""
SHOWN = 8
"""Deadlines listed by ``/deadlines``."""
REMIND = "remind_me"
"""The ``action_id`` of the "Remind me" button."""
EVERYTHING = "all"
"""The button value that means every category."""
RESPONSE_TIMEOUT = 5.0
"""Seconds for one post to a ``response_url``."""


def when(row: Deadline) -> str:
    """A row's deadline for Slack: an instant in each reader's zone, a date as written.

    As in reminders (:func:`notifiers.slack_blocks.date_markup`), a date-only
    close is not turned into an instant, which would show readers west of the
    program zone the previous day.
    """
    deadline = row.event.deadline
    if isinstance(deadline, dt.datetime):
        return instant_markup(row.instant, f"{row.instant:%Y-%m-%d %H:%M} UTC")
    return escape(f"{deadline:%a, %b} {deadline.day}, {deadline.year}")


def deadline_blocks(
    snapshot: Snapshot, role: str | None, now: dt.datetime
) -> tuple[str, list[dict[str, Any]]]:
    """The ephemeral answer to ``/deadlines [role]``: fallback text and blocks."""
    wanted = filters.wanted((), role)
    rows = deadlines(snapshot)
    upcoming = [r for r in rows[passed(rows, now) :] if filters.matches(wanted, r.event.categories)]
    who = f"{role}s" if role else "everyone"
    title = f"Next deadlines for {who}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    for row in upcoming[:SHOWN]:
        text = f"*{escape(one_line(row.event.title))}* — {when(row)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if not upcoming:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No upcoming deadlines."}}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": REMIND,
                    "text": {"type": "plain_text", "text": "Remind me"},
                    "value": role or EVERYTHING,
                }
            ],
        }
    )
    return f"{title}: {len(upcoming)} upcoming", blocks


def _ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> web.Response:
    body: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks:
        body["blocks"] = blocks
    return web.json_response(body)


USAGE = "Usage: /deadlines [" + " | ".join(ROLES) + "] to list deadlines; /deadlines stop"


class SlackCommands:
    """The two Slack endpoints; *reload* hands the changed subscribers to the daemon."""

    def __init__(
        self,
        signing_secret: str,
        service: Service,
        rows: Subscribers,
        *,
        reload: Callable[[], Awaitable[None]],
        snapshot: Callable[[], Snapshot],
        clock: Callable[[], dt.datetime],
    ) -> None:
        # Imported here: slack_sdk's package brings its web client along (3 MB of
        # memory), and a daemon without the Slack command never needs it.
        from slack_sdk.signature import SignatureVerifier

        self.verifier = SignatureVerifier(signing_secret)
        self.service = service
        self.rows = rows
        self.reload = reload
        self.snapshot = snapshot
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def add_routes(self, app: web.Application) -> None:
        """Attach ``POST /slack/commands`` and ``POST /slack/interactions``."""
        app.router.add_post("/slack/commands", self.command)
        app.router.add_post("/slack/interactions", self.interaction)

    async def _verified(self, request: web.Request) -> dict[str, str] | None:
        """The form fields of a correctly signed, fresh request; None otherwise."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return None
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return None
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        try:
            valid = self.verifier.is_valid(body, timestamp, signature)
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            return None
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            return {}
        return {key: values[0] for key, values in fields.items()}

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.Response(status=401, text="invalid or stale Slack signature\n")

    async def command(self, request: web.Request) -> web.Response:
        """``/deadlines [role]`` or ``/deadlines stop``; answered from memory at once."""
        fields = await self._verified(request)
        if fields is None:
            return self._unauthorized()
        words = fields.get("text", "").strip().lower().split()
        user = fields.get("user_id", "")
        if words == ["stop"]:
            stopped = bool(user) and await asyncio.to_thread(self.rows.slack_stop, user)
            if stopped:
                await self.reload()
            return _ephemeral(
                "Done: no more deadline DMs." if stopped else "You had no deadline DMs."
            )
        role = words[0] if words else None
        if len(words) > 1 or (role is not None and role not in ROLES):
            said = escape(one_line(" ".join(words))[:80])  # what was typed, as mrkdwn text
            return _ephemeral(f"'{said}' is not a role. {USAGE}")
        text, blocks = deadline_blocks(self.snapshot(), role, self.clock())
        return _ephemeral(text, blocks)

    async def interaction(self, request: web.Request) -> web.Response:
        """The "Remind me" button: subscribe the user to DMs for that role."""
        fields = await self._verified(request)
        if fields is None:
            return self._unauthorized()
        try:
            payload = json.loads(fields.get("payload", ""))
            user = str(payload["user"]["id"])
            action = next(a for a in payload.get("actions", []) if a.get("action_id") == REMIND)
            value = str(action.get("value", EVERYTHING))
        except (ValueError, KeyError, TypeError, StopIteration):
            return web.Response(status=400, text="not a Remind me action\n")
        role = None if value == EVERYTHING else value
        if (role is not None and role not in ROLES) or not user.startswith(("U", "W")):
            return web.Response(status=400, text="unknown role or user\n")
        prefs = Prefs(role, self.service.signup_leads, self.service.timezone)
        await asyncio.to_thread(self.rows.slack_subscribe, user, prefs, self.clock())
        await self.reload()
        log.info("slack: a user subscribed to DM reminders (%s)", role or EVERYTHING)
        url = payload.get("response_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            who = f"{role}s" if role else "everyone"
            text = f"You will get DM reminders of the deadlines for {who}."
            text += " /deadlines stop ends them."
            task = asyncio.create_task(self._respond(url, text))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

    async def _respond(self, url: str, text: str) -> None:
        import httpx  # here, not at the top: 5 MB of every daemon's memory, used by this only

        body = {"response_type": "ephemeral", "replace_original": False, "text": text}
        try:
            async with httpx.AsyncClient(timeout=RESPONSE_TIMEOUT) as client:
                await client.post(url, json=body)
        except httpx.HTTPError as error:
            log.warning("slack: could not answer through response_url: %s", type(error).__name__)

    async def drain(self, timeout: float) -> None:
        """Wait up to *timeout* seconds for acknowledgements still being posted."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
