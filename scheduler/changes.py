"""What changed between two versions of a timeline, and whether to trust the new one.

Only dates count: a moved start or deadline, a row added, a row removed. A
reworded title with the same dates keeps the old identity (an alias) and alerts
nobody; emphasis, whitespace and weekday fixes change no date, so they are
invisible here by construction. Rename pairing is linear (see :func:`_pair_renames`).
"""

from __future__ import annotations

from collections import deque
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
    renamed = _pair_renames(added, removed)
    if renamed:
        new_uids, old_uids = {n for n, _ in renamed}, {o for _, o in renamed}
        added = [e for e in added if e.uid not in new_uids]
        removed = [e for e in removed if e.uid not in old_uids]
    return Diff(tuple(added), tuple(removed), moved, tuple(renamed))


def _pair_renames(added: Sequence[Event], removed: Sequence[Event]) -> list[tuple[str, str]]:
    """Pair each added event with an unpaired removed one: same dates, a shared category.

    The removed event chosen is the first such one in document order.

    Removed events are indexed by (dates, category), each bucket a queue of
    positions, so the work is linear in the number of events times their
    categories — not added × removed (4,000 rows once took 23 s).
    """
    buckets: dict[tuple[str, str], deque[int]] = {}
    for index, event in enumerate(removed):
        dates = when(event)
        for category in dict.fromkeys(event.categories):
            buckets.setdefault((dates, category), deque()).append(index)
    taken: set[int] = set()
    pairs: list[tuple[str, str]] = []
    for event in added:
        dates, best = when(event), None
        for category in dict.fromkeys(event.categories):
            queue = buckets.get((dates, category))
            while queue and queue[0] in taken:
                queue.popleft()
            if queue and (best is None or queue[0] < best):
                best = queue[0]
        if best is not None:
            taken.add(best)
            pairs.append((event.uid, removed[best].uid))
    return pairs


def suspicious(old: Sequence[Event], new: Sequence[Event]) -> str | None:
    """Why *new* should not replace *old* (it lost most rows), or None when it may."""
    if len(old) >= 4 and len(new) < len(old) * LOST_ROWS:
        return (
            f"the timeline shrank from {len(old)} to {len(new)} events; "
            "keeping the last good version (is the document half-edited?)"
        )
    return None
