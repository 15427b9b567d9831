"""Assembling :class:`~feeds.model.Timeline` values from a Markdown term document.

A document may hold several timelines (the next term's table drafted above the
current one): each section is identified on its own (:mod:`feeds.term`), and
sections of the same term are read as one timeline. Within a timeline:

* list items and paragraphs are split into activity and date (:mod:`feeds.rows`);
  an undated item nested under a dated one is the parent's note, or, when it
  only gives a time ("Time: 6:00 PM - 7:30 PM ET"), the parent's time; a bullet
  that starts with a bare day under a month heading ("### March 2027") takes
  that month;
* a term-span line ("Spring Term: March 1st - May 31st") is term metadata: it
  sets the term's months and is not an event;
* the years of all rows are chosen together (:mod:`feeds.years`).

UIDs: ``<term id>-<slug of the title>@lfx-cal``, where the slug is the title
case-folded with every run of non-alphanumerics turned into one ``-`` (long
titles are cut and keep an 8-hex digest of the whole). The date is not part of
it, so a moved deadline stays the same event; whitespace, emphasis, case,
punctuation and weekday fixes leave it unchanged. A repeated title gets ``-2``,
``-3`` in document order.
"""

from __future__ import annotations

import calendar
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from feeds.attention import WEEKDAY
from feeds.categories import classify
from feeds.dates import MONTHS, WEEKDAYS, looks_dated, read_cell, tokenize
from feeds.errors import NoTimelineError
from feeds.markdown import MAX_SECTIONS, Row, Section, scan, table_sections, timeline_sections
from feeds.model import Event, Notice, Term, Timeline
from feeds.resolve import Context, Prepared, RowError, finish, prepare, year_row
from feeds.rows import clean_title, split_item
from feeds.term import identify
from feeds.years import Evidence, solve

MAX_CELL = 400
"""Longest date text read (characters); a longer one is a row warning."""
MAX_ITEM = 2000
"""Longest list item or paragraph read as a row (characters)."""
MAX_ROWS = 100_000
"""Most rows read from one timeline; the rest are a warning."""

_WEEK = re.compile(r"\bweek\s*\d+\b", re.IGNORECASE)
_ASIDE = re.compile(
    r"\W*(?:notes?|nb|n\.b\.|please note|important|update[ds]?|disclaimer|reminder)\W*$",
    re.IGNORECASE,
)
_OPEN_CLOSE = re.compile(
    r"(?P<title>.+?)\s+(?:opens?|starts?|begins?|runs?)\s+(?:on\s+|from\s+)?(?P<first>.+?),?"
    r"\s+(?:and\s+)?(?:closes?|ends?|(?:is|are)\s+due|until|through|to)(?:\s+on)?",
    re.IGNORECASE,
)
_UNREAD_DATE = re.compile(r"(?<![\d.])\d{1,4}[./]\d{1,2}[./]\d{1,4}(?![\d.])")
_SLUG = re.compile(r"[^0-9a-z]+")
_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?![\d.])")
_TERM_SPAN = re.compile(
    r"(?:(?:spring|summer|fall|autumn|winter|(?:19|20)\d\d|lfx|mentorship|program(?:me)?|the)\s+)*"
    r"(?:term|cohort)(?:\s*(?:#|no\.?)?\s*\d{1,2})?(?:\s+(?:19|20)\d\d)?"
    r"(?:\s+(?:dates|duration|period|span))?",
    re.IGNORECASE,
)
_TIME_LABEL = re.compile(r"\s*(?:time|times|when|at|hours?)\s*[:\-–]?\s*", re.IGNORECASE)
_TIME_KINDS = frozenset({"time", "zone", "sep", "note"})
_GLUE_WORDS = frozenset({"at", "from", "to", "until", "till", "and", "through"})
_LEADING_DAY = re.compile(
    r"(\s*(?:[a-z]{3,9}\.?,?\s+)?)(\d{1,2})(st|nd|rd|th)?\b(?!\s*(?:[:.]\d|[ap]\.?m\b))",
    re.IGNORECASE,
)


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


def is_term_span(title: str) -> bool:
    """True for a term-metadata title such as "Spring Term" or "Term 3" (not an event)."""
    return _TERM_SPAN.fullmatch(" ".join(title.split())) is not None


_YEAR_PAIR = re.compile(r"(?<![\d.])((?:19|20)\d{2})\s*[/–-]\s*(\d{2})(?![\d.])")


