"""A term's timeline drawn as inline SVG: a bar per period, a tick per single date.

Dates are laid out in the program zone. The "now" line is placed at render
time and moved by the page script (the SVG carries its time scale as data
attributes). Only presentation attributes are used (no ``style=``), so the
page's Content-Security-Policy needs no ``unsafe-inline``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

from feeds.model import Endpoint, Event, Timeline, as_instant, endpoint_text

WIDTH = 960
LABEL_X = 300
X0, X1 = 312, 944
ROW = 22
TOP = 34
MARGIN = dt.timedelta(days=3)


def _span(event: Event, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The instants a row covers: a date covers its whole day in the program zone."""
    start = as_instant(event.start, zone)
    last: Endpoint = event.deadline
    if isinstance(last, dt.datetime):
        return start, last
    return start, as_instant(last + dt.timedelta(days=1), zone)


def _months(first: dt.datetime, last: dt.datetime, zone: ZoneInfo) -> list[dt.datetime]:
    local = first.astimezone(zone)
    year, month = local.year, local.month
    out: list[dt.datetime] = []
    while True:
        month += 1
        if month == 13:
            year, month = year + 1, 1
        start = dt.datetime(year, month, 1, tzinfo=zone).astimezone(dt.UTC)
        if start > last:
            return out
        out.append(start)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline_svg(timeline: Timeline, zone_name: str, now: dt.datetime) -> str:
    """The SVG picture of *timeline* (empty string when it has no events)."""
    zone = ZoneInfo(zone_name)
    drawable: list[Event] = []
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for event in timeline.events:
        try:  # a date at the calendar's edge cannot be placed (or padded): leave it out
            span = _span(event, zone)
            span[0] - MARGIN, span[1] + MARGIN
        except OverflowError:
            continue
        drawable.append(event)
        spans.append(span)
    if not drawable:
        return ""
    timeline = dataclasses.replace(timeline, events=tuple(drawable))
    t0 = min(s for s, _ in spans) - MARGIN
    t1 = max(e for _, e in spans) + MARGIN
    total = (t1 - t0).total_seconds()

    def x(when: dt.datetime) -> float:
        return round(X0 + (when - t0).total_seconds() / total * (X1 - X0), 1)

    height = TOP + ROW * len(timeline.events) + 8
    label = escape(f"Timeline of {timeline.term.title or timeline.term.id}")
    parts = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}"'
        f' data-t0="{int(t0.timestamp() * 1000)}" data-t1="{int(t1.timestamp() * 1000)}"'
        f' data-x0="{X0}" data-x1="{X1}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for month in _months(t0, t1, zone):
        mx = x(month)
        name = month.astimezone(zone).strftime("%b %Y")
        parts.append(f'<line class="grid" x1="{mx}" y1="{TOP - 12}" x2="{mx}" y2="{height}"/>')
        if mx + 52 <= WIDTH:  # room for the label
            parts.append(f'<text class="month" x="{mx + 3}" y="{TOP - 16}">{name}</text>')
    for index, (event, (start, end)) in enumerate(zip(timeline.events, spans, strict=True)):
        y = TOP + index * ROW
        flagged = timeline.flagged(event)
        passed = end < now
        kind = "bar" if event.is_period else "tick"
        classes = " ".join(
            c for c in ("row", kind, "flagged" if flagged else "", "passed" if passed else "") if c
        )
        tip = event.title + " — " + endpoint_text(event.start)
        if event.end is not None:
            tip += " to " + endpoint_text(event.end)
        if flagged:
            notes = [n.message for n in timeline.warnings if n.line == event.line]
            tip += "\n⚠ " + "\n⚠ ".join(notes)
        title = ("⚠ " if flagged else "") + _short(event.title)
        parts.append(f'<g class="{classes}"><title>{escape(tip)}</title>')
        parts.append(f'<text class="label" x="{LABEL_X}" y="{y + 15}">{escape(title)}</text>')
        if event.is_period:
            width = max(x(end) - x(start), 2.0)
            parts.append(
                f'<rect x="{x(start)}" y="{y + 4}" width="{width}" height="{ROW - 8}" rx="3"/>'
            )
        else:
            cx = x(start) if isinstance(event.start, dt.datetime) else (x(start) + x(end)) / 2
            parts.append(
                f'<line class="mark" x1="{cx}" y1="{y + 2}" x2="{cx}" y2="{y + ROW - 2}"/>'
                f'<circle cx="{cx}" cy="{y + ROW / 2}" r="5"/>'
            )
        parts.append("</g>")
    visible = "visible" if t0 <= now <= t1 else "hidden"
    nx = x(min(max(now, t0), t1))
    parts.append(
        f'<g class="now" visibility="{visible}"><line x1="{nx}" y1="{TOP - 12}" x2="{nx}"'
        f' y2="{height}"/><text x="{nx + 3}" y="{height - 2}">now</text></g></svg>'
    )
    return "".join(parts)
