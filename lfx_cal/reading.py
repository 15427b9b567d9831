"""Loading several sources for a command, reporting warnings the same way everywhere."""

from __future__ import annotations

from collections.abc import Sequence

import click

from feeds.errors import FeedError
from feeds.load import load_all as load_timelines
from feeds.merge import distinct_uids
from feeds.model import Timeline
from feeds.public import clean_text, redact
from lfx_cal.errors import CliError


def say(text: str, *, err: bool = False) -> None:
    """Print *text* for a terminal, without escape sequences or bidi overrides.

    Control characters from documents are removed, so a title cannot restyle or
    rewrite the operator's screen.
    """
    click.echo(clean_text(text, keep_lines=True), err=err)


def load_all(sources: Sequence[str], *, zone: str, term: str | None) -> list[Timeline]:
    """Every timeline of every source, UIDs unique across them.

    A document with several timelines (terms) gives each of them, unless *term*
    pins one. A source that fails raises CliError (exit 2) naming it.
    """
    timelines: list[Timeline] = []
    for source in sources:
        try:
            timelines.extend(load_timelines(source, zone=zone, term=term))
        except FeedError as error:
            raise CliError.of(error) from None
    return distinct_uids(timelines)


def report(timelines: Sequence[Timeline], *, strict: bool) -> None:
    """Print each warning to stderr as ``source:line: warning: ...``; exit 1 under --strict."""
    count = 0
    for timeline in timelines:
        for notice in timeline.warnings:
            count += 1
            say(f"{redact(timeline.source)}:{notice.line}: warning: {notice.message}", err=True)
    if strict and count:
        say(f"lfx-cal: {count} warning(s) and --strict was given", err=True)
        raise SystemExit(1)