def _years_in(text: str) -> frozenset[int]:
    """Years a text names, ``2027/28`` and ``2027-28`` giving both."""
    years = {int(y) for y in _YEAR.findall(text)}
    for first, second in _YEAR_PAIR.findall(text):
        years.add(int(first[:2] + second))
    return frozenset(years)


def _time_only(text: str) -> str | None:
    """The time text of an item that gives only a time ("Time: 6 PM - 7:30 PM ET")."""
    label = _TIME_LABEL.match(text)
    rest = text[label.end() :] if label else text
    if not rest.strip() or len(rest) > MAX_CELL:
        return None
    tokens = tokenize(rest)
    kinds = {t.kind for t in tokens if not (t.kind == "word" and t.text.lower() in _GLUE_WORDS)}
    return rest if "time" in kinds and kinds <= _TIME_KINDS else None


def _with_month(text: str, context: str) -> str:
    """``3: Kickoff`` under a "March 2027" heading reads as ``March 3: Kickoff``."""
    month = next((w for w in re.findall(r"[a-z]+", context.lower()) if w in MONTHS), None)
    match = _LEADING_DAY.match(text)
    if month is None or match is None:
        return text
    lead = match.group(1).strip(" ,.").lower()
    if lead and lead not in WEEKDAYS:
        return text
    if any(t.kind in {"month", "iso", "slash"} for t in tokenize(text[:200])):
        return text
    return f"{text[: match.start(2)]}{month.title()} {text[match.start(2) :]}"


@dataclass
class _Item:
    """A dated row before its date is read: activity, date text, notes."""

    row: Row
    activity: str
    when: str
    notes: list[str] = field(default_factory=list)
    extra: str = ""


