"""The sign-up form as HTML: rendered into the home page, light to import.

Only the standard library and :mod:`feeds`: the static page (``lfx-cal publish``)
imports this, and must not pay for the web and database modules behind the
form (:mod:`lfx_cal.web.signup`). The form works without JavaScript;
:data:`ZONE_SCRIPT`, allowed by hash in the page's CSP (:data:`SCRIPT_SOURCE`),
only puts the viewer's zone in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from feeds.categories import ROLES
from feeds.durations import format_duration

if TYPE_CHECKING:
    from scheduler.snapshot import Snapshot
    from scheduler.subscribers import Prefs

MAX_ADDRESS = 254
ZONE_SCRIPT = (
    "(function(){var z=Intl.DateTimeFormat().resolvedOptions().timeZone;"
    'document.querySelectorAll("input[data-detect-zone]").forEach(function(i){'
    "if(z){i.value=z;}});})();"
)
"""Puts the viewer's zone in the sign-up form (the form works without it)."""


def csp_hash(text: str) -> str:
    """The CSP source (``'sha256-…'``) that allows an inline script or style of *text*."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


SCRIPT_SOURCE = csp_hash(ZONE_SCRIPT)
"""The CSP source that allows :data:`ZONE_SCRIPT` (the home page adds it to ``script-src``)."""


@dataclass(frozen=True)
class SignupForm:
    """What the sign-up form offers: the lead times allowed and the zone filled in."""

    leads: tuple[dt.timedelta, ...]
    zone: str


# -- rendering ----------------------------------------------------------------------------


def lead_text(lead: dt.timedelta) -> str:
    """A lead time as the form writes it (``1d``, ``1h``): what :func:`parse_duration` reads."""
    return format_duration(lead)


def choice_fields(form: SignupForm, terms: Sequence[str], prefs: Prefs | None) -> str:
    """The role, lead, zone and term fields, filled with *prefs* (or the form's defaults)."""
    role = prefs.role if prefs else None
    chosen = set(prefs.leads) if prefs else set(form.leads)
    zone = prefs.zone if prefs else form.zone
    term = prefs.term if prefs else None
    roles = ['<option value="">everything</option>'] + [
        f'<option value="{escape(r)}"{" selected" if r == role else ""}>{escape(r)}</option>'
        for r in ROLES
    ]
    leads = "".join(
        f'<label><input type="checkbox" name="lead" value="{escape(lead_text(lead))}"'
        f"{' checked' if lead in chosen else ''}> {escape(lead_text(lead))} before</label>"
        for lead in form.leads
    )
    term_options = ['<option value="">all terms</option>'] + [
        f'<option value="{escape(t)}"{" selected" if t == term else ""}>{escape(t)}</option>'
        for t in terms
    ]
    detect = "" if prefs else " data-detect-zone"
    return (
        f'<label class="field">Role <select name="role">{"".join(roles)}</select></label>'
        f"<fieldset><legend>Remind me</legend>{leads}</fieldset>"
        f'<label class="field">Time zone <input name="zone" value="{escape(zone)}" required'
        f' maxlength="64"{detect}></label>'
        f'<label class="field">Terms <select name="term">{"".join(term_options)}</select></label>'
    )


def signup_section(form: SignupForm | None, snapshot: Snapshot, *, csrf: str = "") -> str:
    """The sign-up form as a page section ("" when sign-up is off); works without JavaScript."""
    if form is None:
        return ""
    terms = sorted({t.term.id for t in snapshot.timelines})
    token = f'<input type="hidden" name="csrf" value="{escape(csrf)}">' if csrf else ""
    return (
        '<section id="signup"><h2>E-mail reminders</h2>'
        "<p>Get a reminder before each deadline, in your own time zone. We send one "
        "confirmation mail first; every reminder has a one-click unsubscribe link.</p>"
        '<form id="signup-form" method="post" action="/signup">'
        '<label class="field">E-mail <input type="email" name="email" required'
        f' maxlength="{MAX_ADDRESS}" autocomplete="email"></label>'
        f"{choice_fields(form, terms, None)}{token}"
        '<button type="submit">Send me a confirmation link</button></form>'
        f"<script>{ZONE_SCRIPT}</script></section>"
    )
