"""The zone each endpoint's time was written in, so calendars can show the days as printed.

The parser gives UTC instants and keeps no trace of the zone a time was written
in, but an all-day span must cover the dates the document prints: "Mon, Aug 3,
00:00 UTC" starts on August 3 even though it is still August 2 in Pacific time,
and "20 August 2027, 23:59 AoE" ends on August 20 although it is already
August 21 in UTC. Until the parser fills :attr:`feeds.model.Event.zones` itself
(``feeds/resolve.py`` knows the zone when it resolves each time), this module
re-reads each event's row with the parser's own lexer and applies the same rule
``resolve`` uses to choose a zone: a local clock's label, else the label shared
by the cell, else the program zone; a cell with only a UTC time is UTC.

Decision: this is a stop-gap, read-only pass over the parser's pieces
(``scan``/``timeline_sections``/``table_sections``, ``split_item``,
``read_cell``, ``lookup``, and the timeline builder's month context). The
clean fix is for the parser to set ``Event.zones`` itself (see the README). Any row it
cannot match keeps ``zones == (None, None)`` and the calendar falls back to the
program zone's dates (the previous behaviour). YAML schedules
(``feeds/schedule.py``) use :func:`point_zone` directly on the times they read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from itertools import chain

from feeds.dates import Clock, Point, read_cell
from feeds.markdown import Row, scan, table_sections, timeline_sections
from feeds.model import Event, Timeline
from feeds.rows import split_item
from feeds.zones import ZoneLabel, lookup


def _label(clock: Clock) -> ZoneLabel | None:
    return lookup(clock.zone) if clock.zone else None


def shared_zone(points: list[Point]) -> ZoneLabel | None:
    """The zone label a cell's times share: the end's first non-UTC label, else the start's."""
    for point in reversed(points):  # the end's label first, as resolve does
        for clock in point.clocks:
            label = _label(clock)
            if label is not None and not label.is_utc:
                return label
    return None


def point_zone(point: Point, shared: ZoneLabel | None, program: str) -> str | None:
    """The zone a written point's time is read in (None: no time written)."""
    clocks = [c for c in point.clocks if c.hour >= 0]
    if not clocks:
        return None
    local = [c for c in clocks if not ((label := _label(c)) and label.is_utc)]
    if not local:
        return "UTC"
    label = _label(local[0]) or shared
    return label.zone if label is not None else program


def cell_zones(when: str, program: str) -> tuple[str | None, str | None]:
    """The (start, end) zones of one date cell's times."""
    written = read_cell(when)
    points = [written.start] + ([written.end] if written.end is not None else [])
    shared = shared_zone(points)
    zones = [point_zone(p, shared, program) for p in points]
    return zones[0], zones[1] if len(zones) > 1 else None


def _when(row: Row) -> str | None:
    """The date text of a row, read as ``feeds.timeline`` reads it."""
    if row.in_table:
        return row.when or None
    text = row.text
    if row.context:
        from feeds.timeline import _with_month  # the builder's own rule for month headings

        text = _with_month(text, row.context)
    split = split_item(text)
    return None if split is None else split[1]


def attach_zones(timeline: Timeline, text: str, program: str) -> Timeline:
    """Return *timeline* with each timed event's written zones filled in from *text*."""
    wanted = {
        e.line
        for e in timeline.events
        if isinstance(e.start, dt.datetime) or isinstance(e.end, dt.datetime)
    }
    if not wanted:
        return timeline
    cells: dict[int, str] = {}
    doc = scan(text)
    for section in chain(timeline_sections(doc), table_sections(doc)):  # lazily: stop early
        for row in section.rows:
            if row.line in wanted and row.line not in cells:
                when = _when(row)
                if when:
                    cells[row.line] = when
        if wanted <= cells.keys():
            break
    events: list[Event] = []
    for event in timeline.events:
        when = cells.get(event.line)
        if when is None:
            events.append(event)
            continue
        start, end = cell_zones(when, program)
        if event.end is None:  # resolve drops an end equal to the start
            end = None
        zones = (
            start if isinstance(event.start, dt.datetime) else None,
            end if isinstance(event.end, dt.datetime) else None,
        )
        events.append(dataclasses.replace(event, zones=zones))
    return dataclasses.replace(timeline, events=tuple(events))
