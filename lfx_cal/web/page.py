"""The web page mentees open on their phones: the next deadline first, one tap to add it.

Server-rendered HTML where every document string goes through ``html.escape``;
page data rides in a ``<script type="application/json">`` block with ``<``, ``>``
and ``&`` escaped. Stylesheets and scripts are inlined from package data
(:data:`STYLES`, :data:`SCRIPTS`), so the page works offline from a single file
with no CDN and no web font; the Content-Security-Policy pins each of them by
hash, whatever the lists hold.

The page is a sequence of sections (:data:`SECTIONS`), each a function of one
:class:`Page`: the next deadline of the chosen role, the upcoming rows grouped
by term, subscribe links, timeline pictures, past rows. A new section is one
renderer and one line in that tuple.

Decisions:

* Mobile first: one column of cards; from 40rem the subscribe table is a
  table, below it each feed is a card; timeline pictures keep a legible
  minimum width and scroll sideways inside their own focusable box.
* The next deadline: the first row of the chosen role (``mentee`` by
  default; ``mentor``, ``admin`` = everything) that is a deadline or a period
  and is not passed, else its first row of any kind. Rows are ordered by when
  they are passed (:func:`feeds.meaning.over_at`). The server renders the
  mentee card (what a reader without JavaScript sees); the script picks the
  card for the role remembered in the URL (``?role=``) or ``localStorage``.
* States follow :mod:`feeds.meaning`: a period "opens in" until it opens,
  then "closes in"; a deadline "closes in"; an informational day counts
  down to its start and then reads "today" all day; after that, "passed".
* Without JavaScript every time is in the program zone with the zone named;
  the script rewrites each ``<time>`` (the "Last change" stamp included) in
  the viewer's zone and names that zone in the header. The next card also
  shows the program-zone time beside the countdown.
* Each row has "add this event" links (:mod:`lfx_cal.web.links`) and a
  single-event ``.ics`` with reminders (:mod:`lfx_cal.web.events`): imported
  events keep reminders, subscribed ones do not in Google and Outlook, and
  the page says so beside the buttons. Alarm options are offered only for
  the webcal and download subscribe links.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from typing import NamedTuple
from urllib.parse import quote
from zoneinfo import ZoneInfo

from feeds.categories import ROLES
from feeds.meaning import (
    RowKind,
    Rules,
    closes_at,
    kind_of,
    opens_at,
    over_at,
    reminder_instant,
)
from feeds.meaning import day_start as meaning_day_start
from feeds.model import CATEGORIES, Endpoint, Event, Timeline, endpoint_text
from lfx_cal.web.atom import changes_section
from lfx_cal.web.events import ALARM_TEXT, event_name
from lfx_cal.web.feeds import feed_names
from lfx_cal.web.links import absolute, add_event, google_add, normalize_base, outlook_add
from lfx_cal.web.links import subscribe_links as feed_links
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
DEFAULT_ROLE = "mentee"
ROLE_TEXT = {"mentee": "mentee", "mentor": "mentor", "admin": "organizer (everything)"}
SCRIPTS: tuple[str, ...] = ("page.js",)
"""Static scripts inlined at the end of the page, in order (each pinned by the CSP)."""
STYLES: tuple[str, ...] = ("page.css",)
"""Static stylesheets inlined in the head, in order (each pinned by the CSP)."""
REMINDER_NOTE = (
    "Added events keep reminders: Google and Outlook use your default reminders, the .ics file"
    f" brings its own ({ALARM_TEXT}). Subscribed calendars get no reminders in Google or Outlook."
)


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
    """The page's CSP: nothing external, only the inlined scripts and stylesheets."""
    scripts = " ".join(f"'sha256-{_sha256(asset(name))}'" for name in SCRIPTS)
    styles = " ".join(f"'sha256-{_sha256(asset(name))}'" for name in STYLES)
    return (
        f"default-src 'none'; script-src {scripts} {SCRIPT_SOURCE}; style-src {styles}; "
        "img-src data:; base-uri 'none'; form-action 'self'"
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


def roles_of(event: Event) -> tuple[str, ...]:
    """The role presets (:data:`feeds.categories.ROLES`) whose feeds carry *event*."""
    return tuple(role for role, wanted in ROLES.items() if set(wanted) & set(event.categories))


def next_row(rows: Sequence[Deadline], role: str) -> Deadline | None:
    """The next deadline of *role* among upcoming *rows*: a deadline or period, else any row."""
    mine = [row for row in rows if role in roles_of(row.event)]
    for row in mine:
        if kind_of(row.event) is not RowKind.INFO:
            return row
    return mine[0] if mine else None


@dataclass(frozen=True)
class Page:
    """Everything a section renderer may read: one snapshot at one moment."""

    snapshot: Snapshot
    now: dt.datetime
    base: str | None
    static: bool
    rows: tuple[Deadline, ...]
    split: int
    signup: SignupForm | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The program zone (times without JavaScript are shown in it)."""
        return ZoneInfo(self.snapshot.zone)

    @property
    def rules(self) -> Rules:
        """What rows mean (:mod:`feeds.meaning`)."""
        return self.snapshot.meaning

    @property
    def prefix(self) -> str:
        """Where feeds live: relative on a static host, from the root on the server."""
        return "feeds/" if self.static else "/feeds/"

    @property
    def upcoming(self) -> tuple[Deadline, ...]:
        """Rows not passed at :attr:`now`, soonest first."""
        return self.rows[self.split :]

    @property
    def past(self) -> tuple[Deadline, ...]:
        """Rows passed at :attr:`now`, most recent first."""
        return tuple(reversed(self.rows[: self.split]))

    def href(self, path: str) -> str:
        """*path* made absolute when the base URL is known (links work without JavaScript)."""
        return absolute(self.base, path) if self.base else path


Section = Callable[[Page], str]


def _time(value: Endpoint, zone: ZoneInfo) -> str:
    """A ``<time>`` element: the script re-formats it in the viewer's zone."""
    if isinstance(value, dt.datetime):
        local = value.astimezone(zone)
        text = f"{local:%a}, {local:%b} {local.day}, {local.year}, {local:%H:%M} {local:%Z}"
        kind = "instant"
    else:
        text, kind = f"{value:%a}, {value:%b} {value.day}, {value.year}", "date"
    return f'<time data-kind="{kind}" datetime="{endpoint_text(value)}">{escape(text)}</time>'


def _program_time(row: Deadline, page: Page) -> str:
    """The moment the countdown is about, in the program zone (shown beside it)."""
    event, zone = row.event, page.zone
    name = page.snapshot.zone
    if kind_of(event) is RowKind.INFO and not isinstance(event.start, dt.datetime):
        return f"{event.start:%a}, {event.start:%b} {event.start.day} all day ({name})"
    moment = closes_at(event, page.rules) or row.instant
    local = moment.astimezone(zone)
    if not isinstance(event.deadline, dt.datetime) and page.rules.deadline_time is None:
        day = event.deadline
        return f"{day:%a}, {day:%b} {day.day}, end of day ({name})"
    return f"{local:%a}, {local:%b} {local.day}, {local:%H:%M} {local:%Z} ({name})"


def _add_links(row: Deadline, page: Page) -> str:
    """Google, Outlook and ``.ics`` buttons that put this one row in the reader's calendar."""
    event = row.event
    addresses = (public_source(row.timeline.url or ""), public_source(event.source))
    source = next((a for a in addresses if a.startswith(("https://", "http://"))), "")
    try:
        item = add_event(event, event.term, page.rules, source)
    except OverflowError:  # a date at the calendar's edge: no buttons rather than no page
        return ""
    folder = "events/" if page.static else "/events/"
    ics = page.href(folder + quote(event_name(event.uid)) + ".ics")
    label = escape(event.title)
    return (
        f'<div class="add" role="group" aria-label="Add {label} to your calendar">'
        f'<span class="add-label">Add to:</span> '
        f'<a class="button" data-add="google" href="{escape(google_add(item))}"'
        ' rel="noopener noreferrer" target="_blank">Google Calendar</a> '
        f'<a class="button" data-add="outlook" href="{escape(outlook_add(item))}"'
        ' rel="noopener noreferrer" target="_blank">Outlook</a> '
        f'<a class="button" data-add="ics" href="{escape(ics)}" download>'
        ".ics with reminders</a></div>"
    )


def _deadline(row: Deadline, page: Page) -> str:
    """One row as a card (``<li>``); its data attributes drive the countdown and the filters."""
    event, zone, rules = row.event, page.zone, page.rules
    until = endpoint_text(row.instant)
    at = endpoint_text(row.at or row.instant)
    kind = kind_of(event)
    info = kind is RowKind.INFO
    opens = opens_at(event, rules)
    if info and not isinstance(event.start, dt.datetime):
        opens = meaning_day_start(event.start, rules)
    badges = "".join(f'<span class="cat">{escape(c)}</span>' for c in event.categories)
    flag = ""
    if row.warnings:
        tip = escape("\n".join(row.warnings))
        flag = f'<span class="flag" title="{tip}">⚠ doubtful, check the source</span>'
    verb = "on" if info else ("closes" if event.is_period else "due")
    until_text = ""
    if not info and not isinstance(event.deadline, dt.datetime):
        close = closes_at(event, rules)
        if close is not None:
            if rules.deadline_time is None:  # "due January 20" is open all that day
                until_text = ' <span class="eod">(end of day)</span>'
            until_text += f' <span class="until">· open until {_time(close, zone)}</span>'
    opens_attr = f' data-opens="{endpoint_text(opens)}"' if opens is not None else ""
    roles = " ".join(roles_of(event))
    lines = [
        f'<li class="deadline{" flagged" if row.warnings else ""}" data-until="{until}"'
        f' data-roles="{roles}" data-kind="{kind}" data-uid="{escape(event.uid)}">',
        f'<div class="head"><span class="title">{escape(event.title)}</span>'
        f' <span class="term">{escape(row.timeline.term.id)}</span> {badges} {flag}</div>',
        f'<div class="when">{verb} {_time(event.deadline, zone)}{until_text}</div>',
        f'<div class="state"><span class="countdown" data-until="{until}" data-at="{at}"'
        f' data-kind="{kind}"{opens_attr}></span>'
        f' <span class="program">program time: {escape(_program_time(row, page))}</span></div>',
    ]
    if event.end is not None:
        lines.append(f'<div class="from">opens {_time(event.start, zone)}</div>')
    if event.notes:
        lines.append(f'<div class="notes">{escape(" · ".join(event.notes))}</div>')
    lines.append(_add_links(row, page))
    lines.append("</li>")
    return "".join(lines)


def _links(path: str, label: str, base: str | None) -> str:
    hrefs = feed_links(absolute(base, path), label) if base else dict.fromkeys(LINK_TEXT, path)
    return " ".join(
        f'<a class="button {kind}" data-link="{kind}" data-path="{escape(path)}"'
        f' data-name="{escape(label)}" href="{escape(hrefs[kind])}"'
        + (" download" if kind == "download" else "")
        + f">{text}</a>"
        for kind, text in LINK_TEXT.items()
    )


def _role_label(role: str, css: str = "") -> str:
    """The role's name as the script updates it (``id="next-role"`` or a class)."""
    where = f'class="{css}"' if css else 'id="next-role"'
    return f"<span {where}>{escape(ROLE_TEXT.get(role, role))}</span>"


def _role_picker() -> str:
    radios = "".join(
        f'<label class="role"><input type="radio" name="role" value="{role}"'
        f"{' checked' if role == DEFAULT_ROLE else ''}> {escape(ROLE_TEXT.get(role, role))}</label>"
        for role in ROLES
    )
    return f'<fieldset id="roles" class="roles" hidden><legend>My role</legend>{radios}</fieldset>'


def next_section(page: Page) -> str:
    """The prominent card: the next deadline of the chosen role (mentee without JavaScript)."""
    row = next_row(page.upcoming, DEFAULT_ROLE)
    card = _deadline(row, page) if row is not None else ""
    return (
        '<section id="next" aria-labelledby="next-title"><h2 id="next-title">Next deadline'
        f' <span class="for">({_role_label(DEFAULT_ROLE)})</span></h2>'
        f"{_role_picker()}"
        f'<ol class="deadlines next" id="next-list">{card}</ol>'
        f'<p class="empty" id="next-none"{" hidden" if row else ""}>'
        "Nothing upcoming for this role.</p>"
        f'<p class="hint">{escape(REMINDER_NOTE)}</p>{_role_feed(page)}</section>'
    )


def _role_feed(page: Page) -> str:
    """Subscribe links for the chosen role's named feed (the script follows the role)."""
    label = feed_names(page.snapshot).get(DEFAULT_ROLE)
    if label is None:
        return ""
    links = _links(page.prefix + DEFAULT_ROLE + ".ics", label, page.base)
    return (
        f'<p class="links" id="role-feed">Or subscribe to every date for the role'
        f" ({_role_label(DEFAULT_ROLE, 'role-name')}): {links}</p>"
    )


def _after_term(page: Page) -> str:
    """What the page says when nothing is upcoming: the last term and how to get the next."""
    parts = ["<p><strong>Nothing is upcoming.</strong>"]
    if page.rows:
        last = page.rows[-1]
        term = last.timeline.term
        count = sum(1 for r in page.rows if r.timeline.term.id == term.id)
        parts.append(
            f" The last term, {escape(term.title or term.id)}, ended with"
            f" {escape(last.event.title)} on {_time(last.event.deadline, page.zone)}"
            f" ({count} dates; its timeline is below)."
        )
    parts.append(
        "</p><p>The next term is not published yet. Subscribe to a feed now and its dates"
        " appear in your calendar as soon as they are published:</p>"
    )
    for name in (DEFAULT_ROLE, "all"):
        label = feed_names(page.snapshot).get(name)
        if label is not None:
            parts.append(
                f'<p class="links"><span class="feed-name">{escape(label)}</span> '
                f"{_links(page.prefix + quote(name) + '.ics', label, page.base)}</p>"
            )
    return "".join(parts)


def upcoming_section(page: Page) -> str:
    """Upcoming rows grouped by term (soonest term first), with the role filter."""
    groups: dict[str, list[Deadline]] = {}
    for row in page.upcoming:
        groups.setdefault(row.timeline.term.id, []).append(row)
    parts = [
        '<section id="upcoming" aria-labelledby="upcoming-title">'
        '<h2 id="upcoming-title">Upcoming</h2>'
        '<p class="filter" id="role-filter" hidden><label><input type="checkbox" id="only-role"'
        f" checked> Only dates for the role ({_role_label(DEFAULT_ROLE, 'role-name')})</label></p>"
    ]
    for term_id, rows in groups.items():
        term = rows[0].timeline.term
        items = "".join(_deadline(row, page) for row in rows)
        parts.append(
            f'<section class="term-group" data-term="{escape(term_id)}">'
            f'<h3>{escape(term.title or term.id)} <span class="term">{escape(term.id)}</span></h3>'
            f'<ol class="deadlines upcoming-list">{items}</ol></section>'
        )
    parts.append(
        '<p class="empty" id="role-empty" hidden>No upcoming dates for this role;'
        " untick the filter to see every date.</p>"
        f'<div class="after" id="upcoming-empty"{"" if not page.upcoming else " hidden"}>'
        f"{_after_term(page)}</div></section>"
    )
    return "".join(parts)


def subscribe_section(page: Page) -> str:
    """Subscribe links: a table (cards on narrow screens) and a picker for custom feeds."""
    names, prefix, base = feed_names(page.snapshot), page.prefix, page.base
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
    picker = [f'<label class="field">Feed <select id="pick-feed">{options}</select></label>']
    if not page.static:
        presets = "".join(
            f'<button type="button" data-role="{escape(r)}">{escape(r)}</button>' for r in ROLES
        )
        boxes = "".join(
            f'<label class="box"><input type="checkbox" name="category" value="{c}"> {c}</label>'
            for c in CATEGORIES
        )
        alarms = "".join(f'<option value="{v}">{t}</option>' for v, t in ALARM_CHOICES)
        picker.append(
            f'<div class="presets">Role feeds: {presets}</div>'
            '<fieldset id="pick-categories"><legend>Categories (none checked: every one)</legend>'
            f'{boxes}<button type="button" data-role="">clear</button></fieldset>'
            f'<label class="field">Alarms <select id="pick-alarms">{alarms}</select></label>'
            '<p class="hint">Alarms apply to Apple / webcal and the downloaded file only:'
            " Google and Outlook ignore alarms in subscribed calendars.</p>"
        )
    first = next(iter(names))
    path = prefix + quote(first) + ".ics"
    picker.append(
        f'<p class="links" id="picked">{_links(path, names[first], base)}</p>'
        f'<p>Address: <code id="picked-url">{escape(page.href(path))}</code></p>'
    )
    return (
        '<section id="subscribe"><h2>Subscribe</h2>'
        '<p class="hint">A subscribed calendar follows every change. Google and Outlook show no'
        " reminders for it: add single dates above to be reminded.</p>"
        f'<table class="feeds"><tbody>{rows}</tbody></table><h3>Choose what you get</h3>'
        f'<form id="picker" class="picker">{"".join(picker)}</form></section>'
    )


def timelines_section(page: Page) -> str:
    """One picture per term; each scrolls sideways inside its own box on narrow screens."""
    parts = ['<section id="timelines"><h2>Timelines</h2>']
    for timeline in page.snapshot.timelines:
        term = timeline.term
        source = escape(public_source(timeline.source))
        if timeline.url:
            href = escape(public_source(timeline.url))
            source = f'<a href="{href}" rel="noreferrer">{source}</a>'
        picture = timeline_svg(timeline, page.snapshot.zone, page.now)
        if picture:
            label = escape(f"Timeline of {term.title or term.id} (scrolls sideways)")
            picture = (
                f'<div class="picture" tabindex="0" role="region" aria-label="{label}">'
                f"{picture}</div>"
            )
        parts.append(
            f'<article class="term"><h3>{escape(term.title or term.id)}'
            f' <span class="term">{escape(term.id)}</span></h3><p class="source">from {source}</p>'
            f"{picture}"
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


def past_section(page: Page) -> str:
    """Passed rows, most recent first (the script moves rows here as they pass)."""
    past = "".join(_deadline(r, page) for r in page.past)
    return (
        f'<section id="past"{"" if past else " hidden"}><h2>Past deadlines</h2>'
        f'<ol class="deadlines" id="past-list">{past}</ol></section>'
    )


SECTIONS: tuple[tuple[str, Section], ...] = (
    ("next", next_section),
    ("upcoming", upcoming_section),
    ("subscribe", subscribe_section),
    ("signup", lambda page: signup_section(page.signup, page.snapshot)),
    ("timelines", timelines_section),
    (
        "changes",
        lambda page: changes_section(page.snapshot, page.static, lambda at: _time(at, page.zone)),
    ),
    ("past", past_section),
)
"""The page's sections in order: a name and a renderer of one :class:`Page`."""


def _data(page: Page) -> str:
    data = {
        "base": page.base,
        "static": page.static,
        "zone": page.snapshot.zone,
        "roles": ROLES,
        "defaultRole": DEFAULT_ROLE,
        "roleText": ROLE_TEXT,
        "roleFeeds": {r: n for r, n in feed_names(page.snapshot).items() if r in ROLES},
    }
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _header(page: Page) -> str:
    snapshot = page.snapshot
    change = ""
    if snapshot.modified > EPOCH:
        change = f" Last change {_time(snapshot.modified.astimezone(dt.UTC), page.zone)}."
    api = "api/timelines.json" if page.static else "/api/timelines"
    warning = ""
    if page.static and page.base is None:
        warning = (
            '<p class="warn" id="file-warning" hidden>This page was opened from a file, so its'
            " subscribe links point at your disk and Google cannot read them. Publish it with"
            " <code>lfx-cal publish --base-url https://…</code> and open it from that address.</p>"
        )
    return (
        "<header><h1>LFX Mentorship deadlines</h1>"
        f'<p>Times are shown in <strong id="viewer-zone">{escape(snapshot.zone)}</strong>'
        f" (program zone: {escape(snapshot.zone)}).{change}"
        f' Data: <a href="{api}">JSON</a>.</p>{warning}</header>'
    )


def render_page(
    snapshot: Snapshot,
    now: dt.datetime,
    *,
    static: bool = False,
    base_url: str | None = None,
    signup: SignupForm | None = None,
) -> str:
    """The whole HTML page; ``static`` links feeds relatively and drops query filters."""
    rows = deadlines(snapshot)
    page = Page(snapshot, now, normalize_base(base_url), static, rows, passed(rows, now), signup)
    csp = escape(content_security_policy())
    styles = "".join(f"<style>{asset(name)}</style>" for name in STYLES)
    scripts = "".join(f"<script>{asset(name)}</script>" for name in SCRIPTS)
    body = "".join(render(page) for _, render in SECTIONS)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<title>LFX Mentorship deadlines</title><link rel="icon" href="data:,">'
        f"{styles}</head><body>{_header(page)}<main>{body}</main>"
        f'<script type="application/json" id="lfx-data">{_data(page)}</script>'
        f"{scripts}</body></html>"
    )
