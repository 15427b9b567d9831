"""The web page: upcoming deadlines, timeline pictures and subscribe links.

Server-rendered HTML where every document string goes through ``html.escape``;
page data rides in a ``<script type="application/json">`` block with ``<``, ``>``
and ``&`` escaped. The stylesheet and script are inlined from package data, so
the page works offline from a single file; a Content-Security-Policy pins them
by hash. Without JavaScript, times show in the program zone; the script shows
them in the viewer's zone, runs countdowns and builds the subscribe links.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from functools import cache
from html import escape
from importlib.resources import files
from typing import NamedTuple
from urllib.parse import quote
from zoneinfo import ZoneInfo

from feeds.categories import ROLES
from feeds.meaning import RowKind, kind_of, over_at, reminder_instant
from feeds.model import CATEGORIES, Endpoint, Event, Timeline, endpoint_text
from lfx_cal.web.atom import changes_section
from lfx_cal.web.feeds import feed_names
from lfx_cal.web.links import absolute, normalize_base, subscribe_links
from lfx_cal.web.signup_form import SCRIPT_SOURCE, SignupForm, signup_section
from lfx_cal.web.sources import public_source
from lfx_cal.web.svg import timeline_svg
from scheduler.snapshot import EPOCH, Snapshot

LINK_TEXT = {
    "webcal": "Apple / webcal",
    "google": "Google",
    "outlook": "Outlook",
    "download": "Download .ics",
}
ALARM_CHOICES = (("", "none"), ("1d", "1 day before"), ("7d,1d", "7 days and 1 day before"))


class Deadline(NamedTuple):
    """One event on the page and the warnings on its row.

    ``instant`` is when the row is passed and ``at`` the moment its countdown
    counts to (:mod:`feeds.meaning`): a close, or the start of an informational
    day (which then reads "today" until the day is over).
    """

    instant: dt.datetime
    event: Event
    timeline: Timeline
    warnings: tuple[str, ...]
    at: dt.datetime | None = None


@cache
def asset(name: str) -> str:
    """The text of a bundled static file (``page.js``, ``page.css``)."""
    return (files("lfx_cal.web") / "static" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def content_security_policy() -> str:
    """The page's CSP: nothing external, only the inlined script and stylesheet."""
    return (
        f"default-src 'none'; script-src 'sha256-{_sha256(asset('page.js'))}' {SCRIPT_SOURCE}; "
        f"style-src 'sha256-{_sha256(asset('page.css'))}'; img-src data:; "
        "base-uri 'none'; form-action 'self'"
    )


def deadlines(snapshot: Snapshot) -> tuple[Deadline, ...]:
    """Every event of the snapshot, ordered by when it is passed (:func:`feeds.meaning.over_at`)."""
    rules = snapshot.meaning
    rows = []
    for timeline in snapshot.timelines:
        for event in timeline.events:
            try:
                over, at = over_at(event, rules), reminder_instant(event, rules)
            except OverflowError:  # a date at the calendar's edge: no row rather than no page
                continue
            notes = tuple(n.message for n in timeline.warnings if n.line == event.line)
            rows.append(Deadline(over, event, timeline, notes, at))
    return tuple(sorted(rows, key=lambda r: (r.instant, r.timeline.term.id, r.event.title)))


def passed(rows: Sequence[Deadline], now: dt.datetime) -> int:
    """How many of the (ordered) rows are passed at *now* (their moment has come)."""
    return bisect.bisect_right([r.instant for r in rows], now)


def _time(value: Endpoint, zone: ZoneInfo) -> str:
    """A ``<time>`` element: the script re-formats it in the viewer's zone."""
    if isinstance(value, dt.datetime):
        local = value.astimezone(zone)
        text = f"{local:%a}, {local:%b} {local.day}, {local.year}, {local:%H:%M} {local:%Z}"
        kind = "instant"
    else:
        text, kind = f"{value:%a}, {value:%b} {value.day}, {value.year}", "date"
    return f'<time data-kind="{kind}" datetime="{endpoint_text(value)}">{escape(text)}</time>'


def _deadline(row: Deadline, zone: ZoneInfo) -> str:
    event, until = row.event, endpoint_text(row.instant)
    at = endpoint_text(row.at or row.instant)
    info = kind_of(event) is RowKind.INFO
    badges = "".join(f'<span class="cat">{escape(c)}</span>' for c in event.categories)
    flag = ""
    if row.warnings:
        tip = escape("\n".join(row.warnings))
        flag = f'<span class="flag" title="{tip}">⚠ doubtful — check the source</span>'
    verb = "on" if info else ("closes" if event.is_period else "due")
    end_of_day = ""
    date_close = not info and not isinstance(event.deadline, dt.datetime)
    if date_close and row.instant.astimezone(zone).time() == dt.time(0):  # no deadline_time
        end_of_day = ' <span class="eod">(end of day)</span>'
    today = ' data-today="1"' if info and not isinstance(event.start, dt.datetime) else ""
    lines = [
        f'<li class="deadline{" flagged" if row.warnings else ""}" data-until="{until}">',
        f'<div class="head"><span class="title">{escape(event.title)}</span>'
        f' <span class="term">{escape(row.timeline.term.id)}</span> {badges} {flag}</div>',
        f'<div class="when">{verb} {_time(event.deadline, zone)}{end_of_day}'
        f' <span class="countdown" data-until="{until}" data-at="{at}"{today}></span></div>',
    ]
    if event.end is not None:
        lines.append(f'<div class="from">opens {_time(event.start, zone)}</div>')
    if event.notes:
        lines.append(f'<div class="notes">{escape(" · ".join(event.notes))}</div>')
    lines.append("</li>")
    return "".join(lines)


