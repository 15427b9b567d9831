"""What the public may see of a source: never a server path or a URL's credentials."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import PurePath
from urllib.parse import urlsplit, urlunsplit

from feeds.jsonout import timeline_dict
from feeds.model import Event, Timeline


def public_source(source: str) -> str:
    """An http(s) source without user info, query or fragment; a file by its name only."""
    if source.startswith(("http://", "https://")):
        parts = urlsplit(source)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return PurePath(source).name or source


def public_events(events: Iterable[Event]) -> tuple[Event, ...]:
    """Events whose ``source`` (written into DESCRIPTION and URL) is the public form."""
    return tuple(
        event
        if public_source(event.source) == event.source
        else dataclasses.replace(event, source=public_source(event.source))
        for event in events
    )


def public_timeline(timeline: Timeline) -> Timeline:
    """The timeline with its own, its URL's and its events' sources made public."""
    return dataclasses.replace(
        timeline,
        source=public_source(timeline.source),
        url=None if timeline.url is None else public_source(timeline.url),
        events=public_events(timeline.events),
    )


def timelines_json(timelines: Iterable[Timeline]) -> bytes:
    """``/api/timelines``: a list of ``show --format json`` objects, sources made public."""
    data = [timeline_dict(public_timeline(timeline)) for timeline in timelines]
    return json.dumps(data, ensure_ascii=False, indent=1).encode()
