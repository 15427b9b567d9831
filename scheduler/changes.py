"""What changed between two versions of a timeline, and whether to trust the new one.

Only dates count: a moved start or deadline, a row added, a row removed. The
same matching serves ``lfx-cal diff`` and the daemon's alerts, so what a
pull-request check shows is what subscribers will hear.

**Matching.** Events are compared per term (never across terms), and each old
row is paired with at most one new row, in passes from the surest to the least
sure:

1. **Same UID** (the title's slug: whitespace, emphasis, case, punctuation and
   weekday fixes leave it unchanged).
2. **Same dates, related row**: among rows with exactly the same dates, the
   first unpaired old row in document order that shares a category, has a
   related title (:data:`SAME_DATES_TITLE`) or sits at the same table position
   — so "coding period" → "mentees matching and coding" is a rename even though
   its category changed. Rows are bucketed by dates, so this pass is linear.
3. **Split and merge**: an old period ``A–B`` whose start reappears in one new
   row and whose deadline in a later one (both within ``A–B``, not overlapping,
   and related to it) was *split*; two old
   rows whose start and deadline make one new period were *merged*. No date
   changed; the piece that carries the deadline keeps the old UID (reminders
   are about deadlines, so nothing sent is sent again).
4. **Assignment**: the remaining rows of a term are scored pairwise —
   ``0.5·title + 0.2·category + 0.15·position + 0.15·proximity`` — where *title*
   is the Dice coefficient of their word sets (a word matches its plural and
   any word it is a 4+-letter prefix of), *category* is 1 when they share a
   category other than ``other``, *position* is 1 minus the difference of
   their relative places in the table, and *proximity* falls from 1 (same
   deadline) to 0 at :data:`NEAR_DAYS` days apart. Pairs scoring at least
   :data:`ACCEPT` whose titles are related (or that share a category and are
   near in time) are taken greedily, best first. A term's timeline has a few
   dozen rows, so the greedy assignment is exact enough and needs no solver
   (scipy is not a dependency); beyond :data:`MAX_PAIRS` candidate pairs only
   rows within :data:`WINDOW` places of each other are scored.

A pair with the same dates and another UID is a **rename** (no alert; the new
UID becomes an alias of the old one in the store). A pair with other dates is a
**move** — including a time added to a date-only deadline (it became earlier).
Rows left over are **added** or **removed**.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import NamedTuple

from feeds import zones
from feeds.formats import parse_endpoint
from feeds.model import Event, endpoint_text

LOST_ROWS = 0.5
"""A new version with fewer than this share of the last good one's events is refused."""

SAME_DATES_TITLE = 0.2
"""Least title similarity that pairs two rows with the same dates but no shared category."""
ACCEPT = 0.45
"""Least score of a pair in the assignment pass."""
RELATED_TITLE = 0.3
"""Least title similarity of an assigned pair that shares no category."""
NEAR_DAYS = 60
"""Deadlines this many days apart (or more) get no proximity credit."""
MAX_PAIRS = 40_000
"""Above this many leftover pairs, only rows near in the table are scored."""
WINDOW = 20
"""How many table places apart two rows may be when the leftovers are many."""


class Change(StrEnum):
    """The kind of a change record (the store's ``changes.kind``)."""

    ADDED = "added"
    REMOVED = "removed"
    MOVED = "moved"


