"""One entry point from a source name (or text) to a :class:`~feeds.model.Timeline`.

Whatever the parser returns passes :func:`feeds.public.sane_timeline`: text
without control characters or bidi overrides, and no event dated outside
1970–2100 (each such row is a warning instead).
"""

from __future__ import annotations

import re
from dataclasses import replace

from feeds.errors import DocumentError
from feeds.model import Notice, Timeline
from feeds.public import public_source, sane_timeline
from feeds.sources import Document, read

_SCHEDULE = re.compile(r"^schedule:\s*$", re.M)
_TERM = re.compile(r"^term:", re.M)


def looks_like_schedule(document: Document) -> bool:
    """True when the document is a YAML term schedule rather than Markdown."""
    if document.name.endswith((".yml", ".yaml")):
        return True
    return bool(_SCHEDULE.search(document.text) and _TERM.search(document.text))


def parse_document_all(document: Document, *, zone: str = "America/Los_Angeles",
                       term: str | None = None) -> tuple[Timeline, ...]:  # fmt: skip
    """Every timeline of a document (a YAML schedule has one), in document order.

    With *term*, only that term's timeline (see :func:`feeds.timeline.parse_markdown_all`).
    Raises a :class:`~feeds.errors.FeedError`; an OverflowError (a date at the
    edge of the calendar) or a RecursionError (deep nesting) in the reader
    becomes a :class:`~feeds.errors.DocumentError` naming the source.
    """
    try:
        return tuple(sane_timeline(t) for t in _parse_all(document, zone=zone, term=term))
    except OverflowError:
        raise DocumentError(
            public_source(document.name),
            "a date is too close to the edge of the calendar to compute with",
            "use dates between 1970 and 2100",
        ) from None
    except RecursionError:
        raise DocumentError(
            public_source(document.name), "nested too deeply to read", "flatten the document"
        ) from None


def _parse_all(document: Document, *, zone: str, term: str | None) -> tuple[Timeline, ...]:
    if looks_like_schedule(document):
        from feeds.schedule import parse_schedule

        return (parse_schedule(document.text, document.name, zone=zone, term=term,
                               url=document.url),)  # fmt: skip
    from feeds.timeline import parse_markdown_all

    return parse_markdown_all(
        document.text, document.name, zone=zone, term=term, path=document.url or document.name,
        url=document.url,
    )  # fmt: skip


def parse_document(document: Document, *, zone: str = "America/Los_Angeles",
                   term: str | None = None, prefer: str | None = None) -> Timeline:  # fmt: skip
    """One timeline of a document: *term*'s, else the one of term *prefer*, else the first.

    A document with several timelines and no *term* gets a warning (line 0)
    naming the others, so an operator can pin one.
    """
    found = parse_document_all(document, zone=zone, term=term)
    chosen = next((t for t in found if t.term.id == prefer), found[0])
    others = [t for t in found if t is not chosen]
    if not others:
        return chosen
    names = ", ".join(f"{t.term.id} (line {t.events[0].line})" for t in others)
    notice = Notice(0, f'the document also holds {names}; pin one with term = "…"')
    return replace(chosen, warnings=(notice, *chosen.warnings))


def load_all(
    source: str, *, zone: str = "America/Los_Angeles", term: str | None = None
) -> tuple[Timeline, ...]:
    """Read and parse every timeline of one source (path, URL or ``-``)."""
    return parse_document_all(read(source), zone=zone, term=term)


def load(source: str, *, zone: str = "America/Los_Angeles", term: str | None = None) -> Timeline:
    """Read and parse one source (path, URL or ``-``).

    Raises :class:`~feeds.errors.SourceError` or :class:`~feeds.errors.NoTimelineError`.
    """
    return parse_document(read(source), zone=zone, term=term)
