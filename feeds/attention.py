"""What an operator must hear about a timeline before a mentee misses a deadline.

A document can parse cleanly and still plan nothing: every event already in the
past (the source still points at last term's page), or years chosen against the
weekdays the document prints (a schedule read a year off, so every reminder
would come a year early or late). ``lfx-cal check`` prints these and ``/healthz``
reports them; both name the source and the lines.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from feeds.model import Timeline, as_instant

WEEKDAY = "weekday"
"""The :attr:`~feeds.model.Notice.code` of a printed weekday that contradicts its date."""


def weekday_lines(timeline: Timeline) -> tuple[int, ...]:
    """Lines whose printed weekday contradicts the date that was chosen."""
    return tuple(sorted({n.line for n in timeline.warnings if n.code == WEEKDAY}))


def attention(timeline: Timeline, now: dt.datetime, zone: str) -> tuple[str, ...]:
    """Plain sentences about *timeline* that need an operator (empty when all is well).

    An event is past when its last moment is: the end of a period, the day
    after a date-only deadline began (the whole day counts), or the instant.
    """
    out: list[str] = []
    events = timeline.events
    if events:
        program = ZoneInfo(zone)

        def last_moment(value: dt.date | dt.datetime) -> dt.datetime:
            if isinstance(value, dt.datetime):
                return value
            return as_instant(value + dt.timedelta(days=1), program)

        ends = [last_moment(e.deadline) for e in events]
        if max(ends) <= now:
            last = max(events, key=lambda e: last_moment(e.deadline))
            out.append(
                f"all {len(events)} events of term {timeline.term.id} are in the past (the last,"
                f" {last.title!r}, on line {last.line}): no reminder will be planned"
                " (point the source at the current term)"
            )
    lines = weekday_lines(timeline)
    if lines:
        shown = ", ".join(str(line) for line in lines[:5]) + (", …" if len(lines) > 5 else "")
        out.append(
            f"{len(lines)} row(s) of term {timeline.term.id} print a weekday that does not match"
            f" the date read (lines {shown}): check the year before relying on its reminders"
        )
    return tuple(out)
