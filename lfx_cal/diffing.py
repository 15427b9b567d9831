"""What ``lfx-cal diff OLD NEW`` does: which dates two versions of a term document change.

The comparison is :func:`scheduler.changes.diff`, the one the daemon alerts
with, so a pull-request check shows exactly what subscribers will hear.

Decisions:

* **Sources.** OLD and NEW are anything ``show`` reads (a file, an http(s) URL,
  ``-``) or ``git:REV:PATH``: the file at REV in the git repository of the
  current directory (``git show``; the command honours ``GIT_DIR``), so a CI
  job can run ``lfx-cal diff git:origin/main:PATH PATH``. A bad revision or a
  path missing at REV is one error line, exit 2.
* **Which timelines.** Like the daemon, which keeps the term a source served
  so far, the terms compared are those both versions hold: a draft of the
  next term added above the page's own timeline, or taken away again to its
  own page, changes nothing of the page's term. When each side holds exactly
  one timeline they are compared whatever their term ids (a heading edit that
  changes how the term is identified is not a new term); when the sides share
  no term at all, everything is compared. ``--term`` pins one term on both
  sides; a side that identifies only other terms while the other side
  identifies the pinned one holds none of its rows (:func:`sides`).
* **Exit status as diff(1):** 0 no date changed, 1 dates changed, 2 trouble.
  Renames, splits and merges change no date: they are shown, with status 0.
* **The JSON is a contract**::

      {"moved": [{"old": {"title", "start", "end"}, "new": {"title", "start", "end"}}],
       "added": [{"title", "start", "end"}], "removed": [{"title", "start", "end"}]}

  ``start``/``end`` as in ``show --format json``. Extra keys: each row's
  ``line`` and ``term``; top-level ``renamed``, ``split`` and ``merged``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any

from feeds.errors import FeedError
from feeds.load import parse_document_all
from feeds.model import Event, Timeline, endpoint_text
from feeds.sources import Document, decode, read
from lfx_cal.errors import CliError
from lfx_cal.reading import say
from scheduler.changes import Diff, diff, wall_clock, when

GIT_DEADLINE = 30.0
"""Seconds ``git show`` may take."""


def read_source(source: str) -> Document:
    """Read a SOURCE, or ``git:REV:PATH`` from the git repository of the current directory."""
    if not source.startswith("git:"):
        return read(source)
    rev, sep, path = source[4:].partition(":")
    if not sep or not rev or not path:
        raise CliError(f"{source}: not git:REV:PATH (e.g. git:origin/main:README.md)")
    try:
        done = subprocess.run(
            ["git", "show", f"{rev}:{path}"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=GIT_DEADLINE,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError:
        raise CliError(f"{source}: git is not installed (install git)") from None
    except subprocess.TimeoutExpired:
        raise CliError(f"{source}: git show took more than {GIT_DEADLINE:g} s") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = why[-1].removeprefix("fatal: ") if why else f"git exited {done.returncode}"
        raise CliError(f"{source}: {reason} (check the revision and the path)")
    try:
        return Document(path, decode(source, done.stdout))
    except FeedError as error:
        raise CliError.of(error) from None


def _read(source: str) -> Document:
    try:
        return read_source(source)
    except FeedError as error:
        raise CliError.of(error) from None


def _timelines(document: Document, zone: str, term: str | None) -> tuple[Timeline, ...]:
    try:
        return parse_document_all(document, zone=zone, term=term)
    except FeedError as error:
        raise CliError.of(error) from None


def _holds(document: Document, zone: str, term: str) -> bool:
    """True when *document* identifies one of its own timelines as *term* (no pinning)."""
    try:
        return any(t.term.id == term for t in parse_document_all(document, zone=zone))
    except FeedError:
        return False


def sides(
    old: Document, new: Document, zone: str, term: str | None
) -> tuple[tuple[Timeline, ...], tuple[Timeline, ...]]:
    """The timelines of each side; with *term*, only that term's.

    A pinned term names the one timeline of a document that cannot say its
    own year (the engine gives it the pinned identity). When one side does
    identify the term itself, a side holding only another term holds nothing
    of it: its rows are not relabelled and compared (last term's page against
    the next term's draft would be every row moved by months).
    """
    found = (_timelines(old, zone, term), _timelines(new, zone, term))
    if term is None:
        return found
    held = (_holds(old, zone, term), _holds(new, zone, term))
    if not any(held):
        return found
    return (found[0] if held[0] else (), found[1] if held[1] else ())


def compare(old: Sequence[Timeline], new: Sequence[Timeline]) -> Diff:
    """The date changes from *old* to *new* timelines (see the module docstring)."""
    if len(old) == 1 and len(new) == 1:
        term = old[0].term.id
        return diff(old[0].events, [replace(e, term=term) for e in new[0].events])
    common = {t.term.id for t in old} & {t.term.id for t in new}
    if common:
        old, new = [t for t in old if t.term.id in common], [t for t in new if t.term.id in common]
    return diff([e for t in old for e in t.events], [e for t in new for e in t.events])


def _row(event: Event) -> dict[str, Any]:
    return {
        "title": event.title,
        "start": endpoint_text(event.start),
        "end": None if event.end is None else endpoint_text(event.end),
        "line": event.line,
        "term": event.term,
    }


def _retitled(changes: Diff) -> list[tuple[Event, Event]]:
    """Renames a reader can see (a term id that changed renames every row's UID silently)."""
    return [(o, n) for o, n in changes.retitled if o.title != n.title]


def as_json(changes: Diff) -> dict[str, Any]:
    """The JSON contract (see the module docstring)."""
    return {
        "moved": [{"old": _row(o), "new": _row(n)} for o, n in changes.moved],
        "added": [_row(e) for e in changes.added],
        "removed": [_row(e) for e in changes.removed],
        "renamed": [{"old": _row(o), "new": _row(n)} for o, n in _retitled(changes)],
        "split": [{"old": _row(o), "new": [_row(n) for n in ns]} for o, ns in changes.split],
        "merged": [{"old": [_row(o) for o in os], "new": _row(n)} for os, n in changes.merged],
    }


def wall(event: Event, tz: str) -> str:
    """The dates of *event* as UTC text plus the program-zone wall clock of each instant."""
    return wall_clock(when(event), tz)


class Shown(StrEnum):
    """What a shown row is: a date change (the first three) or a change of rows only."""

    MOVED = "moved"
    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    SPLIT = "split"
    MERGED = "merged"


DATES_SAME = frozenset({Shown.RENAMED, Shown.SPLIT, Shown.MERGED})
"""Kinds that change no date (shown as notices, exit status 0)."""


def _lines(changes: Diff, tz: str) -> list[tuple[Shown, Event | None, Event | None]]:
    """(kind, old, new) for every row to show, date changes first."""
    rows: list[tuple[Shown, Event | None, Event | None]] = []
    rows += [(Shown.MOVED, o, n) for o, n in changes.moved]
    rows += [(Shown.ADDED, None, e) for e in changes.added]
    rows += [(Shown.REMOVED, e, None) for e in changes.removed]
    rows += [(Shown.RENAMED, o, n) for o, n in _retitled(changes)]
    for old, pieces in changes.split:
        rows += [(Shown.SPLIT, old, piece) for piece in pieces]
    for olds, new in changes.merged:
        rows += [(Shown.MERGED, old, new) for old in olds]
    return rows


def as_text(changes: Diff, tz: str) -> str:
    """One line per change: ``moved  Title: old → new``."""
    out = []
    for kind, old, new in _lines(changes, tz):
        if old is not None and new is not None:
            title = old.title if old.title == new.title else f"{old.title} → {new.title}"
            out.append(f"{kind:8} {title}: {wall(old, tz)}  ⇒  {wall(new, tz)}")
        else:
            event = new or old
            assert event is not None
            out.append(f"{kind:8} {event.title}: {wall(event, tz)}")
    return "\n".join(out) if out else "no date changed"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def as_markdown(changes: Diff, tz: str, name: str) -> str:
    """A table for a pull-request comment or a GitHub job summary."""
    head = f"### Timeline changes in `{_cell(name)}`\n\n"
    rows = _lines(changes, tz)
    if not rows:
        return head + "No date changed.\n"
    verdict = "**Dates changed.**" if changes else "No date changed (titles only)."
    body = ["| Change | Row | Was | Now |", "|---|---|---|---|"]
    for kind, old, new in rows:
        titles = dict.fromkeys(e.title for e in (old, new) if e is not None)
        title = " → ".join(titles)
        was = "" if old is None else wall(old, tz)
        now = "" if new is None else wall(new, tz)
        body.append(f"| {kind} | {_cell(title)} | {_cell(was)} | {_cell(now)} |")
    return head + verdict + "\n\n" + "\n".join(body) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(changes: Diff, tz: str, name: str) -> str:
    """GitHub workflow commands: one annotation per change on the new document's line."""
    out = []
    path = _escape_property(name)
    for kind, old, new in _lines(changes, tz):
        level = "notice" if kind in DATES_SAME else "warning"
        where = f"file={path}" if new is None else f"file={path},line={new.line}"
        if old is not None and new is not None:
            message = f"{old.title}: {wall(old, tz)} ⇒ {new.title}: {wall(new, tz)}"
        else:
            event = new or old
            assert event is not None
            message = f"{event.title}: {wall(event, tz)}"
        title = _escape_property(f"Deadline {kind}" if level == "warning" else f"Row {kind}")
        out.append(f"::{level} {where},title={title}::{_escape_data(message)}")
    return "\n".join(out)


def _shown_name(source: str) -> str:
    if source.startswith("git:"):
        return source[4:].partition(":")[2]
    return source


def run_diff(old: str, new: str, *, zone: str, term: str | None, fmt: str) -> int:
    """Compare two sources, print in *fmt* and return the exit status (0 same dates, 1 changed)."""
    if old == new == "-":  # the second read would find standard input empty: "no timeline"
        raise CliError(
            "-: OLD and NEW both read standard input, which can be read once (save one to a file)"
        )
    changes = compare(*sides(_read(old), _read(new), zone, term))
    if fmt == "json":
        say(json.dumps(as_json(changes), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        say(as_markdown(changes, zone, _shown_name(new)))
    elif fmt == "github":
        text = as_github(changes, zone, _shown_name(new))
        if text:
            say(text)
    else:
        say(as_text(changes, zone))
    return 1 if changes else 0
