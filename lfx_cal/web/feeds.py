"""Feed names, query filters and the bytes of each feed, cached per snapshot version.

A feed is named ``all``, a term id of the snapshot (``lfx-2027-t2``) or a role
preset of :data:`feeds.categories.ROLES` (``mentee``). Names are looked up in
that set and never touch the filesystem. A query narrows a feed: ``category``
(repeatable) keeps events with any of the given categories, ``alarms=7d,1d``
adds VALARMs.
"""

from __future__ import annotations

import email.utils
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Generic, NamedTuple, TypeVar

from feeds.categories import ROLES
from feeds.durations import parse_durations
from feeds.errors import DurationError
from feeds.ical import FeedOptions, to_ical
from feeds.model import CATEGORIES, Event
from lfx_cal.web.sources import public_events
from scheduler.snapshot import Snapshot

CACHE_SIZE = 256
MAX_ALARMS = 6
MAX_ALARM = timedelta(weeks=8)
CACHE_CONTROL = "public, max-age=300"
ICS_TYPE = "text/calendar; charset=utf-8"
TITLE = "LFX Mentorship"

K = TypeVar("K")
V = TypeVar("V")


class QueryError(ValueError):
    """A feed query names an unknown category or a bad alarm list (HTTP 400)."""


class FeedQuery(NamedTuple):
    """A normalized feed request: the cache key (with the snapshot version) and the ETag input."""

    name: str
    categories: tuple[str, ...] = ()
    alarms: tuple[int, ...] = ()


class Rendered(NamedTuple):
    """Bytes ready to send, with the headers of a 200 and of a 304 answer."""

    body: bytes
    etag: str
    headers: Mapping[str, str]
    not_modified: Mapping[str, str]


CACHE_BYTES = 32 * 1024 * 1024
"""Bytes of rendered feeds kept (every distinct ``?alarms=`` value is one entry)."""


class LRU(Generic[K, V]):
    """A least-recently-used cache bounded in entries and, with *weigh*, in bytes.

    ``get`` builds a missing value once; ``peek``/``put`` let a caller build it
    elsewhere (off the event loop).
    """

    def __init__(
        self,
        size: int = CACHE_SIZE,
        *,
        max_bytes: int | None = None,
        weigh: Callable[[V], int] | None = None,
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.weigh = weigh
        self.bytes = 0
        self._items: OrderedDict[K, V] = OrderedDict()

    def peek(self, key: K) -> V | None:
        """The cached value of *key* (marked recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        """Store *value*, evicting the least recently used entries beyond the bounds."""
        old = self._items.pop(key, None)
        if old is not None and self.weigh is not None:
            self.bytes -= self.weigh(old)
        self._items[key] = value
        if self.weigh is not None:
            self.bytes += self.weigh(value)
        while len(self._items) > 1 and (
            len(self._items) > self.size
            or (self.max_bytes is not None and self.bytes > self.max_bytes)
        ):
            _key, evicted = self._items.popitem(last=False)
            if self.weigh is not None:
                self.bytes -= self.weigh(evicted)
        return value

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The cached value of *key*, building and storing it on a miss."""
        value = self.peek(key)
        return self.put(key, build()) if value is None else value

    def __len__(self) -> int:
        return len(self._items)


def feed_names(snapshot: Snapshot) -> dict[str, str]:
    """Every feed of *snapshot*, name → label: ``all``, each term id, each role preset."""
    names = {"all": f"{TITLE} (all terms)"}
    for timeline in snapshot.timelines:
        term = timeline.term
        names.setdefault(term.id, f"{TITLE} {term.title or term.id}".strip())
    for role in ROLES:
        names.setdefault(role, f"{TITLE} ({role})")
    return names


def parse_query(name: str, categories: Iterable[str], alarms: str | None) -> FeedQuery:
    """Validate and normalize query values; raises QueryError with a short message."""
    wanted = sorted(set(categories))
    for category in wanted:
        if category not in CATEGORIES:
            raise QueryError(f"unknown category; choose from {', '.join(CATEGORIES)}")
    leads: tuple[timedelta, ...] = ()
    if alarms and len(alarms) > 200:
        raise QueryError(f"at most {MAX_ALARMS} alarms of up to 8w each")
    if alarms:
        try:
            leads = parse_durations(alarms)
        except DurationError:
            raise QueryError("bad alarms; write durations such as alarms=7d,1d") from None
    if len(leads) > MAX_ALARMS * 4:
        raise QueryError(f"at most {MAX_ALARMS} alarms of up to 8w each")
    seconds = sorted({int(lead.total_seconds()) for lead in leads}, reverse=True)
    if len(seconds) > MAX_ALARMS or any(s > MAX_ALARM.total_seconds() for s in seconds):
        raise QueryError(f"at most {MAX_ALARMS} alarms of up to 8w each")
    return FeedQuery(name, tuple(wanted), tuple(seconds))


def feed_events(snapshot: Snapshot, query: FeedQuery) -> tuple[Event, ...]:
    """The events of a feed in timeline order, narrowed by the query's categories."""
    role = ROLES.get(query.name) if query.name != "all" else None
    chosen: list[Event] = []
    for timeline in snapshot.timelines:
        if query.name not in ROLES and query.name not in ("all", timeline.term.id):
            continue
        for event in timeline.events:
            if role is not None and not set(role).intersection(event.categories):
                continue
            if query.categories and not set(query.categories).intersection(event.categories):
                continue
            chosen.append(event)
    return tuple(chosen)


def http_date(snapshot: Snapshot) -> str:
    """``snapshot.modified`` as an HTTP date (Last-Modified)."""
    return email.utils.format_datetime(snapshot.modified.replace(microsecond=0), usegmt=True)


def make_etag(*parts: object) -> str:
    """A strong ETag: the quoted hash of *parts*."""
    text = "\x1f".join(str(part) for part in parts)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:24] + '"'


def rendered(
    body: bytes, etag: str, content_type: str, snapshot: Snapshot, **extra: str
) -> Rendered:
    """Wrap *body* with its validators and caching headers."""
    common = {"ETag": etag, "Last-Modified": http_date(snapshot), "Cache-Control": CACHE_CONTROL}
    common.update(extra)
    return Rendered(body, etag, {**common, "Content-Type": content_type}, common)


def render_feed(snapshot: Snapshot, query: FeedQuery) -> Rendered:
    """Render one feed's iCalendar bytes (SEQUENCE/LAST-MODIFIED from the revisions)."""
    label = feed_names(snapshot)[query.name]
    if query.categories:
        label += " – " + ", ".join(query.categories)
    options = FeedOptions(
        name=label,
        zone=snapshot.zone,
        alarms=tuple(timedelta(seconds=s) for s in query.alarms),
        stamp=snapshot.modified,
        term_prefix=query.name == "all" or query.name in ROLES,  # merged: say which term
    )
    events = public_events(feed_events(snapshot, query))
    body = to_ical(events, options, revisions=snapshot.revisions)
    etag = make_etag(snapshot.version, query.name, query.categories, query.alarms)
    return rendered(body, etag, ICS_TYPE, snapshot, **{"Access-Control-Allow-Origin": "*"})
