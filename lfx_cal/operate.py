"""The operator commands: ``serve``, ``check`` and ``reminders`` as plain functions.

Each returns an exit status: 0 fine, 1 something failed (a source, a delivery);
a wrong configuration or environment raises :class:`~lfx_cal.errors.CliError`
(exit 2, one line naming the file, the key and the fix).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.durations import format_duration
from feeds.errors import FeedError
from feeds.formats import listing_time, parse_instant
from feeds.ical import Revision
from feeds.model import Event
from feeds.public import redact
from lfx_cal.errors import CliError
from lfx_cal.reading import say
from scheduler.config import Config, Service, load_config
from scheduler.errors import ConfigError
from scheduler.ledger_base import Kind, Status
from scheduler.plan import Job, fan_out, jobs_for, skipped_leads

if TYPE_CHECKING:
    from scheduler.store import Store


def config_from(path: str) -> Config:
    """Load and validate the configuration file; a bad one is a CliError naming the key."""
    try:
        return load_config(path)
    except ConfigError as error:
        raise CliError.of(error) from None


def ready(config: Config, *, database: bool = True, listen: bool = True) -> None:
    """Run the preflight checks (see :func:`scheduler.preflight.preflight`) or raise CliError."""
    from scheduler.preflight import preflight

    try:
        preflight(config, database=database, listen=listen)
    except ConfigError as error:
        raise CliError.of(error) from None


def open_config(path: str | None, demo_dir: str, listen: str | None) -> Config:
    """The configuration to serve (a demo one without *path*), checked; raises CliError."""
    if path is None:
        from lfx_cal.demo import demo_config

        config, banner = demo_config(
            Path(demo_dir), dt.datetime.now(dt.UTC), listen or Service.listen
        )
        say(banner)
    else:
        config = config_from(path)
    if listen:
        from dataclasses import replace

        config = replace(config, service=replace(config.service, listen=listen))
    ready(config)
    return config


def few_malloc_arenas(count: int = 2) -> bool:
    """Ask glibc for at most *count* malloc arenas; False where that cannot be asked.

    glibc gives every thread that allocates its own arena (up to eight per core),
    and the service has many short-lived allocating threads (notifier lanes, the
    ledger's writer, asyncio's pool): their half-empty arenas were a few MB of a
    fan-out's peak RSS. Two arenas keep the threads apart enough. The same as
    ``MALLOC_ARENA_MAX=2``, which still wins when set (glibc reads it first).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without it)
        return False
    return bool(mallopt(-8, count))  # -8 is M_ARENA_MAX in glibc's <malloc.h>


def serve_config(config: Config) -> int:
    """Run the service on *config* until a signal; returns the exit status."""
    from sqlalchemy.exc import SQLAlchemyError

    from lfx_cal.server import serve

    try:
        serve(config)
    except SQLAlchemyError as error:  # the database broke between the check and the start
        raise CliError(_cannot_open(config, error)) from None
    except OSError as error:  # e.g. the port was taken after the check
        raise CliError(
            f"{config.service.listen}: {error.strerror or error}"
            " (choose another with --listen or [service] listen)"
        ) from None
    return 0


def _read(config: Config) -> tuple[list[Event], int]:
    """Read every source now; print warnings, failures and what needs attention.

    Returns (events, failures). A source whose events are all past, or whose
    years went against printed weekdays, is flagged ``ATTENTION`` (it plans
    nothing, or plans on doubtful dates) without counting as a failure.
    """
    from feeds.attention import attention
    from feeds.load import load
    from feeds.merge import distinct_uids

    timelines = []
    failures = 0
    now = dt.datetime.now(dt.UTC)
    for source in config.sources:
        try:
            timeline = load(source.location, zone=config.service.timezone, term=source.term)
        except (FeedError, OSError, ValueError) as error:
            say(f"source {source.name}: FAILED: {error}")
            failures += 1
            continue
        timelines.append((source, timeline))
    merged = distinct_uids([timeline for _, timeline in timelines])
    events: list[Event] = []
    for (source, _), timeline in zip(timelines, merged, strict=True):
        say(f"source {source.name}: {len(timeline.events)} events ({timeline.term.id})")
        for notice in timeline.warnings:
            say(f"  {redact(timeline.source)}:{notice.line}: warning: {notice.message}")
        for sentence in attention(timeline, now, config.service.timezone):
            say(f"  ATTENTION: {sentence}")
        events.extend(timeline.events)
    return events, failures


def _plan_lines(config: Config, events: Iterable[Event], now: dt.datetime) -> list[str]:
    by_uid = {e.uid: e for e in events}
    jobs: list[Job] = jobs_for(
        by_uid.values(), config.subscriptions, config.service.rules, after=now
    )
    lines = []
    for job in jobs:
        if job.due < now:
            continue
        keys = fan_out(job, by_uid[job.uid], config.subscriptions)
        counts = Counter(k.subscription for k in keys)
        who = ", ".join(f"{name}({count})" for name, count in counts.items())
        lead = "" if job.kind != Kind.REMINDER else f" {format_duration(job.lead)} before"
        lines.append(
            f"{listing_time(job.due)}  {job.kind}{lead}  {by_uid[job.uid].title}  -> {who}"
        )
    return lines


