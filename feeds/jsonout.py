"""The JSON contract of ``lfx-cal show --format json`` and ``/api/timelines``.

One object per source::

    {"source": ..., "term": {"id", "year", "number", "title"},
     "events": [{"uid", "title", "categories", "start", "end", "notes", "line"}],
     "warnings": [{"line", "message"}]}

``start``/``end`` are ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ``; ``end`` is the
inclusive last day or instant, or null.
"""

from __future__ import annotations

from typing import Any

from feeds.model import Event, Timeline, endpoint_text


def event_dict(event: Event) -> dict[str, Any]:
    """One event as the contract's JSON object."""
    return {
        "uid": event.uid,
        "title": event.title,
        "categories": list(event.categories),
        "start": endpoint_text(event.start),
        "end": None if event.end is None else endpoint_text(event.end),
        "notes": list(event.notes),
        "line": event.line,
    }


def timeline_dict(timeline: Timeline, events: tuple[Event, ...] | None = None) -> dict[str, Any]:
    """A timeline (optionally only some of its events) as the contract's JSON object."""
    term = timeline.term
    return {
        "source": timeline.source,
        "term": {"id": term.id, "year": term.year, "number": term.number, "title": term.title},
        "events": [event_dict(e) for e in (timeline.events if events is None else events)],
        "warnings": [{"line": n.line, "message": n.message} for n in timeline.warnings],
    }
