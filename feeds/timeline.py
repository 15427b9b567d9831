"""Assembling a :class:`~feeds.model.Timeline` from a Markdown term document.

UIDs: ``<term id>-<slug of the title>@lfx-cal``, where the slug is the title
case-folded with every run of non-alphanumerics turned into one ``-`` (long
titles are cut and keep an 8-hex digest of the whole). The date is not part of
it, so a moved deadline stays the same event; whitespace, emphasis, case,
punctuation and weekday fixes leave it unchanged. A repeated title gets ``-2``,
``-3`` in document order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from feeds.categories import classify
from feeds.dates import read_cell
from feeds.errors import NoTimelineError
from feeds.markdown import Row, Section, read_sections
from feeds.model import Endpoint, Event, Notice, Term, Timeline
from feeds.resolve import Context, RowError, resolve
from feeds.rows import clean_title, split_item
from feeds.term import identify

_WEEK = re.compile(r"\bweek\s*\d+\b", re.IGNORECASE)
_SLUG = re.compile(r"[^0-9a-z]+")


def make_uid(term_id: str, key: str, seen: dict[str, int]) -> str:
    """Return the stable UID for a title (or schedule key) within a term."""
    slug = _SLUG.sub("-", key.casefold()).strip("-") or "event"
    if len(slug) > 48:
        import hashlib  # only long titles need it; keeps start-up lean

        digest = hashlib.sha1(slug.encode(), usedforsecurity=False).hexdigest()[:8]
        slug = f"{slug[:39].rstrip('-')}-{digest}"
    seen[slug] = seen.get(slug, 0) + 1
    if seen[slug] > 1:
        slug = f"{slug}-{seen[slug]}"
    return f"{term_id}-{slug}@lfx-cal"


@dataclass
class _Draft:
    row: Row
    title: str
    start: Endpoint
    end: Endpoint | None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Builder:
    ctx: Context
    drafts: list[_Draft] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    dated_rows: int = 0

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(Notice(line, message))

    def add(self, row: Row) -> None:
        if row.in_table:
            activity, when = row.activity, row.when
            if not when:
                self.warn(row.line, f"{activity!r} has no date; skipped (add a date)")
                return
        else:
            split = split_item(row.text)
            if split is None:
                self._undated(row)
                return
            activity, when = split
        self.dated_rows += 1
        written = read_cell(when)
        try:
            resolved = resolve(written, self.ctx)
        except RowError as error:
            self.warn(row.line, f"cannot read date {when.strip()!r}: {error}; row skipped")
            return
        for message in resolved.warnings:
            self.warn(row.line, message)
        title = clean_title(activity)
        if not title:
            self.warn(row.line, "row has a date but no activity; skipped (add the activity)")
            return
        notes = [note for note in written.notes if note]
        self.drafts.append(_Draft(row, title, resolved.start, resolved.end, notes))

    def _undated(self, row: Row) -> None:
        parent = next((d for d in reversed(self.drafts) if d.row.depth < row.depth), None)
        if row.depth > 1 and parent is not None and self.drafts[-1] is parent:
            parent.notes.append(clean_title(row.text))
        elif row.depth and _WEEK.search(row.text):
            self.warn(
                row.line,
                f"{clean_title(row.text)!r} gives a week number but no calendar date;"
                " skipped (write the date)",
            )


def build(section: Section, term: Term, source: str, zone: str, url: str | None) -> Timeline:
    """Normalize the rows of one timeline section into a Timeline."""
    builder = _Builder(Context(term, zone))
    for row in section.rows:
        builder.add(row)
    seen: dict[str, int] = {}
    events = tuple(
        Event(
            uid=make_uid(term.id, draft.title, seen),
            term=term.id,
            title=draft.title,
            start=draft.start,
            end=draft.end,
            categories=classify(draft.title),
            notes=tuple(draft.notes),
            line=draft.row.line,
            source=source,
        )
        for draft in builder.drafts
    )
    return Timeline(source, term, events, tuple(builder.warnings), url)


def parse_markdown(
    text: str,
    source: str,
    *,
    zone: str = "America/Los_Angeles",
    term: str | None = None,
    path: str = "",
    url: str | None = None,
) -> Timeline:
    """Read the timeline of a Markdown term document.

    Raises :class:`~feeds.errors.NoTimelineError` when no section holds a dated row.
    """
    for section in read_sections(text):
        identity = identify(section.title, section.header_text, path or source, term)
        timeline = build(section, identity, source, zone, url)
        if timeline.events or any(n.line for n in timeline.warnings):
            return timeline
    raise NoTimelineError(source)
