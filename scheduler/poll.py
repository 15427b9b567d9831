"""Poll one source: fetch (conditionally), parse, guard, diff, store the new version.

Blocking (network, database); the daemon runs it in a worker thread. An outage
never replaces the last good version: a failed fetch, an HTML page, a vanished
timeline or a document that lost most of its rows is recorded as a failure and
the previous events stay in force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import NamedTuple

from feeds.errors import FeedError, SourceError
from feeds.load import parse_document
from feeds.model import Timeline
from feeds.sources import Document, fetch_if_changed, read
from scheduler.changes import Diff, canonical, diff, suspicious, when
from scheduler.config import Source
from scheduler.schema import stamp
from scheduler.store import ChangeRecord, Store


class PollResult(NamedTuple):
    """What a poll found: the timeline in force, what changed, and any failure."""

    source: str
    timeline: Timeline | None
    diff: Diff
    first: bool = False
    error: str | None = None


def _document(source: Source, store: Store) -> tuple[Document | None, str | None, str | None]:
    """Read the source: (document, ETag, Last-Modified); no document on 304 Not Modified."""
    if not source.location.startswith(("http://", "https://")):
        return read(source.location), None, None
    status = next((s for s in store.source_status() if s.source == source.name), None)
    fetched = fetch_if_changed(
        source.location,
        etag=status.etag if status else None,
        last_modified=status.last_modified if status else None,
    )
    return fetched.document, fetched.etag, fetched.last_modified


def poll(source: Source, store: Store, zone: str, now: dt.datetime) -> PollResult:
    """Poll *source* once and record the outcome in *store*."""
    last = store.last_good(source.name)
    current = last[1] if last else None
    try:
        document, etag, modified = _document(source, store)
        if document is None:
            store.record_fetch(source.name, now, etag=etag, last_modified=modified)
            return PollResult(source.name, current, Diff())
        timeline = parse_document(document, zone=zone)
    except (FeedError, SourceError, ValueError) as error:
        store.record_fetch(source.name, now, error=str(error))
        return PollResult(source.name, current, Diff(), error=str(error))
    digest = hashlib.sha256(document.text.encode()).hexdigest()
    if last is not None and last[0] == digest:
        store.record_fetch(source.name, now, etag=etag, last_modified=modified)
        if current is not None:  # a version saved before written zones were kept
            current = _zones_from(current, timeline)
        return PollResult(source.name, current, Diff())
    aliases = store.aliases()
    events = canonical(timeline.events, aliases)
    old = current.events if current else ()
    problem = suspicious(old, events)
    if problem:
        store.record_fetch(source.name, now, error=problem)
        return PollResult(source.name, current, Diff(), error=problem)
    changes = diff(old, events) if current else Diff()
    for new_uid, old_uid in changes.renamed:
        store.add_alias(new_uid, old_uid)
    if changes.renamed:
        events = canonical(events, dict(changes.renamed))
    timeline = replace(timeline, events=events)
    store.save_version(source.name, digest, timeline, now)
    store.record_changes(_records(source.name, changes, now))
    store.record_fetch(source.name, now, etag=etag, last_modified=modified)
    return PollResult(source.name, timeline, changes, first=current is None)


def _zones_from(current: Timeline, parsed: Timeline) -> Timeline:
    """*current* with the written zones of the same rows (by line) of *parsed*."""
    zones = {e.line: e.zones for e in parsed.events}
    return replace(
        current,
        events=tuple(replace(e, zones=zones.get(e.line, e.zones)) for e in current.events),
    )


def _records(source: str, changes: Diff, now: dt.datetime) -> list[ChangeRecord]:
    at = stamp(now)
    return [
        *(ChangeRecord(source, e.uid, "added", None, when(e), at) for e in changes.added),
        *(ChangeRecord(source, e.uid, "removed", when(e), None, at) for e in changes.removed),
        *(ChangeRecord(source, n.uid, "moved", when(o), when(n), at) for o, n in changes.moved),
    ]