@dataclass
class _Builder:
    """Collects the rows of one term's sections, then reads their dates together."""

    term: Term
    zone: str
    source: str
    items: list[_Item] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    spans: list[_Item] = field(default_factory=list)
    context: set[int] = field(default_factory=set)
    rows: int = 0

    def warn(self, line: int, message: str, code: str = "") -> None:
        self.warnings.append(Notice(line, message, code))

    def add_section(self, section: Section) -> None:
        for line, message in section.notices:
            self.warn(line, message)
        self.context |= _years_in(section.header_text)
        if section.names:
            self.context |= _years_in(section.names[0])
        last_parent: _Item | None = None
        for row in section.rows:
            self.rows += 1
            if self.rows > MAX_ROWS:
                if self.rows == MAX_ROWS + 1:
                    self.warn(row.line, f"more than {MAX_ROWS} rows; the rest are not read")
                continue
            item = self._item(row)
            if item is None:
                if last_parent is not None and row.depth > last_parent.row.depth:
                    self._child(last_parent, row)
                elif row.depth and _WEEK.search(row.text):
                    self.warn(
                        row.line,
                        f"{clean_title(row.text)[:80]!r} gives a week number but no calendar"
                        " date; skipped (write the date)",
                    )
                elif row.depth and _UNREAD_DATE.search(row.text):
                    self.warn(
                        row.line,
                        f"{clean_title(row.text)[:80]!r} looks dated but no date can be read;"
                        " skipped (write e.g. 'Jul 12, 2027')",
                    )
                continue
            if _ASIDE.match(item.activity):
                continue  # "Note: in 2026 the program started on June 1": prose, not a row
            if is_term_span(clean_title(item.activity)):
                self.spans.append(item)
                last_parent = None
                continue
            self.items.append(item)
            last_parent = item

    def _item(self, row: Row) -> _Item | None:
        if row.in_table:
            if not row.when:
                if row.activity:
                    self.warn(row.line, f"{row.activity[:80]!r} has no date; skipped (add a date)")
                return None
            return _Item(row, row.activity, row.when)
        if len(row.text) > MAX_ITEM:
            self.warn(row.line, f"item of {len(row.text)} characters is too long to read"
                      f" (limit {MAX_ITEM}); skipped")  # fmt: skip
            return None
        text = _with_month(row.text, row.context) if row.context else row.text
        split = split_item(text)
        if split is None:
            return None
        activity, when = split
        period = _OPEN_CLOSE.fullmatch(activity) if len(activity) <= 200 else None
        if period is not None and looks_dated(period.group("first")):
            # "Applications open July 22 and are due by August 3": one period.
            return _Item(row, period.group("title"), f"{period.group('first')} – {when}")
        if looks_dated(activity):  # two dates, and not as a period we can read
            self.warn(
                row.line,
                f"{clean_title(activity)[:80]!r} also gives a date; only {split[1].strip()[:40]!r}"
                " was read (write the period as one range, e.g. 'July 5 - July 20: proposals')",
            )
        return _Item(row, activity, split[1])

    def _child(self, parent: _Item, row: Row) -> None:
        time = _time_only(row.text)
        if time is not None and not parent.extra:
            parent.extra = time
        else:
            parent.notes.append(clean_title(row.text))

    def _prepare(self, item: _Item) -> Prepared | None:
        when = item.when
        if len(when) > MAX_CELL:
            self.warn(item.row.line, f"date text of {len(when)} characters is too long"
                      f" (limit {MAX_CELL}); row skipped")  # fmt: skip
            return None
        written = read_cell(f"{when} {item.extra}" if item.extra else when)
        if item.extra and written.problems:
            written = read_cell(when)
            item.notes.append(item.extra)
        item.notes[:0] = [note for note in written.notes if note]
        try:
            return prepare(written)
        except RowError as error:
            self.warn(item.row.line, f"cannot read date {when.strip()[:80]!r}: {error};"
                      " row skipped")  # fmt: skip
            return None

    def term_with_spans(self) -> Term:
        """The term, with months (and a year) from term-span lines when they give them."""
        term = self.term
        for item in self.spans:
            prepared = self._prepare(item)
            if prepared is None:
                continue
            start, end = prepared
            last = end if end is not None else start
            for point in (start, last):
                assert point.month is not None and point.day is not None
                if point.day > calendar.monthrange(point.year or 2000, point.month)[1]:
                    self.warn(item.row.line, f"{calendar.month_name[point.month]} {point.day}"
                              " does not exist (fix the date); the term's months are still"
                              " read from this line")  # fmt: skip
            year = term.year if term.year is not None else start.year
            term = replace(term, first_month=start.month, last_month=last.month, year=year,
                           months_written=True)  # fmt: skip
        return term

    def build(self) -> Timeline:
        """Read every collected row's date, choosing years for all of them at once."""
        term = self.term_with_spans()
        ctx = Context(term, self.zone)
        prepared: list[tuple[_Item, Prepared]] = []
        for item in self.items:
            cell = self._prepare(item)
            if cell is not None:
                prepared.append((item, cell))
        rows = [
            year_row(cell, _years_in(item.row.context) if item.row.context else frozenset())
            for item, cell in prepared
        ]
        named = _years_in(term.title)
        if term.year is not None and term.year not in named:
            named = frozenset({term.year})  # --term, or a year from the header or path
        choices = solve(rows, Evidence(term, frozenset(self.context), named))
        seen: dict[str, int] = {}
        events: list[Event] = []
        for (item, cell), choice in zip(prepared, choices, strict=True):
            line = item.row.line
            try:
                resolved = finish(cell, choice, ctx)
            except RowError as error:
                self.warn(line, f"cannot read date {item.when.strip()[:80]!r}: {error};"
                          " row skipped")  # fmt: skip
                continue
            code = WEEKDAY if choice.weekday_conflict else ""
            for message in resolved.warnings:
                self.warn(line, message, code if "printed" in message else "")
            title = clean_title(item.activity)
            if not title:
                self.warn(line, "row has a date but no activity; skipped (add the activity)")
                continue
            events.append(
                Event(
                    uid=make_uid(term.id, title, seen),
                    term=term.id,
                    title=title,
                    start=resolved.start,
                    end=resolved.end,
                    categories=classify(title),
                    notes=tuple(item.notes),
                    line=line,
                    source=self.source,
                    zones=resolved.zones,
                )
            )
        warnings = tuple(sorted(self.warnings, key=lambda n: n.line))
        return Timeline(self.source, term, tuple(events), warnings)


def _spans(section: Section) -> list[str]:
    """Texts of term-span lines ("Spring Term: March 1st - May 31st") in a section."""
    found = []
    for row in section.rows:
        if row.depth or row.in_table or "term" not in row.text.lower() or len(row.text) > 200:
            continue
        split = split_item(row.text)
        if split is not None and is_term_span(clean_title(split[0])):
            found.append(row.text)
    return found


