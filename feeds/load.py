"""One entry point from a source name (or text) to a :class:`~feeds.model.Timeline`.

Whatever the parser returns passes :func:`feeds.public.sane_timeline`: text
without control characters or bidi overrides, and no event dated outside
1970–2100 (each such row is a warning instead).
"""

from __future__ import annotations

import re

from feeds.errors import DocumentError
from feeds.model import Timeline
from feeds.public import public_source, sane_timeline
from feeds.sources import Document, read

_SCHEDULE = re.compile(r"^schedule:\s*$", re.M)
_TERM = re.compile(r"^term:", re.M)


def looks_like_schedule(document: Document) -> bool:
    """True when the document is a YAML term schedule rather than Markdown."""
    if document.name.endswith((".yml", ".yaml")):
        return True
    return bool(_SCHEDULE.search(document.text) and _TERM.search(document.text))


def parse_document(document: Document, *, zone: str = "America/Los_Angeles",
                   term: str | None = None) -> Timeline:  # fmt: skip
    """Parse a document's text as a YAML schedule or a Markdown term document.

    Raises a :class:`~feeds.errors.FeedError`; an OverflowError (a date at the
    edge of the calendar) or a RecursionError (deep nesting) in the reader
    becomes a :class:`~feeds.errors.DocumentError` naming the source.
    """
    try:
        return _parse(document, zone=zone, term=term)
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


def _parse(document: Document, *, zone: str, term: str | None) -> Timeline:
    if looks_like_schedule(document):
        from feeds.schedule import parse_schedule

        return sane_timeline(
            parse_schedule(document.text, document.name, zone=zone, term=term, url=document.url)
        )
    from feeds.timeline import parse_markdown

    return sane_timeline(parse_markdown(
        document.text, document.name, zone=zone, term=term, path=document.url or document.name,
        url=document.url,
    ))  # fmt: skip


def load(source: str, *, zone: str = "America/Los_Angeles", term: str | None = None) -> Timeline:
    """Read and parse one source (path, URL or ``-``).

    Raises :class:`~feeds.errors.SourceError` or :class:`~feeds.errors.NoTimelineError`.
    """
    return parse_document(read(source), zone=zone, term=term)
