"""Changed dates as an Atom 1.0 feed and as a section of the web page.

The feed is ``GET /changes.atom`` and, from ``lfx-cal publish``, ``changes.atom``.

One entry per change record of the store (newest first, as the snapshot holds
them): the row's title, what happened (moved, added, removed) and its dates
old → new, each in the viewer-neutral UTC form followed by the program-zone
wall clock (:func:`scheduler.changes.wall_clock`).

Decisions:

* **Stable entry ids.** An entry's id is a ``urn:uuid`` derived (UUID 5) from
  the record's own fields (source, uid, kind, old, new, time): the same record
  has the same id on every render, on every replica and in the published file,
  so feed readers never show it twice.
* **xml.etree, not a feed library.** feedgen (the usual choice) pulls in lxml, a
  compiled dependency, for what is here a dozen elements; ElementTree escapes
  text and attributes, and the tests validate the result with feedparser.
* The title of a removed row is the title it had when last served, when the
  snapshot still knows it; otherwise the row's UID is shown.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html import escape

from feeds.formats import parse_endpoint, parse_instant
from feeds.model import Endpoint
from scheduler.changes import wall_clock
from scheduler.schema import ChangeRecord
from scheduler.snapshot import EPOCH, Snapshot

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
NAMESPACE = uuid.UUID("1f0c6a52-7b1e-5b8e-9a43-2f6d0c3e9b11")
"""The UUID 5 namespace of entry ids (fixed forever: changing it re-issues every id)."""
FEED_ID = "urn:uuid:" + str(uuid.uuid5(NAMESPACE, "lfx-cal changes"))


def entry_id(record: ChangeRecord) -> str:
    """The stable id of one change record's entry."""
    key = "\x1f".join(
        (record.source, record.uid, str(record.kind), record.old or "", record.new or "", record.at)
    )
    return "urn:uuid:" + str(uuid.uuid5(NAMESPACE, key))


def _titles(snapshot: Snapshot) -> dict[str, str]:
    return {e.uid: e.title for t in snapshot.timelines for e in t.events}


def describe(record: ChangeRecord, zone: str) -> tuple[str, str]:
    """(what happened, old → new) for one record, dates in UTC plus program-zone wall clock."""
    old = wall_clock(record.old, zone) if record.old else "—"
    new = wall_clock(record.new, zone) if record.new else "—"
    return str(record.kind), f"{old} ⇒ {new}"


def render_atom(snapshot: Snapshot, base_url: str | None = None) -> bytes:
    """The Atom document of *snapshot*'s change records (see the module docstring)."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", FEED_ID)
    sub(feed, "title", "LFX Mentorship: changed dates")
    newest = max((parse_instant(r.at) for r in snapshot.changes), default=snapshot.modified)
    sub(feed, "updated", max(newest, EPOCH).strftime("%Y-%m-%dT%H:%M:%SZ"))
    author = sub(feed, "author")
    sub(author, "name", "lfx-cal")
    if base_url:
        root = base_url.rstrip("/") + "/"
        sub(feed, "link", rel="self", href=root + "changes.atom", type="application/atom+xml")
        sub(feed, "link", rel="alternate", href=root, type="text/html")
    titles = _titles(snapshot)
    for record in snapshot.changes:
        kind, dates = describe(record, snapshot.zone)
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(record))
        sub(entry, "title", f"{titles.get(record.uid, record.uid)}: {kind}")
        sub(entry, "updated", record.at)
        sub(entry, "content", f"{kind}: {dates}", type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _dates_html(dates: str | None, stamp: Callable[[Endpoint], str]) -> str:
    """``old`` or ``new`` dates of a record (:func:`scheduler.changes.when` text) as page times."""
    if not dates:
        return "—"
    out = []
    for part in dates.split(" → "):
        try:
            out.append(stamp(parse_endpoint(part)))
        except ValueError:
            out.append(escape(part))
    return " → ".join(out)


def changes_section(
    snapshot: Snapshot, static: bool = False, stamp: Callable[[Endpoint], str] | None = None
) -> str:
    """The page's "Changed dates" section (empty when nothing changed yet).

    *stamp* writes a date or an instant as the page writes its other times (a
    ``<time>`` the script shows in the viewer's zone, the program zone without
    it): when each change was seen and its old and new dates. Without *stamp*,
    the feed's text (UTC plus the program-zone wall clock).
    """
    if not snapshot.changes:
        return ""
    titles = _titles(snapshot)
    items = []
    for record in snapshot.changes:
        kind, dates = describe(record, snapshot.zone)
        title = titles.get(record.uid, record.uid)
        at = f'<time datetime="{escape(record.at)}">{escape(record.at)}</time>'
        shown = escape(dates)
        if stamp is not None:
            at = stamp(parse_instant(record.at))
            shown = f"{_dates_html(record.old, stamp)} ⇒ {_dates_html(record.new, stamp)}"
        items.append(f"<li>{at} <strong>{escape(title)}</strong> {escape(kind)}: {shown}</li>")
    href = "changes.atom" if static else "/changes.atom"
    return (
        '<section id="changes"><h2>Changed dates</h2>'
        f'<p><a href="{href}">Atom feed of changes</a></p>'
        f'<ol class="changes">{"".join(items)}</ol></section>'
    )