def _identify(section: Section, path: str, term: str | None) -> Term:
    names = section.names
    texts = (*names[:1], *_spans(section), *names[1:], section.header_text, section.title)
    identity = identify(texts, path, term, title=section.title)
    # The title shown for the term: the nearest heading that names it, else the document's.
    heading = names[:1] if names and identify(names[:1]).number is not None else ()
    candidates = (*heading, *names[1:], section.title)
    own = next((t for t in candidates if identify([t]).year is not None), "")
    return replace(identity, title=" ".join((own or section.title).split()))


def _read(
    sections: Iterable[Section], source: str, zone: str, path: str, term: str | None
) -> list[Timeline]:
    builders: dict[str, _Builder] = {}
    for section in sections:
        identity = _identify(section, path, term)
        builder = builders.get(identity.id)
        if builder is None:
            builder = builders[identity.id] = _Builder(identity, zone, source)
        builder.add_section(section)
    return [builder.build() for builder in builders.values()]


def parse_markdown_all(
    text: str,
    source: str,
    *,
    zone: str = "America/Los_Angeles",
    term: str | None = None,
    path: str = "",
    url: str | None = None,
) -> tuple[Timeline, ...]:
    """Read every timeline of a Markdown term document, in document order.

    With *term* given (``--term``), it names the timeline wanted: a document with
    one timeline takes that identity (its year and number fill every row); in a
    document with several, the one identified as *term* is returned.
    Raises :class:`~feeds.errors.NoTimelineError` when no row yields a date, and
    :class:`~feeds.errors.TermIdError` for a malformed *term*.
    """
    if term is not None:
        from feeds.term import parse_term_id

        parse_term_id(term)
    doc = scan(text)
    where = path or source
    sections = list(timeline_sections(doc))
    read = _read(sections, source, zone, where, None)
    found = [t for t in read if t.events]
    if not found and not any(t.warnings for t in read):
        # No timeline section, or only sections with no dated row at all: the
        # document's tables are the fallback. (Sections whose rows failed are
        # the answer, and a whole-document parse would cost a hostile page dearly.)
        tables = list(itertools.islice(table_sections(doc), MAX_SECTIONS))
        found, used = _tables(tables, source, zone, where)
        sections = used or sections or tables
    if term is not None:
        pinned = [t for t in found if t.term.id == term]
        if pinned:
            found = pinned
        elif len(found) <= 1:
            # The one timeline (or one whose years only the pinned term can give)
            # takes the pinned identity.
            found = [t for t in _read(sections, source, zone, where, term) if t.events][:1]
        else:
            ids = ", ".join(t.term.id for t in found)
            raise NoTimelineError(source, f"no timeline of term {term} (the document has {ids})")
    if not found:
        raise NoTimelineError(source, _why_empty(sections, source, zone, where, term))
    return tuple(replace(t, url=url) for t in found)


def _tables(
    tables: Sequence[Section], source: str, zone: str, path: str
) -> tuple[list[Timeline], list[Section]]:
    """The fallback: the first table with dated rows, and any later named as another term.

    A later table counts only when its own heading names a term ("## 2027 Term
    3"), never an unrelated table (completed projects, office hours).
    """
    found: list[Timeline] = []
    used: list[Section] = []
    for section in tables:
        got = [t for t in _read([section], source, zone, path, None) if t.events]
        if not got:
            continue
        if not found:
            found, used = got, [section]
            continue
        own = section.names[0] if section.names else ""
        named = identify([own]) if own else None
        if (
            named is not None
            and named.year is not None
            and named.number is not None
            and all(t.term.id != got[0].term.id for t in found)
        ):
            found += got
            used.append(section)
    return found, used


def _why_empty(
    sections: Sequence[Section], source: str, zone: str, path: str, term: str | None
) -> str:
    notices = [n for t in _read(sections, source, zone, path, term) for n in t.warnings]
    if not notices:
        return ""
    first = notices[0]
    return (
        f"no row gave a date; {len(notices)} warning(s), the first on line {first.line}:"
        f" {first.message}"
    )


def parse_markdown(
    text: str,
    source: str,
    *,
    zone: str = "America/Los_Angeles",
    term: str | None = None,
    path: str = "",
    url: str | None = None,
) -> Timeline:
    """Read the first (or *term*'s) timeline of a Markdown term document.

    See :func:`parse_markdown_all`, which gives every timeline of the document.
    """
    return parse_markdown_all(text, source, zone=zone, term=term, path=path, url=url)[0]
