"""Poll one source: fetch (conditionally), parse, guard, diff, store the new version.

Blocking (network, database); the daemon runs it in a worker thread. An outage
never replaces the last good version: a failed fetch, an HTML page, a vanished
timeline or a document that lost most of its rows is recorded as a failure and
the previous events stay in force.

Decisions:

* **Identity is per term, across sources** (:mod:`scheduler.changes`). A poll
  compares the term(s) this source served and now serves *together with the
  same terms' rows from the other sources in force* (``peers``), so a
  timeline that moves from one page to another, or from a draft page to the
  term's own page, changes no row and alerts nobody; change records are keyed
  by the row's canonical UID (before :func:`feeds.merge.distinct_uids` tells
  two sources' copies apart in the feed).
* **One timeline per source.** A document holding several timelines gives the
  pinned ``term``, else the term served so far (a draft of the next term added
  above the current one does not take over), else the first, with a warning.
* **Unchanged content is not parsed again.** The digest (of the pinned term,
  the program zone and the text) is compared with the last good version's
  before parsing; an unchanged local file or an unchanged HTTP body costs one
  hash.
* **A version saved before written zones were kept is read once more.** The
  zone each time was written in (the printed day of an all-day span) is saved
  next to the JSON contract; :data:`READING` is part of the digest, so an
  unchanged document whose stored version predates it is parsed again once
  and saved with its zones (its events compare equal: no change alerts).
* **Any exception of reading, parsing or comparing is a recorded failure** (not
  only FeedError: an OverflowError or RecursionError from a hostile document
  must not stop the daemon). Messages are passed through
  :func:`feeds.public.redact`, so no credential or token reaches the store,
  ``/healthz`` or the log.
* **A budget.** Fetching has its own total deadline (``fetch_deadline``); the
  whole poll has ``budget`` seconds. A thread cannot be interrupted, so a poll
  that overran is still allowed to finish but its result is discarded and
  recorded as a failure; the daemon meanwhile reports the poll as stuck.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from feeds.errors import FeedError
from feeds.load import parse_document
from feeds.model import Timeline
from feeds.public import redact
from feeds.sources import Document, fetch_if_changed, read
from scheduler.changes import Change, Diff, canonical, diff, identities, suspicious, when
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
        deadline=source.fetch_deadline.total_seconds(),
    )
    return fetched.document, fetched.etag, fetched.last_modified


READING = "written-zones"
"""What a saved version holds besides the JSON contract (see the module docstring)."""


def content_digest(text: str, zone: str, term: str | None = None) -> str:
    """The identity of a version: its text as read in *zone* (for the pinned *term*).

    :data:`READING` is part of it: a version saved by a reading that kept less is read again.
    """
    pinned = "" if term is None else f"{term}\0"
    return hashlib.sha256(f"{READING}\0{pinned}{zone}\0{text}".encode()).hexdigest()


def describe(error: BaseException) -> str:
    """One line about a failure, without credentials (FeedErrors already say what to fix)."""
    orig = getattr(error, "orig", None)  # SQLAlchemy: the driver's words, not the SQL text
    if isinstance(orig, BaseException):
        error = orig
    text = str(error) if isinstance(error, FeedError) else f"{type(error).__name__}: {error}"
    return redact(text.splitlines()[0] if text else text)[:500]


class _Failed(Exception):
    """A poll's own verdict that the new version must not be used."""


def poll(
    source: Source,
    store: Store,
    zone: str,
    now: dt.datetime,
    *,
    budget: float | None = None,
    peers: Sequence[Timeline] = (),
) -> PollResult:
    """Poll *source* once and record the outcome in *store*.

    *budget* (seconds) bounds the whole poll: a result that arrives later is
    recorded as a failure instead of being used. *peers* are the other
    sources' timelines in force: rows of the same term are one row wherever
    they come from (see the module docstring).
    """
    started = time.monotonic()
    last = store.last_good(source.name)
    current = last[1] if last else None
    try:
        document, etag, modified = _document(source, store)
        if document is None:
            store.record_fetch(source.name, now, etag=etag, last_modified=modified)
            return PollResult(source.name, current, Diff())
        digest = content_digest(document.text, zone, source.term)
        if last is not None and last[0] == digest:
            store.record_fetch(source.name, now, etag=etag, last_modified=modified)
            return PollResult(source.name, current, Diff())
        timeline = parse_document(
            document, zone=zone, term=source.term, prefer=current.term.id if current else None
        )
        events = canonical(timeline.events, store.aliases())
        old = current.events if current else ()
        terms = {timeline.term.id} | ({current.term.id} if current else set())
        others = [e for t in peers if t.term.id in terms for e in t.events]
        before, after = identities([*old, *others]), identities([*events, *others])
        problem = suspicious(before, after)
        if problem:
            raise _Failed(problem)
        changes = diff(before, after).canonical() if current else Diff()
        elapsed = time.monotonic() - started
        if budget is not None and elapsed > budget:
            raise _Failed(
                f"reading took {elapsed:.0f} s, more than its budget of {budget:g} s; "
                "keeping the last good version (is the document huge or hostile?)"
            )
    except Exception as error:  # any failure keeps the last good version
        text = str(error) if isinstance(error, _Failed) else describe(error)
        store.record_fetch(source.name, now, error=text)
        return PollResult(source.name, current, Diff(), error=text)
    for new_uid, old_uid in changes.renamed:
        store.add_alias(new_uid, old_uid)
    if changes.renamed:
        events = canonical(events, dict(changes.renamed))
    timeline = replace(timeline, events=events)
    store.save_version(source.name, digest, timeline, now)
    store.record_changes(_records(source.name, changes, now))
    for pieces, _ in changes.merged:  # the piece that did not keep the identity is gone
        for piece in pieces:
            if piece.uid not in {e.uid for e in events}:
                store.cancel(piece.uid, None, now)
    store.record_fetch(source.name, now, etag=etag, last_modified=modified)
    return PollResult(source.name, timeline, changes, first=current is None)


def _records(source: str, changes: Diff, now: dt.datetime) -> list[ChangeRecord]:
    at = stamp(now)
    return [
        *(ChangeRecord(source, e.uid, Change.ADDED, None, when(e), at) for e in changes.added),
        *(ChangeRecord(source, e.uid, Change.REMOVED, when(e), None, at) for e in changes.removed),
        *(
            ChangeRecord(source, n.uid, Change.MOVED, when(o), when(n), at)
            for o, n in changes.moved
        ),
    ]
