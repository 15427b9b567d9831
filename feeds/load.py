"""One entry point from a source name (or text) to a :class:`~feeds.model.Timeline`."""

from __future__ import annotations

import re

from feeds.model import Timeline
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
    """Parse a document's text as a YAML schedule or a Markdown term document."""
    if looks_like_schedule(document):
        from feeds.schedule import parse_schedule

        return parse_schedule(document.text, document.name, zone=zone, term=term, url=document.url)
    from feeds.timeline import parse_markdown
    from feeds.written import attach_zones

    timeline = parse_markdown(
        document.text, document.name, zone=zone, term=term, path=document.url or document.name,
        url=document.url,
    )  # fmt: skip
    return attach_zones(timeline, document.text, zone)


def load(source: str, *, zone: str = "America/Los_Angeles", term: str | None = None) -> Timeline:
    """Read and parse one source (path, URL or ``-``).

    Raises :class:`~feeds.errors.SourceError` or :class:`~feeds.errors.NoTimelineError`.
    """
    return parse_document(read(source), zone=zone, term=term)
