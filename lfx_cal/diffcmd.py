"""The ``lfx-cal diff`` command: options only; the work is :mod:`lfx_cal.diffing`.

Kept apart so that registering the command imports nothing of the service
(``show``/``export`` start without :mod:`scheduler`; tests/test_startup.py).
"""

from __future__ import annotations

import click

from feeds.zones import PROGRAM_ZONE, valid_zone

FORMATS = ("text", "json", "markdown", "github")
"""The output formats of ``lfx-cal diff``."""


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not valid_zone(value):
        raise click.BadParameter(f"{value!r} is not an IANA time zone (e.g. America/Los_Angeles)")
    return value


@click.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option(
    "--zone",
    default=PROGRAM_ZONE,
    show_default=True,
    callback=_zone,
    help="Program time zone: read times printed without a zone here.",
)
@click.option("--term", default=None, help="Compare only this term (e.g. lfx-2025-t3).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
              show_default=True, help="json is a stable contract; see the README.")  # fmt: skip
def diff_command(old: str, new: str, zone: str, term: str | None, fmt: str) -> None:
    """Show which dates change from OLD to NEW (exit 0 none, 1 some, 2 trouble).

    OLD and NEW are a file, an http(s) URL, - or git:REV:PATH (read with git
    show from the repository of the current directory). Renames, splits and
    merges are shown but change no date.
    """
    from lfx_cal.diffing import run_diff

    raise SystemExit(run_diff(old, new, zone=zone, term=term, fmt=fmt))
