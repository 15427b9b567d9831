"""What anyone outside the server may see of a source, and of text taken from documents.

Decisions recorded here:

* **One place makes a source public.** :func:`public_source` is the only
  function that turns a configured source (a server path, or a URL that may
  carry ``user:password@`` or a ``?token=`` query) into what logs, ``/healthz``,
  errors, Slack, e-mail, attachments, the console, feeds and the page show: an
  http(s) URL without user info, query or fragment, or a file by its name only.
  It lives in ``feeds`` because that is the lowest layer that needs it
  (dependencies point ``lfx_cal`` → ``scheduler`` → ``notifiers`` → ``feeds``).
  :func:`redact` applies it to every URL inside free text (an exception's
  message, an httpx log line), and :class:`RedactingFilter` does so for log
  records of libraries we do not control (httpx logs each request at INFO).
* **Dates in range.** :func:`sane_timeline` drops events dated outside
  :data:`FIRST_YEAR`–:data:`LAST_YEAR` with a row warning: calendar arithmetic
  on 0001-01-01 or 9999-12-31 (a day after, a lead before) overflows, and no
  mentorship term lives there. The parser should already refuse such rows; this
  is the net under every consumer.
* **Clean text.** :func:`clean_text` removes what can mislead a reader or a
  terminal: ANSI/VT escape sequences, C0 and C1 control characters (tab and line
  feed are kept when asked) and the bidirectional embedding, override and
  isolate controls U+202A–U+202E and U+2066–U+2069 (the "Trojan Source" set).
  They are removed rather than shown, because nothing in a term document
  needs them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable
from pathlib import PurePath
from urllib.parse import urlsplit, urlunsplit

from feeds.model import Endpoint, Event, Notice, Timeline

_URL = re.compile(r"""https?://[^\s'"<>]*[^\s'"<>.,;:!?)\]]""", re.IGNORECASE)
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI … final byte
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC … BEL/ST
    r"|\x1b[@-Z\\-_]"  # any other two-byte escape
)
_CONTROLS = "".join(
    [chr(c) for c in range(0x00, 0x20) if chr(c) not in "\t\n"]
    + [chr(0x7F)]
    + [chr(c) for c in range(0x80, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)
_DROP = {ord(c): None for c in _CONTROLS}
_DROP_ALL = {**_DROP, ord("\t"): " ", ord("\n"): " "}


def public_source(source: str) -> str:
    """An http(s) source without user info, query or fragment; a file by its name only."""
    if source.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(source)
            host = parts.hostname or ""
            if ":" in host:  # an IPv6 literal keeps its brackets
                host = f"[{host}]"
            if parts.port:
                host += f":{parts.port}"
        except ValueError:  # a malformed port or bracket: show nothing of the address
            return "(unreadable URL)"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return PurePath(source).name or source


def public_event(event: Event) -> Event:
    """*event* with its ``source`` (written into DESCRIPTION, URL, messages) made public."""
    source = public_source(event.source)
    return event if source == event.source else dataclasses.replace(event, source=source)


def public_events(events: Iterable[Event]) -> tuple[Event, ...]:
    """Every event of *events* through :func:`public_event`."""
    return tuple(public_event(event) for event in events)


def public_timeline(timeline: Timeline) -> Timeline:
    """The timeline with its own, its URL's and its events' sources made public."""
    return dataclasses.replace(
        timeline,
        source=public_source(timeline.source),
        url=None if timeline.url is None else public_source(timeline.url),
        events=public_events(timeline.events),
    )


def redact(text: str) -> str:
    """*text* with every http(s) URL in it replaced by its :func:`public_source` form."""
    if "://" not in text:
        return text
    return _URL.sub(lambda match: public_source(match.group(0)), text)


def clean_text(text: str, *, keep_lines: bool = False) -> str:
    """*text* without escape sequences, control characters or bidi overrides.

    Tabs and line feeds become spaces unless *keep_lines* is true.
    """
    if text.isprintable() and text.isascii():
        return text
    text = _ANSI.sub("", text)
    return text.translate(_DROP if keep_lines else _DROP_ALL)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message with :func:`redact`.

    Attach it to a library's logger (``httpx``, ``httpcore``) so that a URL with
    credentials or a token query never reaches a handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted form; never drops a record."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: leave it to logging
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def redact_library_logs(*names: str) -> None:
    """Attach one :class:`RedactingFilter` to each named logger (idempotent)."""
    for name in names or ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


FIRST_YEAR = 1970
LAST_YEAR = 2100


def _in_range(value: Endpoint | None) -> bool:
    return value is None or FIRST_YEAR <= value.year <= LAST_YEAR


def clean_event(event: Event) -> Event:
    """*event* with its title and notes through :func:`clean_text`."""
    title = clean_text(event.title)
    notes = tuple(clean_text(note) for note in event.notes)
    if title == event.title and notes == event.notes:
        return event
    return dataclasses.replace(event, title=title, notes=notes)


def sane_timeline(timeline: Timeline) -> Timeline:
    """*timeline* with clean text everywhere and no event dated outside 1970–2100.

    Each dropped event becomes a warning on its line. Applied by
    :func:`feeds.load.parse_document` to everything read from a document.
    """
    events: list[Event] = []
    dropped = False
    warnings = [
        Notice(notice.line, clean_text(notice.message), notice.code) for notice in timeline.warnings
    ]
    for event in timeline.events:
        if _in_range(event.start) and _in_range(event.end):
            events.append(clean_event(event))
        else:
            dropped = True
            warnings.append(
                Notice(
                    event.line,
                    f"a date outside {FIRST_YEAR}–{LAST_YEAR}; the row gives no event",
                )
            )
    term = timeline.term
    if clean_text(term.title) != term.title:
        term = dataclasses.replace(term, title=clean_text(term.title))
    if dropped:
        warnings.sort(key=lambda notice: notice.line)
    return dataclasses.replace(timeline, term=term, events=tuple(events), warnings=tuple(warnings))