class Diff(NamedTuple):
    """What changed: added, removed, moved (old, new), renames, splits and merges.

    ``renamed`` holds (new uid, old uid) for every pair whose UID changed
    (renames, moved renames, and the deadline piece of a split or merge).
    ``split`` holds (old, new pieces); ``merged`` (old pieces, new).
    """

    added: tuple[Event, ...] = ()
    removed: tuple[Event, ...] = ()
    moved: tuple[tuple[Event, Event], ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    split: tuple[tuple[Event, tuple[Event, ...]], ...] = ()
    merged: tuple[tuple[tuple[Event, ...], Event], ...] = ()
    retitled: tuple[tuple[Event, Event], ...] = ()
    """(old, new) rows paired with the same dates under another UID: renames."""

    def __bool__(self) -> bool:
        """True when some date changed (renames, splits and merges alone are not)."""
        return bool(self.added or self.removed or self.moved)

    def canonical(self) -> Diff:
        """The same diff with each new event under the UID it keeps (its old one)."""
        aliases = dict(self.renamed)
        return self._replace(
            moved=tuple((o, _keep(n, aliases)) for o, n in self.moved),
            split=tuple((o, tuple(_keep(n, aliases) for n in ns)) for o, ns in self.split),
            merged=tuple((os, _keep(n, aliases)) for os, n in self.merged),
        )


def _keep(event: Event, aliases: Mapping[str, str]) -> Event:
    return event if event.uid not in aliases else replace(event, uid=aliases[event.uid])


def when(event: Event) -> str:
    """The dates of *event* as text: ``start`` or ``start → end``."""
    start = endpoint_text(event.start)
    return start if event.end is None else f"{start} → {endpoint_text(event.end)}"


def wall_clock(dates: str, zone: str) -> str:
    """Dates text from :func:`when` with the program-zone wall clock after each instant.

    ``2031-05-21 → 2031-06-04T00:00:00Z`` in America/Los_Angeles reads
    ``2031-05-21 → 2031-06-04T00:00:00Z (Tue Jun 03 17:00 PDT)``: the viewer-neutral
    UTC form first, then what the program's own clocks say.
    """
    info = zones.zone(zone)
    out = []
    for part in dates.split(" → "):
        try:
            value = parse_endpoint(part)
        except ValueError:
            out.append(part)
            continue
        if isinstance(value, dt.datetime):
            local = value.astimezone(info)
            part = f"{part} ({local:%a %b %d %H:%M} {local.tzname()})"
        out.append(part)
    return " → ".join(out)


def canonical(events: Sequence[Event], aliases: Mapping[str, str]) -> tuple[Event, ...]:
    """Give each event its canonical uid (the first one it was seen under)."""
    return tuple(
        event if event.uid not in aliases else replace(event, uid=aliases[event.uid])
        for event in events
    )


def identities(events: Iterable[Event]) -> list[Event]:
    """One event per (term, uid), the first: the same row on two pages is one row."""
    seen: set[tuple[str, str]] = set()
    out = []
    for event in events:
        key = (event.term, event.uid)
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    ("a", "an", "and", "the", "of", "for", "to", "in", "on", "at", "by", "or", "is", "are",
     "be", "with", "from", "until", "all", "any", "utc", "pdt", "pst", "pt", "edt", "est",
     "et", "am", "pm")
)  # fmt: skip


def _words(title: str) -> frozenset[str]:
    words = _WORD.findall(title.casefold())
    return frozenset(w for w in words if w not in _STOP and not w.isdigit())


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long.startswith(short)


def title_similarity(a: str, b: str) -> float:
    """Dice coefficient of the two titles' word sets (a word matches its prefix-extensions).

    Numbers and filler words (articles, prepositions, zone names) are not words here.
    """
    return _dice(_words(a), _words(b))


