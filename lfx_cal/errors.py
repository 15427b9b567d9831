"""The one error type of the command line: a one-line message and exit status 2.

Every command reports a bad configuration, an unreadable source, a busy port or
an unwritable file by raising :class:`CliError`; click prints it as
``lfx-cal: error: <message>`` on standard error (no traceback) and exits 2.
"""

from __future__ import annotations

from typing import IO, Any

import click

from feeds.public import clean_text


class CliError(click.ClickException):
    """A usage or environment problem the user must fix; exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``lfx-cal: error: message`` (the message is already one line)."""
        message = clean_text(self.format_message())  # no escape sequence reaches the terminal
        click.echo(f"lfx-cal: error: {message}", err=True, file=file)

    @classmethod
    def of(cls, error: BaseException) -> CliError:
        """Wrap a library error (a ConfigError, a FeedError…) whose text names the key."""
        return cls(" ".join(str(error).split("\n")[:1]) or type(error).__name__)
