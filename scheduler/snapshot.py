"""What the feed server and the publisher serve: the current good timelines and their history.

A :class:`Snapshot` is immutable; the daemon swaps in a new one after each poll
that changed something. ``version`` is a digest of everything a response is
built from, so HTTP caches (ETag) and rendered bytes are keyed by it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from feeds.ical import Revision
from feeds.jsonout import timeline_dict
from feeds.meaning import Rules
from feeds.model import Timeline
from scheduler.schema import ChangeRecord

EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class Snapshot(NamedTuple):
    """The timelines being served, their change history and a version digest."""

    timelines: tuple[Timeline, ...]
    revisions: Mapping[str, Revision]
    version: str
    modified: dt.datetime
    zone: str
    rules: Rules | None = None
    """What rows mean (:mod:`feeds.meaning`); None: the defaults in ``zone``."""
    changes: tuple[ChangeRecord, ...] = ()
    """The newest change records, newest first (``/changes.atom`` and the page)."""

    @property
    def meaning(self) -> Rules:
        """The meaning rules the page follows."""
        return self.rules or Rules(self.zone)


def build_snapshot(
    timelines: Sequence[Timeline],
    revisions: Mapping[str, Revision],
    zone: str,
    modified: dt.datetime | None = None,
    rules: Rules | None = None,
    changes: Sequence[ChangeRecord] = (),
) -> Snapshot:
    """Make a Snapshot; ``modified`` defaults to the newest revision (or a fixed epoch)."""
    data = {
        "zone": zone,
        "timelines": [timeline_dict(t) for t in timelines],
        "revisions": {
            uid: [r.sequence, r.modified.isoformat() if r.modified else None]
            for uid, r in sorted(revisions.items())
        },
        "zones": [{e.uid: e.zones for e in t.events if e.zones != (None, None)} for t in timelines],
        "rules": repr(rules),
        "changes": [list(c) for c in changes],
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    if modified is None:
        stamps = [r.modified for r in revisions.values() if r.modified is not None]
        modified = max(stamps, default=EPOCH)
    return Snapshot(
        tuple(timelines), dict(revisions), digest, modified, zone, rules, tuple(changes)
    )
