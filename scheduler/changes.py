"""What changed between two versions of a timeline, and whether to trust the new one.

Only dates count: a moved start or deadline, a row added, a row removed. A
reworded title with the same dates keeps the old identity (an alias) and alerts
nobody; emphasis, whitespace and weekday fixes change no date, so they are
invisible here by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from feeds.model import Event, endpoint_text

LOST_ROWS = 0.5
"""A new version with fewer than this share of the last good one's events is refused."""


class Diff(NamedTuple):
    """Events added, removed and moved (old, new), and renames (new uid → old uid)."""

    added: tuple[Event, ...] = ()
    removed: tuple[Event, ...] = ()
    moved: tuple[tuple[Event, Event], ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        """True when some date changed (renames alone are cosmetic)."""
        return bool(self.added or self.removed or self.moved)


def when(event: Event) -> str:
    """The dates of *event* as text: ``start`` or ``start → end``."""
    start = endpoint_text(event.start)
    return start if event.end is None else f"{start} → {endpoint_text(event.end)}"


def canonical(events: Sequence[Event], aliases: Mapping[str, str]) -> tuple[Event, ...]:
    """Give each event its canonical uid (the first one it was seen under)."""
    return tuple(
        event if event.uid not in aliases else replace(event, uid=aliases[event.uid])
        for event in events
    )


def diff(old: Sequence[Event], new: Sequence[Event]) -> Diff:
    """Compare two versions of one source's events by uid, pairing up renames."""
    before = {e.uid: e for e in old}
    after = {e.uid: e for e in new}
    moved = tuple(
        (before[uid], event)
        for uid, event in after.items()
        if uid in before and when(before[uid]) != when(event)
    )
    added = [e for uid, e in after.items() if uid not in before]
    removed = [e for uid, e in before.items() if uid not in after]
    renamed: list[tuple[str, str]] = []
    for event in list(added):
        twin = next(
            (
                r
                for r in removed
                if when(r) == when(event) and set(r.categories) & set(event.categories)
            ),
            None,
        )
        if twin is not None:
            renamed.append((event.uid, twin.uid))
            added.remove(event)
            removed.remove(twin)
    return Diff(tuple(added), tuple(removed), moved, tuple(renamed))


def suspicious(old: Sequence[Event], new: Sequence[Event]) -> str | None:
    """Why *new* should not replace *old* (it lost most rows), or None when it may."""
    if len(old) >= 4 and len(new) < len(old) * LOST_ROWS:
        return (
            f"the timeline shrank from {len(old)} to {len(new)} events; "
            "keeping the last good version (is the document half-edited?)"
        )
    return None
