"""Calendar links: subscribe links for a feed, and "add this one event" links.

Subscribe links are built exactly as the page script builds them (the page
rebuilds them when the picker changes). The add-event links follow the field
notes' formats (no official spec exists): Google's ``action=TEMPLATE`` with
``dates=`` in UTC (or whole days with an exclusive end) and Outlook's compose
deeplink. What a row adds is decided once, in :func:`add_event`.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from urllib.parse import quote, urljoin

from feeds.ical import DEADLINE_LENGTH
from feeds.meaning import DAY, RowKind, Rules, close_of, kind_of, span_days, subject, term_label
from feeds.model import Endpoint, Event, endpoint_text

GOOGLE = "https://calendar.google.com/calendar/render?cid="
OUTLOOK = "https://outlook.live.com/calendar/0/addfromweb?url="
_JS_SAFE = "!~*'()"
"""Characters encodeURIComponent leaves alone besides letters, digits and ``-_.``."""


def encode_component(text: str) -> str:
    """Percent-encode like JavaScript's ``encodeURIComponent``."""
    return quote(text, safe=_JS_SAFE)


def normalize_base(base_url: str | None) -> str | None:
    """A base URL ending with ``/`` (so relative feed paths join under it), or None."""
    if not base_url:
        return None
    return base_url if base_url.endswith("/") else base_url + "/"


def subscribe_links(address: str, name: str) -> dict[str, str]:
    """``webcal``, ``google``, ``outlook`` and ``download`` links for an absolute feed URL."""
    webcal = "webcal:" + address.split(":", 1)[1] if address.startswith("http") else address
    return {
        "webcal": webcal,
        "google": GOOGLE + encode_component(webcal),
        "outlook": OUTLOOK + encode_component(address) + "&name=" + encode_component(name),
        "download": address,
    }


def absolute(base_url: str, path: str) -> str:
    """Join a relative feed path to a base URL."""
    return urljoin(base_url, path)


# One event into one's own calendar ("add this event" links). Imported events get the
# user's default reminders; subscribed ones do not (field notes), hence these links.

GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render?action=TEMPLATE"
OUTLOOK_COMPOSE = "https://outlook.live.com/calendar/0/deeplink/compose?path=/calendar/action/compose&rru=addevent"


class AddEvent(NamedTuple):
    """What an "add to my calendar" link adds: a timed event (UTC) or whole days.

    ``start``/``end`` are UTC instants, or dates with ``end`` the day *after*
    the last day (exclusive, as in iCalendar and Google's ``dates=``).
    """

    title: str
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    details: str


def add_event(event: Event, term: str, rules: Rules, source: str = "") -> AddEvent:
    """The one event a mentee adds for a row: the moment that matters, which is its close.

    A period or deadline closing at an instant (or at ``date_deadline_time``)
    is a 15-minute event at the close ("Closes: Mentee applications" for a
    period); a date-only close without that knob is the whole last day; an
    informational row is its instant or its day. *source* (a public address)
    ends the details.
    """
    kind = kind_of(event)
    title = f"Closes: {subject(event.title)}" if kind is RowKind.PERIOD else event.title
    lines = [f"{term_label(term)}: {event.title}"]
    if event.end is not None:
        lines.append(f"Open {_human(event.start)} to {_human(event.end)}.")
    lines.extend(event.notes)
    if source:
        lines.append(f"Source: {source}")
    details = "\n".join(lines)
    if kind is RowKind.INFO:
        if isinstance(event.start, dt.datetime):
            return AddEvent(title, event.start, event.start + DEADLINE_LENGTH, details)
        return AddEvent(title, event.start, event.start + DAY, details)
    close = close_of(event.deadline, rules)
    if isinstance(event.deadline, dt.datetime) or rules.deadline_time is not None:
        return AddEvent(title, close, close + DEADLINE_LENGTH, details)
    last = span_days(event, rules)[1]
    return AddEvent(title + " (end of day)", last, last + DAY, details)


def _human(value: Endpoint) -> str:
    text = endpoint_text(value)
    return text.replace("T", " ").replace(":00Z", " UTC") if "T" in text else text


def _stamp(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def google_add(item: AddEvent) -> str:
    """Google Calendar's TEMPLATE link: ``dates=START/END`` in UTC, or dates (exclusive end)."""
    dates = f"{_stamp(item.start)}/{_stamp(item.end)}"
    return (
        f"{GOOGLE_TEMPLATE}&text={encode_component(item.title)}&dates={dates}"
        f"&details={encode_component(item.details)}"
    )


def outlook_add(item: AddEvent) -> str:
    """Outlook's compose deeplink: ISO 8601 with ``Z``, or plain dates with ``allday=true``."""
    if isinstance(item.start, dt.datetime) and isinstance(item.end, dt.datetime):
        start = item.start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = item.end.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = ""
    else:
        start, end, extra = item.start.isoformat(), item.end.isoformat(), "&allday=true"
    return (
        f"{OUTLOOK_COMPOSE}&subject={encode_component(item.title)}"
        f"&startdt={encode_component(start)}&enddt={encode_component(end)}{extra}"
        f"&body={encode_component(item.details)}"
    )