def _links(path: str, label: str, base: str | None) -> str:
    hrefs = subscribe_links(absolute(base, path), label) if base else dict.fromkeys(LINK_TEXT, path)
    return " ".join(
        f'<a class="button {kind}" data-link="{kind}" data-path="{escape(path)}"'
        f' data-name="{escape(label)}" href="{escape(hrefs[kind])}"'
        + (" download" if kind == "download" else "")
        + f">{text}</a>"
        for kind, text in LINK_TEXT.items()
    )


def _subscribe(names: dict[str, str], prefix: str, base: str | None, static: bool) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td><code>{escape(name)}</code></td>'
        f'<td class="links">{_links(prefix + quote(name) + ".ics", label, base)}</td></tr>'
        for name, label in names.items()
    )
    options = "".join(
        f'<option value="{escape(name)}" data-label="{escape(label)}">'
        f"{escape(name)} — {escape(label)}</option>"
        for name, label in names.items()
    )
    picker = [f'<label>Feed <select id="pick-feed">{options}</select></label>']
    if not static:
        presets = "".join(
            f'<button type="button" data-role="{escape(r)}">{escape(r)}</button>' for r in ROLES
        )
        boxes = "".join(
            f'<label class="box"><input type="checkbox" name="category" value="{c}"> {c}</label>'
            for c in CATEGORIES
        )
        alarms = "".join(f'<option value="{v}">{t}</option>' for v, t in ALARM_CHOICES)
        picker.append(
            '<fieldset id="pick-categories"><legend>Categories (none checked: every one)</legend>'
            f'<div class="presets">Role presets: {presets}'
            f'<button type="button" data-role="">clear</button></div>{boxes}</fieldset>'
            f'<label>Alarms <select id="pick-alarms">{alarms}</select></label>'
        )
    first = next(iter(names))
    path = prefix + quote(first) + ".ics"
    picker.append(
        f'<p class="links" id="picked">{_links(path, names[first], base)}</p>'
        f'<p>Address: <code id="picked-url">{escape(path)}</code></p>'
    )
    return (
        '<section id="subscribe"><h2>Subscribe</h2><table class="feeds"><tbody>'
        f"{rows}</tbody></table><h3>Choose what you get</h3>"
        f'<form id="picker" class="picker">{"".join(picker)}</form></section>'
    )


def _timelines(snapshot: Snapshot, now: dt.datetime) -> str:
    parts = ['<section id="timelines"><h2>Timelines</h2>']
    for timeline in snapshot.timelines:
        term = timeline.term
        source = escape(public_source(timeline.source))
        if timeline.url:
            href = escape(public_source(timeline.url))
            source = f'<a href="{href}" rel="noreferrer">{source}</a>'
        parts.append(
            f'<article class="term"><h3>{escape(term.title or term.id)}'
            f' <span class="term">{escape(term.id)}</span></h3><p class="source">from {source}</p>'
            f"{timeline_svg(timeline, snapshot.zone, now)}"
        )
        if timeline.warnings:
            items = "".join(
                f'<li><span class="flag">⚠</span> line {n.line}: {escape(n.message)}</li>'
                for n in timeline.warnings
            )
            parts.append(f'<ul class="warnings">{items}</ul>')
        parts.append("</article>")
    parts.append("</section>")
    return "".join(parts)


def _data(snapshot: Snapshot, base: str | None, static: bool) -> str:
    data = {"base": base, "static": static, "zone": snapshot.zone, "roles": ROLES}
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_page(
    snapshot: Snapshot,
    now: dt.datetime,
    *,
    static: bool = False,
    base_url: str | None = None,
    signup: SignupForm | None = None,
) -> str:
    """The whole HTML page; ``static`` links feeds relatively and drops query filters."""
    zone = ZoneInfo(snapshot.zone)
    base = normalize_base(base_url)
    prefix = "feeds/" if static else "/feeds/"
    rows = deadlines(snapshot)
    split = passed(rows, now)
    upcoming = "".join(_deadline(r, zone) for r in rows[split:])
    past = "".join(_deadline(r, zone) for r in reversed(rows[:split]))
    api = "api/timelines.json" if static else "/api/timelines"
    updated = snapshot.modified.astimezone(zone)
    change = f" Last change {updated:%Y-%m-%d %H:%M %Z}." if snapshot.modified > EPOCH else ""
    csp = escape(content_security_policy())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<title>LFX Mentorship deadlines</title><link rel="icon" href="data:,">'
        f"<style>{asset('page.css')}</style></head><body>"
        "<header><h1>LFX Mentorship deadlines</h1>"
        f'<p>Times are shown in <strong id="viewer-zone">{escape(snapshot.zone)}</strong>'
        f" (program zone: {escape(snapshot.zone)}).{change}"
        f' Data: <a href="{api}">JSON</a>.</p></header><main>'
        '<section id="upcoming"><h2>Upcoming deadlines</h2>'
        f'<ol class="deadlines" id="upcoming-list">{upcoming}</ol>'
        f'<p class="empty" id="upcoming-empty"{"" if not upcoming else " hidden"}>'
        "No upcoming deadlines.</p></section>"
        f"{_subscribe(feed_names(snapshot), prefix, base, static)}"
        f"{signup_section(signup, snapshot)}"
        f"{_timelines(snapshot, now)}"
        f"{changes_section(snapshot, static)}"
        f'<section id="past"{"" if past else " hidden"}><h2>Past deadlines</h2>'
        f'<ol class="deadlines" id="past-list">{past}</ol></section></main>'
        f'<script type="application/json" id="lfx-data">{_data(snapshot, base, static)}</script>'
        f"<script>{asset('page.js')}</script></body></html>"
    )
