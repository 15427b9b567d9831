"""What the public may see of a source: never a server path or a URL's credentials.

The rule itself lives in :mod:`feeds.public` (the lowest layer that needs it);
this module re-exports it for the web routes and builds ``/api/timelines``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from feeds.jsonout import timeline_dict
from feeds.model import Timeline
from feeds.public import public_events, public_source, public_timeline

__all__ = ["public_events", "public_source", "public_timeline", "timelines_json"]


def timelines_json(timelines: Iterable[Timeline]) -> bytes:
    """``/api/timelines``: a list of ``show --format json`` objects, sources made public."""
    data = [timeline_dict(public_timeline(timeline)) for timeline in timelines]
    return json.dumps(data, ensure_ascii=False, indent=1).encode()
