"""Rendering a :class:`~notifiers.message.Message` as a Slack message (Block Kit + text).

Untrusted text (titles, notes, term names from documents) is escaped with
:func:`escape` — ``&``, ``<`` and ``>`` and nothing else — wherever Slack parses
``mrkdwn``, so ``<!channel>`` or ``<@U123>`` in a document mentions nobody.
Mentions appear only when the settings ask for them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from notifiers.message import Kind, Message, human_duration

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
_MENTION = re.compile(r"^(?:here|channel|everyone|[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,})$")


def escape(text: str) -> str:
    """Escape ``&`` (first), ``<`` and ``>`` for Slack ``mrkdwn`` and ``text``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def valid_mention(value: str) -> bool:
    """Return True for ``here``, ``channel``, ``everyone``, a user ID (U…/W…) or a group ID (S…)."""
    return bool(_MENTION.match(value))


def mention(value: str) -> str:
    """Return the Slack markup that mentions *value* (see :func:`valid_mention`)."""
    if value in ("here", "channel", "everyone"):
        return f"<!{value}>"
    if value.startswith("S"):
        return f"<!subteam^{value}>"
    return f"<@{value}>"


def link(url: str | None, label: str) -> str | None:
    """Return a ``<url|label>`` link for an http(s) URL; None for anything else."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    safe = escape(url).replace("|", "%7C").replace(" ", "%20")
    return f"<{safe}|{escape(label)}>"


def date_markup(message: Message) -> str:
    """Write the deadline: ``<!date^UNIX^{date_short_pretty} {time}|fallback>`` for an instant.

    A date-only deadline is written as the date itself: converting it to an
    instant would show the previous day to readers west of the term's zone.
    """
    if message.all_day:
        return escape(message.deadline_text)
    return instant_markup(message.deadline, message.deadline_text)


def instant_markup(instant: dt.datetime, fallback: str) -> str:
    """``<!date^UNIX^{date_short_pretty} {time}|fallback>``: *instant* in each reader's zone."""
    stamp = int(instant.timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{escape(fallback)}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(message: Message) -> str:
    deadline = date_markup(message)
    if message.kind is Kind.CHANGED and message.change is not None:
        change = message.change
        return (
            f"*Changed:* the {escape(change.what)} moved from {escape(change.old)}"
            f" to *{escape(change.new)}*\n*{escape(message.when_label.capitalize())}:* {deadline}"
        )
    if message.kind is Kind.OPENING:
        return f"*Open until* {deadline}"
    if message.kind is Kind.TODAY:
        return f"*Today:* {deadline}"
    lead = f" (in {human_duration(message.lead)})" if message.lead is not None else ""
    return f"*{escape(message.when_label.capitalize())}:* {deadline}{lead}"


def render(message: Message, mentions: tuple[str, ...] = ()) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(text, blocks)``: the plain fallback and the Block Kit blocks."""
    tags = " ".join(mention(m) for m in mentions)
    prefix = f"{tags} " if tags else ""
    text = f"{prefix}{escape(message.title)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(message.title, HEADER_LIMIT)},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(prefix + _summary(message), SECTION_LIMIT)},
        },
    ]
    notes = "\n".join(escape(note) for note in message.event.notes)
    if notes:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(notes, SECTION_LIMIT)}}
        )
    context = [f"Term: *{escape(message.term)}*"]
    for url, label in (
        (message.source_url, "Source document"),
        (message.feed_url, "Calendar feed"),
    ):
        markup = link(url, label)
        if markup:
            context.append(markup)
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    return text, blocks
