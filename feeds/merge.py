"""Merging timelines from several sources into one calendar without duplicate UIDs.

Two sources may give the same UID: the same file twice (``export a.md a.md``),
or two documents whose term ids collide. Calendar clients keep one event per UID,
so a silent duplicate would hide an event. The first occurrence (in source
order) keeps its UID; each later one gets ``-2``, ``-3``… before ``@lfx-cal``
and a warning on its line, so the result is the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from feeds.model import Event, Notice, Timeline


def _renamed(uid: str, taken: set[str]) -> str:
    stem, _, domain = uid.rpartition("@")
    number = 2
    while f"{stem}-{number}@{domain}" in taken:
        number += 1
    return f"{stem}-{number}@{domain}"


def distinct_uids(timelines: Sequence[Timeline]) -> list[Timeline]:
    """Return *timelines* with every UID unique across them (see the module docstring)."""
    owner: dict[str, str] = {}
    out: list[Timeline] = []
    for timeline in timelines:
        events: list[Event] = []
        notices: list[Notice] = []
        for event in timeline.events:
            uid = event.uid
            if uid in owner:
                new = _renamed(uid, owner.keys() | {e.uid for e in events})
                message = (
                    f"UID {uid} is also given by {owner[uid]}; this event is {new}"
                    " (give each source its own term)"
                )
                notices.append(Notice(event.line, message))
                event = replace(event, uid=new)
            owner[event.uid] = f"{timeline.source} (term {timeline.term.id})"
            events.append(event)
        if notices:
            warnings = tuple(sorted((*timeline.warnings, *notices), key=lambda n: n.line))
            timeline = replace(timeline, events=tuple(events), warnings=warnings)
        out.append(timeline)
    return out
