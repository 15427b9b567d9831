"""``lfx-cal publish``: the feeds, the JSON and the page as files for any static host.

The folder holds ``index.html`` (the same page as ``GET /``, linking feeds
relatively), ``feeds/NAME.ics`` for ``all``, each term id and each role preset,
``events/NAME.ics`` for each row (one event with reminders, to import; see
:mod:`lfx_cal.web.events`), ``api/timelines.json``, ``changes.atom`` (the
database's change history, as ``GET /changes.atom``) and ``.nojekyll`` (GitHub
Pages serves the folder as is).
Query filters need the server; the published page offers the named feeds only.
Files are replaced atomically; ``.ics`` files of feeds that no longer exist are
removed from ``feeds/`` and ``events/``. Without ``--base-url``, the page opened
from ``file://`` says to publish with one (its links would point at the disk).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import click

from feeds.errors import FeedError
from feeds.ical import Revision
from feeds.load import load
from feeds.model import Timeline
from lfx_cal.errors import CliError
from lfx_cal.web.atom import render_atom
from lfx_cal.web.events import event_files, render_event
from lfx_cal.web.feeds import FeedQuery, feed_names, render_feed
from lfx_cal.web.page import render_page
from lfx_cal.web.sources import timelines_json
from scheduler.config import Config
from scheduler.schema import ChangeRecord
from scheduler.snapshot import Snapshot, build_snapshot

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _write(path: Path, data: bytes) -> None:
    """Write *data* to *path* atomically (a temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def publish(
    snapshot: Snapshot,
    out_dir: Path,
    base_url: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[Path]:
    """Write the site for *snapshot* into *out_dir*; returns the paths written.

    *base_url* is the public address of the folder (``https://org.github.io/repo/``):
    with it the subscribe links work without JavaScript; without it the page
    script builds them from the address the page was loaded from.
    Raises ValueError for a feed name that cannot be a file name, OSError when
    the folder cannot be written.
    """
    files: dict[str, bytes] = {}
    for name in feed_names(snapshot):
        if not _FILE_NAME.fullmatch(name):
            raise ValueError(f"feed name {name!r} cannot be a file name; set a simpler term id")
        files[f"feeds/{name}.ics"] = render_feed(snapshot, FeedQuery(name)).body
    for name, event in event_files(snapshot).items():
        files[f"events/{name}.ics"] = render_event(snapshot, event).body
    files["api/timelines.json"] = timelines_json(snapshot.timelines)
    files["changes.atom"] = render_atom(snapshot, base_url)
    moment = now or dt.datetime.now(dt.UTC)
    files["index.html"] = render_page(snapshot, moment, static=True, base_url=base_url).encode()
    files[".nojekyll"] = b""
    written = []
    for relative, data in files.items():
        path = out_dir / relative
        _write(path, data)
        written.append(path)
    for folder in ("feeds", "events"):
        for stale in (out_dir / folder).glob("*.ics"):
            if f"{folder}/{stale.name}" not in files:
                stale.unlink()
    return written


def run_publish(
    config_path: str,
    out: str,
    *,
    base_url: str | None = None,
    revisions: Mapping[str, Revision] | None = None,
) -> int:
    """Load the configuration and every source, then publish; returns the exit status.

    *revisions* is the change history (uid → Revision) that sets SEQUENCE and
    LAST-MODIFIED; by default it comes from ``[service] database`` when that
    database already exists, else every event is at sequence 0. Exit status 0 on
    success, 2 on a bad configuration, an unreadable source or an unwritable folder
    (nothing is written unless every source was read).
    """
    try:
        return _run_publish(config_path, out, base_url, revisions)
    except CliError as error:
        error.show()
        return error.exit_code


def stored_changes(config: Config) -> list[ChangeRecord]:
    """The newest change records in the config's database, if that database already exists."""
    from lfx_cal.operate import open_store

    store = open_store(config)
    if store is None:
        return []
    with store:
        return store.changes()


def _run_publish(
    config_path: str, out: str, base_url: str | None, revisions: Mapping[str, Revision] | None
) -> int:
    from lfx_cal.operate import config_from

    if base_url is not None and not base_url.startswith(("https://", "http://")):
        raise CliError(f"--base-url {base_url!r} must start with https:// or http://")
    config = config_from(config_path)
    if not config.sources:
        raise CliError(f"{config_path}: sources: nothing to publish (add a [[sources]] table)")
    timelines: list[Timeline] = []
    for source in config.sources:
        try:
            timelines.append(load(source.location, zone=config.service.timezone))
        except FeedError as problem:
            raise CliError(f"{config_path}: source {source.name!r}: {problem}") from None
    for timeline in timelines:
        for notice in timeline.warnings:
            click.echo(f"{timeline.source}:{notice.line}: warning: {notice.message}", err=True)
    if revisions is None:
        from lfx_cal.operate import stored_revisions

        revisions = stored_revisions(config)
    snapshot = build_snapshot(
        timelines, revisions or {}, config.service.timezone, rules=config.service.rules,
        changes=stored_changes(config),
    )  # fmt: skip
    try:
        written = publish(snapshot, Path(out), base_url)
    except ValueError as problem:
        raise CliError(f"{config_path}: {problem}") from None
    except OSError as problem:
        raise CliError(f"{out}: cannot write: {problem.strerror or problem}") from None
    click.echo(f"wrote {len(written)} files to {out}")
    if base_url is None:
        click.echo(
            "note: without --base-url the page builds its links from the address it is"
            " opened from; opened as a file (file://) they point at the disk",
            err=True,
        )
    return 0
