"""The JSON contract of ``lfx-cal show --format json`` and ``/api/timelines``.

One object per source::

    {"source": ..., "term": {"id", "year", "number", "title", "first_month", "last_month"},
     "events": [{"uid", "title", "categories", "start", "end", "notes", "line"}],
     "warnings": [{"line", "message"}]}

``start``/``end`` are ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ``; ``end`` is the
inclusive last day or instant, or null. Only when they say something the rest
does not, a timeline also has ``"url"`` (the URL it was fetched from) and an event
``"term"``/``"source"`` (when not its timeline's). :func:`timeline_from_dict` is
the exact inverse of :func:`timeline_dict` (instants are whole seconds in UTC).
"""

from __future__ import annotations

from typing import Any

from feeds.formats import parse_endpoint
from feeds.model import Endpoint, Event, Notice, Term, Timeline, endpoint_text


def event_dict(event: Event, term: str | None = None, source: str | None = None) -> dict[str, Any]:
    """One event as the contract's JSON object.

    ``term``/``source`` are included unless they equal *term*/*source* (its timeline's).
    """
    data: dict[str, Any] = {
        "uid": event.uid,
        "title": event.title,
        "categories": list(event.categories),
        "start": endpoint_text(event.start),
        "end": None if event.end is None else endpoint_text(event.end),
        "notes": list(event.notes),
        "line": event.line,
    }
    if event.term != term:
        data["term"] = event.term
    if event.source != source:
        data["source"] = event.source
    return data


def _notice_dict(notice: Notice) -> dict[str, Any]:
    data: dict[str, Any] = {"line": notice.line, "message": notice.message}
    if notice.code:
        data["code"] = notice.code
    return data


def timeline_dict(timeline: Timeline, events: tuple[Event, ...] | None = None) -> dict[str, Any]:
    """A timeline (optionally only some of its events) as the contract's JSON object."""
    term = timeline.term
    chosen = timeline.events if events is None else events
    data: dict[str, Any] = {
        "source": timeline.source,
        "term": {
            "id": term.id,
            "year": term.year,
            "number": term.number,
            "title": term.title,
            "first_month": term.first_month,
            "last_month": term.last_month,
            "months_written": term.months_written,
        },
        "events": [event_dict(e, term.id, timeline.source) for e in chosen],
        "warnings": [_notice_dict(n) for n in timeline.warnings],
    }
    if timeline.url is not None:
        data["url"] = timeline.url
    return data


def endpoint_from_text(text: str) -> Endpoint:
    """Read ``YYYY-MM-DD`` as a date or ``YYYY-MM-DDTHH:MM:SSZ`` as an aware UTC instant."""
    return parse_endpoint(text)


def event_from_dict(data: dict[str, Any], term: str = "", source: str = "") -> Event:
    """The inverse of :func:`event_dict`; *term*/*source* fill in keys an older object lacks."""
    end = data.get("end")
    return Event(
        uid=data["uid"],
        term=data.get("term", term),
        title=data["title"],
        start=endpoint_from_text(data["start"]),
        end=None if end is None else endpoint_from_text(end),
        categories=tuple(data["categories"]),
        notes=tuple(data["notes"]),
        line=data["line"],
        source=data.get("source", source),
    )


def timeline_from_dict(data: dict[str, Any]) -> Timeline:
    """The exact inverse of :func:`timeline_dict` (of a whole timeline).

    Raises ``KeyError``, ``TypeError`` or ``ValueError`` for an object that is not one.
    """
    raw = data["term"]
    term = Term(
        id=raw["id"],
        year=raw.get("year"),
        number=raw.get("number"),
        title=raw.get("title", ""),
        first_month=raw.get("first_month"),
        last_month=raw.get("last_month"),
        months_written=bool(raw.get("months_written", False)),
    )
    source = data["source"]
    return Timeline(
        source=source,
        term=term,
        events=tuple(event_from_dict(e, term.id, source) for e in data["events"]),
        warnings=tuple(
            Notice(w["line"], w["message"], w.get("code", "")) for w in data["warnings"]
        ),
        url=data.get("url"),
    )
