"""Date and time as text: every format lfx-cal writes or reads, in one place.

Machine formats (the JSON contract, the ledger, the change history) are UTC
instants ``YYYY-MM-DDTHH:MM:SSZ`` and dates ``YYYY-MM-DD``; human formats are
the operator listing (``check``, ``reminders``) and the way a term document
writes a time (the demo). Reading a document's dates is the lexer's job
(:mod:`feeds.dates`), not this module's.
"""

from __future__ import annotations

import datetime as dt
import functools

INSTANT = "%Y-%m-%dT%H:%M:%SZ"
"""A UTC instant in the JSON contract and the database: ``2027-05-01T18:00:00Z``."""
DATE = "%Y-%m-%d"
"""A calendar date: ``2027-05-01`` (also the ``--from``/``--until`` options)."""
LISTING = "%Y-%m-%d %H:%MZ"
"""A UTC instant in operator listings: ``2027-05-01 18:00Z``."""
DOCUMENT = "%a, %b %d, %Y %H:%M UTC"
"""A UTC time as a term document writes it: ``Sat, May 01, 2027 18:00 UTC``."""


def instant_text(value: dt.datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    Raises ``TypeError`` for a non-datetime, ``ValueError`` for a naive one.
    """
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: give a timezone (UTC)")
    return value.astimezone(dt.UTC).strftime(INSTANT)


@functools.lru_cache(maxsize=1024)
def parse_instant(text: str) -> dt.datetime:
    """Read ``YYYY-MM-DDTHH:MM:SSZ`` as an aware UTC datetime.

    Cached: a fan-out reads the same few instants once per ledger key, and
    ``strptime`` costs about 10 us a time.
    """
    return dt.datetime.strptime(text, INSTANT).replace(tzinfo=dt.UTC)


def endpoint_text(value: dt.date | dt.datetime) -> str:
    """An event endpoint as ``YYYY-MM-DD`` (a date) or ``YYYY-MM-DDTHH:MM:SSZ`` (an instant)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime(INSTANT)
    return value.strftime(DATE)


def parse_endpoint(text: str) -> dt.date | dt.datetime:
    """Read ``YYYY-MM-DD`` as a date or ``YYYY-MM-DDTHH:MM:SSZ`` as an aware UTC instant."""
    if "T" in text:
        return parse_instant(text)
    return dt.date.fromisoformat(text)


def listing_time(value: dt.datetime) -> str:
    """An instant for operator listings: ``2027-05-01 18:00Z``."""
    return value.astimezone(dt.UTC).strftime(LISTING)


def document_time(value: dt.datetime) -> str:
    """An instant the way a term document writes it (whole minutes, UTC)."""
    return value.astimezone(dt.UTC).strftime(DOCUMENT)
