"""The ``lfx-cal`` command line: a thin click layer over :mod:`feeds`.

Each command parses options, calls pure functions and prints. Exit status: 0 ok,
1 warnings under ``--strict`` (or a failed source or delivery), 2 bad usage, a
bad configuration or an unreadable source: every such error is one
:class:`~lfx_cal.errors.CliError` line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence

import click
from click.decorators import FC

from feeds.categories import ROLES
from feeds.durations import parse_durations
from feeds.errors import DurationError
from feeds.formats import DATE
from feeds.model import CATEGORIES
from feeds.zones import PROGRAM_ZONE, valid_zone
from lfx_cal.diffcmd import diff_command
from lfx_cal.errors import CliError
from lfx_cal.reading import load_all, report, say

DEFAULT_ZONE = PROGRAM_ZONE


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not valid_zone(value):
        raise click.BadParameter(f"{value!r} is not an IANA time zone (e.g. America/Los_Angeles)")
    return value


def _term(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from feeds.errors import TermIdError
    from feeds.term import parse_term_id

    try:
        parse_term_id(value)
    except TermIdError as error:
        raise click.BadParameter(str(error)) from None
    return value


def config_option(*, required: bool = True) -> Callable[[FC], FC]:
    """The ``--config`` option every service command takes (one definition)."""
    return click.option(
        "--config",
        "config_path",
        required=required,
        default=None,
        type=click.Path(dir_okay=False),
        help="The TOML configuration file (see config/example.toml).",
    )


def _listen(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from notifiers.config import Problem
    from scheduler.settings import parse_listen

    try:
        parse_listen(value)
    except Problem as problem:
        raise click.BadParameter(str(problem)) from None
    return value


def _sources(values: Sequence[str]) -> list[str]:
    if values:
        return list(values)
    from lfx_cal.bundled import example_term

    return [str(example_term())]


_common = [
    click.argument("sources", nargs=-1, metavar="SOURCE..."),
    click.option(
        "--zone",
        default=DEFAULT_ZONE,
        show_default=True,
        callback=_zone,
        help="Program time zone: read times printed without a zone here.",
    ),
    click.option(
        "--term",
        "term",
        default=None,
        callback=_term,
        help="The term (e.g. lfx-2025-t3): its year and number fill every row; in a document"
        " with several timelines, the one to read.",
    ),
    click.option("--strict", is_flag=True, help="Exit with status 1 when there are warnings."),
]


def common(function: FC) -> FC:
    """Attach the options shared by the reading commands."""
    for decorator in reversed(_common):
        function = decorator(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lfx-cal")
def cli() -> None:
    """Calendar feeds and deadline reminders for LFX Mentorship terms.

    SOURCE is a file, an http(s) URL or - for standard input; with none, the
    bundled example term is used.
    """


cli.add_command(diff_command)  # lfx_cal/diffcmd.py


@cli.command()
@common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json is a stable contract; see the README.",
)
def show(sources: tuple[str, ...], zone: str, term: str | None, strict: bool, fmt: str) -> None:
    """Print the normalized timeline of each SOURCE."""
    from lfx_cal.render import table

    timelines = load_all(_sources(sources), zone=zone, term=term)
    if fmt == "json":
        from feeds.jsonout import timeline_dict

        data = [timeline_dict(t) for t in timelines]
        say(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
    else:
        say(table(timelines))
    report(timelines, strict=strict)


@cli.command()
@common
@click.option("-o", "--output", default="-", show_default=True, help="File to write, - for stdout.")
@click.option(
    "--category",
    "categories",
    multiple=True,
    type=click.Choice(CATEGORIES),
    help="Only these categories (repeatable).",
)
@click.option("--role", type=click.Choice(sorted(ROLES)), help="Only what this role needs.")
@click.option("--from", "since", type=click.DateTime([DATE]), help="Only events on or after.")
@click.option("--until", type=click.DateTime([DATE]), help="Only events on or before.")
@click.option("--alarms", default="", help="VALARM leads, e.g. 7d,1d (clients may ignore them).")
@click.option("--name", default="LFX Mentorship", show_default=True, help="Calendar name.")
def export(
    sources: tuple[str, ...],
    zone: str,
    term: str | None,
    strict: bool,
    output: str,
    categories: tuple[str, ...],
    role: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    alarms: str,
    name: str,
) -> None:
    """Write one iCalendar file merging every SOURCE."""
    from feeds import filters
    from feeds.ical import FeedOptions, to_ical

    try:
        leads = parse_durations(alarms)
    except DurationError as error:
        raise click.BadParameter(str(error), param_hint="--alarms") from None
    wanted = filters.wanted(categories, role)
    timelines = load_all(_sources(sources), zone=zone, term=term)
    events = [
        event
        for timeline in timelines
        for event in filters.select(
            timeline.events, wanted, since and since.date(), until and until.date(), zone
        )
    ]
    data = to_ical(events, FeedOptions(name=name, zone=zone, alarms=leads))
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            with open(output, "wb") as handle:
                handle.write(data)
        except OSError as error:
            raise CliError(f"{output}: cannot write: {error.strerror}") from None
    report(timelines, strict=strict)


@cli.command("notify-test")
@config_option()
@click.option("--subscription", default=None, help="Only this subscription (default: all).")
def notify_test(config_path: str, subscription: str | None) -> None:
    """Send a sample message through each configured subscription and report what happened."""
    from lfx_cal.notify import notify_test as run

    raise SystemExit(run(config_path, subscription))


@cli.command()
@config_option(required=False)
@click.option(
    "--demo-dir",
    default="lfx-cal-demo",
    show_default=True,
    help="Without --config: where the demo term, configuration and SQLite file go.",
)
@click.option(
    "--listen", default=None, callback=_listen, help="host:port to listen on (overrides [service])."
)
def serve(config_path: str | None, demo_dir: str, listen: str | None) -> None:
    """Run the feed server and the reminder daemon until SIGTERM or Ctrl-C.

    Without --config it runs a demo on embedded defaults: SQLite, the bundled
    example term squeezed into minutes, reminders printed on the console.
    """
    from lfx_cal.operate import few_malloc_arenas, open_config, serve_config

    few_malloc_arenas()
    raise SystemExit(serve_config(open_config(config_path, demo_dir, listen)))


@cli.command()
@config_option()
def check(config_path: str) -> None:
    """Validate the configuration, read every source and print the reminder plan."""
    from lfx_cal.operate import check as run

    raise SystemExit(run(config_path))


@cli.command()
@config_option()
@click.option("--limit", default=50, show_default=True, help="Rows of history to show.")
def reminders(config_path: str, limit: int) -> None:
    """List upcoming reminders (when, what, to whom) and what was sent, skipped or failed."""
    from lfx_cal.operate import reminders as run

    raise SystemExit(run(config_path, limit))


@cli.command()
@config_option()
@click.option("--out", required=True, help="Folder to write (created if missing).")
@click.option(
    "--base-url",
    default=None,
    help="Public address of the folder (e.g. https://org.github.io/repo/); "
    "subscribe links then work without JavaScript.",
)
def publish(config_path: str, out: str, base_url: str | None) -> None:
    """Write the feeds, the JSON and the web page to a folder any static host can serve.

    When [service] database already exists (a running service's state), its change
    history sets SEQUENCE and LAST-MODIFIED, as the served feeds do.
    """
    from lfx_cal.publish import run_publish

    raise SystemExit(run_publish(config_path, out, base_url=base_url))


@cli.group()
def subscribers() -> None:
    """Self-service subscribers (sign-up form, Slack /deadlines): list, export, remove."""


@subscribers.command("list")
@config_option()
def subscribers_list(config_path: str) -> None:
    """One line per subscriber: id, channel, state, address, role, leads, zone, term."""
    from lfx_cal.subscribers_cmd import list_rows

    raise SystemExit(list_rows(config_path))


@subscribers.command("export")
@config_option()
def subscribers_export(config_path: str) -> None:
    """Every stored field of every subscriber, as JSON lines."""
    from lfx_cal.subscribers_cmd import export_rows

    raise SystemExit(export_rows(config_path))


@subscribers.command("remove")
@config_option()
@click.argument("address")
def subscribers_remove(config_path: str, address: str) -> None:
    """Delete ADDRESS (e-mail or Slack user id) and its pending and past deliveries."""
    from lfx_cal.subscribers_cmd import remove_address

    raise SystemExit(remove_address(config_path, address))


def main() -> None:
    """Console-script entry point."""
    cli()
