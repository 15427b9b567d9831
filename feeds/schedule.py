"""The upstream's structured term schedule (YAML).

Shape::

    term: {year: 2027, number: 1}
    schedule:
      - key: proposals_open          # stable: it becomes the UID
        label: Project Proposals Open
        start: 2027-01-06
        end: 2027-01-27              # optional
        time: 18:00 UTC              # optional; belongs to the end of a period
        start_time: 00:00 UTC        # optional, per endpoint
        end_time: 23:59 UTC
        note: ...                    # optional

Entries without a date are not events. A bad entry is a warning naming its key
and line and is skipped; a file without ``term`` or ``schedule`` is an error, and
so is one where no entry gives an event (:class:`~feeds.errors.NoTimelineError`
naming the first reason, as for Markdown).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

from feeds.categories import classify
from feeds.dates import Point, Written, read_cell
from feeds.errors import NoTimelineError, ScheduleError
from feeds.model import Event, Notice, Timeline
from feeds.resolve import Context, RowError, resolve
from feeds.term import identify
from feeds.timeline import make_uid

_LINE = "__line__"
_KNOWN = {"key", "label", "start", "end", "time", "start_time", "end_time", "note", _LINE}


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's 1-based line under ``__line__``."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    value = loader.construct_mapping(node, deep=True)
    value[_LINE] = node.start_mark.line + 1
    return value


def _timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> object:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:  # 2031-02-30: keep the text so the entry, not the file, fails
        return str(node.value)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _day(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise RowError(f"{where} {value} does not exist; no event made (fix the date)")
    raise RowError(f"{where} must be a date written YYYY-MM-DD, got {value!r}")


def _clocks(value: object, where: str, notes: list[str]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, str):
        raise RowError(f'{where} must be a quoted string such as "18:00 UTC", got {value!r}')
    written = read_cell(value)
    if not written.start.clocks:
        notes.append(value.strip())
    notes.extend(written.notes if written.start.clocks else [])
    return written.start.clocks


def _event(
    entry: dict[str, Any], index: int, ctx: Context, seen: dict[str, int], source: str
) -> tuple[Event | None, list[str]]:
    where = f"schedule[{index}]"
    key, label = entry.get("key"), entry.get("label")
    if not isinstance(label, str) or not label.strip():
        raise RowError(f"{where}.label is missing (give the activity's name)")
    if entry.get("start") is None:
        return None, []
    unknown = sorted(str(k) for k in entry if k not in _KNOWN)
    warnings = [f"{where}: unknown key {unknown[0]!r} ignored"] if unknown else []
    notes: list[str] = []
    start, end = _day(entry["start"], f"{where}.start"), None
    if entry.get("end") is not None:
        end = _day(entry["end"], f"{where}.end")
    shared = _clocks(entry.get("time"), f"{where}.time", notes)
    first = Point(start.year, start.month, start.day)
    first.clocks = _clocks(entry.get("start_time"), f"{where}.start_time", notes)
    last = None if end is None else Point(end.year, end.month, end.day)
    if last is not None:
        last.clocks = _clocks(entry.get("end_time"), f"{where}.end_time", notes) or shared
    elif not first.clocks:
        first.clocks = shared
    resolved = resolve(Written(first, last), ctx)
    if isinstance(entry.get("note"), str):
        notes.append(entry["note"].strip(" *_"))
    event = Event(
        uid=make_uid(ctx.term.id, str(key or label), seen),
        term=ctx.term.id,
        title=label.strip(),
        start=resolved.start,
        end=resolved.end,
        categories=classify(label),
        notes=tuple(notes),
        line=int(entry[_LINE]),
        source=source,
        zones=resolved.zones,
    )
    return event, warnings + resolved.warnings


def parse_schedule(
    text: str,
    source: str,
    *,
    zone: str = "America/Los_Angeles",
    term: str | None = None,
    url: str | None = None,
) -> Timeline:
    """Read a YAML term schedule into a Timeline.

    Raises ScheduleError when malformed, NoTimelineError when no entry gives an event.
    """
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as error:
        raise ScheduleError(source, "yaml", f"not valid YAML: {error}") from None
    if not isinstance(data, dict) or data.get("term") is None:
        raise ScheduleError(source, "term", "missing; write 'term: {year: 2027, number: 1}'")
    if not isinstance(data["term"], dict):
        raise ScheduleError(
            source, "term",
            f"must be a mapping like {{year: 2027, number: 1}}, got {data['term']!r}",
        )  # fmt: skip
    info, entries = data["term"], data.get("schedule")
    year, number = info.get("year"), info.get("number")
    if not isinstance(year, int) or not isinstance(number, int) or not 1 <= number <= 3:
        raise ScheduleError(source, "term", "needs an integer 'year' and 'number' (1, 2 or 3)")
    if not isinstance(entries, list):
        raise ScheduleError(source, "schedule", "missing or not a list of entries")
    identity = identify([f"Term {number} {year}"], "", term, title=f"Term {number} {year}")
    ctx = Context(identity, zone)
    events: list[Event] = []
    notices: list[Notice] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = int(entry.get(_LINE, 0)) if isinstance(entry, dict) else 0
        if not isinstance(entry, dict):
            notices.append(Notice(line, f"schedule[{index}] is not a mapping; skipped"))
            continue
        try:
            event, warnings = _event(entry, index, ctx, seen, source)
        except RowError as error:
            notices.append(Notice(line, f"{error}; entry skipped"))
            continue
        notices.extend(Notice(line, message) for message in warnings)
        if event is not None:
            events.append(event)
    if not events:  # as for Markdown: a schedule that plans nothing is not a timeline
        raise NoTimelineError(source, _why_empty(notices))
    return Timeline(source, identity, tuple(events), tuple(notices), url)


def _why_empty(notices: list[Notice]) -> str:
    if not notices:
        return "no schedule entry has a date (give each a 'label' and a 'start')"
    first = notices[0]
    return (
        f"no schedule entry gave an event; {len(notices)} warning(s), the first on line"
        f" {first.line}: {first.message}"
    )