def _dice(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.0
    if len(left) > len(right):
        left, right = right, left
    common = sum(1 for w in left if any(_same_word(w, v) for v in right))
    return 2 * common / (len(left) + len(right))


def _shares_category(a: Event, b: Event) -> bool:
    return bool((set(a.categories) & set(b.categories)) - {"other"})


def _day(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


class _Side:
    """One version of a term's rows: events, their dates text and their relative places."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = list(events)
        self.dates = [when(e) for e in self.events]
        self.words = [_words(e.title) for e in self.events]
        self.days = [_day(e.deadline) for e in self.events]
        self.kinds = [frozenset(e.categories) - {"other"} for e in self.events]
        size = max(1, len(self.events) - 1)
        self.place = [i / size for i in range(len(self.events))]
        self.partner: list[int | None] = [None] * len(self.events)

    def free(self) -> list[int]:
        return [i for i, p in enumerate(self.partner) if p is None]


def _pair(old: _Side, new: _Side, i: int, j: int) -> None:
    old.partner[i], new.partner[j] = j, i


def _score(old: _Side, new: _Side, i: int, j: int) -> float | None:
    category = bool(old.kinds[i] & new.kinds[j])
    near = max(0.0, 1 - abs((old.days[i] - new.days[j]).days) / NEAR_DAYS)
    if not category and not (old.words[i] and new.words[j]):
        return None
    title = _dice(old.words[i], new.words[j])
    if title < RELATED_TITLE and not (category and near > 0):
        return None
    position = 1 - abs(old.place[i] - new.place[j])
    score = 0.5 * title + 0.2 * category + 0.15 * position + 0.15 * near
    return score if score >= ACCEPT else None


def _related(a: Event, b: Event) -> bool:
    return _shares_category(a, b) or title_similarity(a.title, b.title) >= SAME_DATES_TITLE


def _same_dates(old: _Side, new: _Side) -> None:
    """Pass 2: rows with exactly the same dates, in document order (linear, bucketed)."""
    buckets: dict[str, deque[int]] = {}
    for i in old.free():
        buckets.setdefault(old.dates[i], deque()).append(i)
    for j in new.free():
        queue = buckets.get(new.dates[j])
        if not queue:
            continue
        while queue and old.partner[queue[0]] is not None:
            queue.popleft()
        for i in list(queue)[:8]:  # the first few candidates: enough, and bounded
            if old.partner[i] is not None:
                continue
            same_place = abs(old.place[i] - new.place[j]) < 1e-9
            a, b = old.events[i], new.events[j]
            if same_place or set(a.categories) & set(b.categories) or _related(a, b):
                _pair(old, new, i, j)
                break


def _splits(old: _Side, new: _Side) -> tuple[list[_Piece], list[_Piece]]:
    """Pass 3: an old period whose endpoints went to two new rows, and the reverse.

    The piece that keeps the period's identity is its partner when it had one
    (same UID), else the piece with the deadline; the other piece is marked
    taken (partner ``-1``) so it is neither added nor removed.
    """
    splits: list[_Piece] = []
    merges: list[_Piece] = []
    for whole, parts, found in ((old, new, splits), (new, old, merges)):
        starts: dict[dt.date, list[int]] = {}
        ends: dict[dt.date, list[int]] = {}
        for j, event in enumerate(parts.events):  # indexed: no rows × rows scan
            starts.setdefault(_day(event.start), []).append(j)
            ends.setdefault(parts.days[j], []).append(j)
        for i, event in enumerate(whole.events):
            p = whole.partner[i]
            if event.end is None or p == -1 or (p is not None and whole.dates[i] == parts.dates[p]):
                continue

            def usable(
                j: int, event: Event = event, p: int | None = p, parts: _Side = parts
            ) -> bool:
                return j == p or (parts.partner[j] is None and _related(event, parts.events[j]))

            head = next(
                (j for j in starts.get(_day(event.start), ())[:8] if usable(j)
                 and parts.events[j].start == event.start
                 and parts.events[j].deadline != event.deadline
                 and parts.days[j] <= whole.days[i]), None
            )  # fmt: skip
            tail = next(
                (j for j in ends.get(whole.days[i], ())[:8] if j != head and usable(j)
                 and parts.events[j].deadline == event.deadline
                 and parts.events[j].start != event.start
                 and head is not None
                 and _day(parts.events[j].start) >= parts.days[head]), None
            )  # fmt: skip
            if head is None or tail is None or (p is not None and p not in (head, tail)):
                continue
            keeper, other = (head, tail) if p == head else (tail, head)
            whole.partner[i], parts.partner[keeper], parts.partner[other] = keeper, i, -1
            found.append(_Piece(i, head, tail))
    return splits, merges


class _Piece(NamedTuple):
    """A split (``whole`` is old) or a merge (``whole`` is new) and its two pieces."""

    whole: int
    head: int
    tail: int


def _assign(old: _Side, new: _Side) -> None:
    """Pass 4: greedy best-first assignment over scored leftover pairs."""
    left, right = old.free(), new.free()
    wide = len(left) * len(right) <= MAX_PAIRS
    candidates = []
    for i in left:
        near = (
            right
            if wide
            else right[bisect_left(right, i - WINDOW) : bisect_right(right, i + WINDOW)]
        )
        for j in near:
            score = _score(old, new, i, j)
            if score is not None:
                candidates.append((-score, i, j))
    candidates.sort()
    for _, i, j in candidates:
        if old.partner[i] is None and new.partner[j] is None:
            _pair(old, new, i, j)


def _diff_term(old_events: Sequence[Event], new_events: Sequence[Event]) -> Diff:
    old, new = _Side(old_events), _Side(new_events)
    by_uid = {e.uid: i for i, e in enumerate(old.events)}
    for j, event in enumerate(new.events):  # pass 1
        i = by_uid.get(event.uid)
        if i is not None and old.partner[i] is None:
            _pair(old, new, i, j)
    _same_dates(old, new)
    splits, merges = _splits(old, new)
    _assign(old, new)
    quiet_new = {j for s in splits for j in (s.head, s.tail)} | {m.whole for m in merges}
    moved, renamed, retitled = [], [], []
    for j, i in enumerate(new.partner):
        if i is None or i < 0:
            continue
        a, b = old.events[i], new.events[j]
        if b.uid != a.uid:
            renamed.append((b.uid, a.uid))
        if old.dates[i] != new.dates[j] and j not in quiet_new:
            moved.append((a, b))
        elif b.uid != a.uid and j not in quiet_new:
            retitled.append((a, b))
    return Diff(
        added=tuple(e for j, e in enumerate(new.events) if new.partner[j] is None),
        removed=tuple(e for i, e in enumerate(old.events) if old.partner[i] is None),
        moved=tuple(moved),
        renamed=tuple(renamed),
        split=tuple(
            (old.events[s.whole], (new.events[s.head], new.events[s.tail])) for s in splits
        ),
        merged=tuple(
            ((old.events[m.head], old.events[m.tail]), new.events[m.whole]) for m in merges
        ),
        retitled=tuple(retitled),
    )


def diff(old: Sequence[Event], new: Sequence[Event]) -> Diff:
    """Compare two versions of a set of events, term by term (see the module docstring).

    Each side is first reduced to one event per (term, uid): a timeline given by
    two sources is one timeline.
    """
    old_terms: dict[str, list[Event]] = {}
    new_terms: dict[str, list[Event]] = {}
    for event in identities(old):
        old_terms.setdefault(event.term, []).append(event)
    for event in identities(new):
        new_terms.setdefault(event.term, []).append(event)
    parts = [
        _diff_term(old_terms.get(term, []), new_terms.get(term, []))
        for term in dict.fromkeys([*old_terms, *new_terms])
    ]
    return Diff(
        added=tuple(x for part in parts for x in part.added),
        removed=tuple(x for part in parts for x in part.removed),
        moved=tuple(x for part in parts for x in part.moved),
        renamed=tuple(x for part in parts for x in part.renamed),
        split=tuple(x for part in parts for x in part.split),
        merged=tuple(x for part in parts for x in part.merged),
        retitled=tuple(x for part in parts for x in part.retitled),
    )


def suspicious(old: Sequence[Event], new: Sequence[Event]) -> str | None:
    """Why *new* should not replace *old* (it lost most rows), or None when it may."""
    if len(old) >= 4 and len(new) < len(old) * LOST_ROWS:
        return (
            f"the timeline shrank from {len(old)} to {len(new)} events; "
            "keeping the last good version (is the document half-edited?)"
        )
    return None
