"""The one tree of errors raised by :mod:`feeds`.

Every error names what it is about (a source, a line, a key) and says what
would fix it, the way httpx errors do. Catch :class:`FeedError` for all of them.
"""

from __future__ import annotations


class FeedError(Exception):
    """Base class of every error raised by the feeds package."""


class SourceError(FeedError, OSError):
    """A term document could not be read (missing file, HTTP failure, too large, not text)."""

    def __init__(self, source: str, reason: str, fix: str = "") -> None:
        self.source = source
        self.reason = reason
        self.fix = fix
        message = f"{source}: {reason}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class DocumentError(FeedError, ValueError):
    """A document could not be read as a timeline at all (it broke the reader's limits)."""

    def __init__(self, source: str, problem: str, fix: str = "") -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}" + (f" ({fix})" if fix else ""))


class NoTimelineError(FeedError, ValueError):
    """A document was read but holds no timeline (no dated rows under a Timeline heading)."""

    def __init__(self, source: str, detail: str = "") -> None:
        self.source = source
        hint = (
            "expected a 'Timeline' heading followed by an activity/date table or a bullet list"
            " of dates, or a YAML schedule with 'term' and 'schedule'"
        )
        text = f"{source}: no timeline found"
        if detail:
            text += f": {detail}"
        super().__init__(f"{text} ({hint})")


class ScheduleError(FeedError, ValueError):
    """A structured (YAML) term schedule is malformed; names the key and the fix."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {problem}")


class DurationError(FeedError, ValueError):
    """A duration such as ``7d`` or ``15m`` could not be read."""


class TermIdError(FeedError, ValueError):
    """A term id given by the user (``--term``, ``term =``) is not well formed."""

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(f"{value!r} is not a term id (write it like lfx-2025-t3 or lfx-2025)")
