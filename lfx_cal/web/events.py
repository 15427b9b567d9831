"""Single-event ``.ics`` files: one row to import, with reminders that an import keeps.

Subscribed calendars drop VALARMs in Google and Outlook (and Apple's subscribe
dialog removes them by default), but an *imported* event keeps its alarms. So
every row of the page links ``events/NAME.ics``: the row as the feeds write it
(same UID, SEQUENCE and companions, built by :func:`feeds.ical.build_calendar`)
with :data:`ALARMS` added. The server answers ``GET /events/NAME.ics`` and
``lfx-cal publish`` writes the same files.

``NAME`` is the UID's part before ``@`` when that is a plain file name (every
UID lfx-cal makes is), else a digest of the UID: names never touch the
filesystem on the server and are always safe file names in ``publish``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from feeds.ical import FeedOptions, to_ical
from feeds.meaning import term_label
from feeds.model import Event
from lfx_cal.web.feeds import ICS_TYPE, Rendered, make_etag, rendered
from lfx_cal.web.sources import public_events
from scheduler.snapshot import Snapshot

ALARMS = (dt.timedelta(days=7), dt.timedelta(days=1))
"""The reminders in a single-event file: a week and a day before the close."""
ALARM_TEXT = "7 days and 1 day before"
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")


def event_name(uid: str) -> str:
    """The file name (without ``.ics``) of a row's single-event calendar."""
    head = uid.split("@", 1)[0]
    if _PLAIN.fullmatch(head):
        return head
    return "event-" + hashlib.sha256(uid.encode()).hexdigest()[:20]


def event_files(snapshot: Snapshot) -> dict[str, Event]:
    """Every row of *snapshot* by its file name (the first row wins a name clash)."""
    out: dict[str, Event] = {}
    for timeline in snapshot.timelines:
        for event in timeline.events:
            out.setdefault(event_name(event.uid), event)
    return out


def render_event(snapshot: Snapshot, event: Event) -> Rendered:
    """The single-event calendar of *event*, with :data:`ALARMS`."""
    options = FeedOptions(
        name=f"{term_label(event.term)} · {event.title}",
        zone=snapshot.zone,
        alarms=ALARMS,
        stamp=snapshot.modified,
        term_prefix=True,
    )
    body = to_ical(public_events((event,)), options, revisions=snapshot.revisions)
    etag = make_etag(snapshot.version, "event", event.uid)
    headers = {"Content-Disposition": f'attachment; filename="{event_name(event.uid)}.ics"'}
    return rendered(body, etag, ICS_TYPE, snapshot, **headers)
