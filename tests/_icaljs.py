"""Reading calendars with a real client's parser: Mozilla's ical.js (Thunderbird) under node.

``tests/js`` pins ical.js in a committed ``package.json``/``package-lock.json``;
``.ci/run`` installs node/npm from Debian when missing, and the first client
test runs ``npm ci`` there.
Without node or the installed package the client tests skip, unless
``LFX_CAL_REQUIRE_NODE=1`` (set by ``.ci/run``), where they fail.

:func:`expected` says what a client must see for an event, from the same facts
``show --format json`` gives (a date, or a UTC instant) plus the printed day of
an instant (:func:`feeds.meaning.span_days`); :func:`compare` lists every
difference between that and what ical.js read.

Every calendar the test session builds (``feeds.ical.build_calendar``) is
recorded with its events by :func:`record`, so the client test also reads the
calendars the other tests produced in the same run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from feeds import ical
from feeds.jsonout import event_dict
from feeds.meaning import Rules, span_days, subject, term_label
from feeds.model import Event

JS = Path(__file__).resolve().parent / "js"
ZONES = ("America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati")
"""Host zones the client runs under: west of UTC, east of it, and UTC+14."""

PRODUCED: list[tuple[tuple[Event, ...], ical.FeedOptions, bytes]] = []


def record() -> None:
    """Wrap ``feeds.ical.build_calendar`` so every calendar built is kept in :data:`PRODUCED`."""
    original = ical.build_calendar
    if getattr(original, "recording", False):
        return

    def build(events: Iterable[Event], options: Any = None, revisions: Any = None) -> Any:
        chosen = tuple(events)
        calendar = original(chosen, options, revisions)
        PRODUCED.append((chosen, options or ical.FeedOptions(), calendar.to_ical()))
        return calendar

    build.recording = True  # type: ignore[attr-defined]
    ical.build_calendar = build  # type: ignore[assignment]


PACKAGES = ("ical.js", "axe-core")
"""The packages of ``tests/js/package.json``; any one missing reruns ``npm ci``."""


def _installed() -> bool:
    return all((JS / "node_modules" / name / "package.json").is_file() for name in PACKAGES)


def _install() -> None:
    """``npm ci`` in ``tests/js`` once (the lockfile pins the packages), under a lock for xdist."""
    import fcntl

    npm = shutil.which("npm")
    if npm is None or _installed():
        return
    with open(JS / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS, capture_output=True, check=False, timeout=300,
            )  # fmt: skip


def package(name: str) -> Path | None:
    """The folder of an npm package of ``tests/js``, installed on first use; None without npm."""
    _install()
    folder = JS / "node_modules" / name
    return folder if (folder / "package.json").is_file() else None


def node() -> str:
    """The node executable with ical.js installed, or skip/fail (LFX_CAL_REQUIRE_NODE).

    The README's test command installs ical.js from the committed lockfile on
    first use (``npm ci``); only node and npm must be on the machine.
    """
    found = shutil.which("node")
    problem = None
    if found is not None:
        _install()
    if found is None:
        problem = "node is not installed (apt-get install nodejs npm)"
    elif not (JS / "node_modules" / "ical.js" / "package.json").is_file():
        problem = f"ical.js could not be installed (cd {JS} && npm ci)"
    if problem:
        if os.environ.get("LFX_CAL_REQUIRE_NODE") == "1":
            pytest.fail(f"LFX_CAL_REQUIRE_NODE=1 but {problem}")
        pytest.skip(problem)
    assert found is not None
    return found


def read(paths: Sequence[Path], zone: str) -> dict[str, list[dict[str, Any]]]:
    """What ical.js sees in each file, run with the host zone ``TZ=zone``."""
    env = {**os.environ, "TZ": zone}
    result = subprocess.run(
        [node(), str(JS / "read.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return data


def expected(event: Event, zone: str, prefix: str = "") -> list[dict[str, Any]]:
    """What a client must see for *event*: the main VEVENT and its companions."""
    data = event_dict(event)  # the values of ``show --format json``
    length = int(ical.DEADLINE_LENGTH.total_seconds())
    if data["end"] is None and "T" in data["start"]:
        return [
            {"uid": event.uid, "summary": prefix + event.title, "allDay": False,
             "start": data["start"], "seconds": length}
        ]  # fmt: skip
    first, last = span_days(event, Rules(zone))
    if data["end"] is None:
        assert first.isoformat() == data["start"]
    elif "T" not in data["end"]:
        assert last.isoformat() == data["end"]
    seen = [
        {"uid": event.uid, "summary": prefix + event.title, "allDay": True,
         "first": first.isoformat(), "last": last.isoformat(),
         "days": (last - first).days + 1, "transp": "TRANSPARENT", "busy": "FREE"}
    ]  # fmt: skip
    name = subject(event.title)
    if data["end"] is not None and "T" in data["start"]:
        seen.append(
            {"uid": ical.opens_uid(event.uid), "summary": f"{prefix}Opens: {name}",
             "allDay": False, "start": data["start"], "seconds": length}
        )  # fmt: skip
    if data["end"] is not None and "T" in data["end"]:
        seen.append(
            {"uid": ical.deadline_uid(event.uid), "summary": f"{prefix}Closes: {name}",
             "allDay": False, "start": data["end"], "seconds": length}
        )  # fmt: skip
    return seen


def compare(
    events: Sequence[Event], options: ical.FeedOptions, seen: list[dict[str, Any]]
) -> list[str]:
    """Every difference between what *events* must look like and what the client *seen*."""
    merged = options.term_prefix
    if merged is None:
        merged = len({e.term for e in events}) > 1
    want: list[dict[str, Any]] = []
    for event in events:
        prefix = f"{term_label(event.term)} · " if merged else ""
        want.extend(expected(event, options.zone, prefix))
    problems = []
    got = {item["uid"]: item for item in seen}
    if len(got) != len(seen):
        problems.append("duplicate UIDs")
    if [w["uid"] for w in want] != [s["uid"] for s in seen]:
        problems.append(f"events {[s['uid'] for s in seen]} != {[w['uid'] for w in want]}")
    for item in want:
        actual = got.get(item["uid"])
        if actual is None:
            continue
        for key, value in item.items():
            if key == "summary":  # a line break is a line break, however it was sent
                value = value.replace("\r\n", "\n").replace("\r", "\n")
            if actual.get(key) != value:
                problems.append(f"{item['uid']}: {key} is {actual.get(key)!r}, not {value!r}")
        if not item["allDay"]:
            start = dt.datetime.strptime(item["start"], "%Y-%m-%dT%H:%M:%SZ")
            end = (start + ical.DEADLINE_LENGTH).strftime("%Y-%m-%dT%H:%M:%SZ")
            if actual.get("end") != end:
                problems.append(f"{item['uid']}: ends {actual.get('end')}, not {end}")
    return problems