def check(path: str) -> int:
    """``lfx-cal check``: 0 config and sources fine, 1 a source failed.

    Raises CliError (exit 2) when ``serve`` could not start: a bad file, an unset
    secret, an unreachable database, a busy port, no sources.
    """
    config = config_from(path)
    ready(config)
    say(f"config {path}: ok ({len(config.subscriptions)} subscriptions)")
    events, failures = _read(config)
    lines = _plan_lines(config, events, dt.datetime.now(dt.UTC))
    say(f"plan: {len(lines)} upcoming reminders")
    for line in lines:
        say(f"  {line}")
    skipped = skipped_leads(events, config.subscriptions, config.service.rules)
    if skipped:
        say(f"skipped leads: {len(skipped)} (they do not apply to these rows)")
    for event, lead, reason in skipped:
        say(f"  {format_duration(lead)} before {event.title}: {reason}")
    return 1 if failures else 0


def reminders(path: str, limit: int) -> int:
    """``lfx-cal reminders``: the upcoming plan, then the ledger (failed ones first).

    Read-only: a SQLite database that does not exist yet is not created.
    """
    config = config_from(path)
    store = open_store(config)
    try:
        events: list[Event] = []
        for source in config.sources:
            last = store.last_good(source.name) if store is not None else None
            if last is not None:
                events.extend(last[1].events)
        if not events:
            say("(no version stored yet: reading the sources)")
            events, _ = _read(config)
        lines = _plan_lines(config, events, dt.datetime.now(dt.UTC))
        say(f"upcoming ({len(lines)}):")
        for line in lines:
            say(f"  {line}")
        if store is None:
            from scheduler.schema import shown_database

            say(f"ledger (): no database yet at {shown_database(config.service.database)}")
            return 0
        _fan_outs(store)
        failed = store.deliveries(statuses={Status.FAILED}, limit=limit)
        rows = failed + [d for d in store.deliveries(limit=limit) if d.status != Status.FAILED]
        say(f"ledger ({', '.join(f'{k} {v}' for k, v in sorted(store.counts().items()))}):")
        for row in rows[:limit]:
            key = row.key
            lead = ""
            if key.kind == Kind.REMINDER:
                lead = f" {format_duration(dt.timedelta(seconds=key.lead_s))}"
            late = " (late)" if row.late else ""
            tail = f": {row.error}" if row.error else ""
            say(
                f"  {row.status.upper()}{late}  due {row.due}  {key.kind}{lead}  {key.uid}"
                f"  -> {key.subscription}:{key.target}{tail}"
            )
        return 1 if failed else 0
    finally:
        if store is not None:
            store.close()


def _fan_outs(store: Store) -> None:
    """Say which notices are still going out: sent so far, left, how long since due."""
    now = dt.datetime.now(dt.UTC)
    going = store.progress(now)
    if not going:
        return
    say(f"in progress ({len(going)}):")
    for notice in going:
        lead = ""
        if notice.kind == Kind.REMINDER:
            lead = f" {format_duration(dt.timedelta(seconds=notice.lead_s))}"
        since = int((now - parse_instant(notice.first_due)).total_seconds())
        say(
            f"  {notice.kind}{lead}  {notice.uid}: {notice.done:,} of {notice.total:,} done,"
            f" {notice.left:,} left, due {since:,} s ago"
        )


def open_store(config: Config) -> Store | None:
    """The config's database for reading; None when it is a SQLite file that does not exist.

    Never creates a database file. An unreachable one is a CliError naming the key.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from scheduler.preflight import check_sqlite_file
    from scheduler.schema import sqlite_path
    from scheduler.store import Store

    path = sqlite_path(config.service.database)
    if path is not None and not path.exists():
        return None  # never create a database just to read it
    try:
        if path is not None:
            check_sqlite_file(config, path, writable=False)
        return Store(config.service.database)
    except ConfigError as error:
        raise CliError.of(error) from None
    except SQLAlchemyError as error:
        raise CliError(_cannot_open(config, error)) from None


def _cannot_open(config: Config, error: BaseException) -> str:
    """One line about a database that would not open, its password masked."""
    from scheduler.schema import shown_database

    reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or [""])[0]
    return (
        f"{config.path}: service.database: cannot open"
        f" {shown_database(config.service.database)}: {reason}"
    )


def stored_revisions(config: Config) -> dict[str, Revision] | None:
    """The change history in the config's database, if that database already exists."""
    store = open_store(config)
    if store is None:
        return None
    with store:
        return store.revisions()
