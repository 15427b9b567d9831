"""Rendering a :class:`~notifiers.message.Message` as an e-mail, once per batch.

The shared part (From, Subject, Date and the ``multipart/mixed`` body: a
``multipart/alternative`` text + HTML part and the event as an importable
``.ics`` attachment) is serialized once by :func:`render_base`; each recipient
then only costs a ``To`` and a ``Message-ID`` header (:func:`for_recipient`).
Header values are sanitized (line breaks and control characters collapsed), the
HTML part is escaped, and addresses are built with
:class:`email.headerregistry.Address`. A Subject that contains ``=?`` is written
as RFC 2047 encoded-words in full (:class:`LiteralSubject`), so a title such as
``=?utf-8?b?…?=`` is shown as written instead of being decoded by the reader.

A personal message (a self-service subscriber's, :attr:`Message.unsubscribe`)
carries RFC 8058 one-click unsubscribe: ``List-Unsubscribe: <https…>, <mailto…>``
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, and both bodies end
with the manage and unsubscribe links. DKIM-signing both headers is the relay's job.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, parseaddr

from feeds.ical import FeedOptions, to_ical
from notifiers.message import Kind, Message, human_duration, one_line

SUBJECT_LIMIT = 200


def header_text(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Return *text* safe for a header value: one line, no control characters, clipped."""
    flat = one_line(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class LiteralSubject(str):
    """A Subject folded as base64 encoded-words whatever it holds (see the module docstring).

    The email package stores a value with a matching ``name`` as is and calls
    its ``fold``; a plain string would be parsed, and ``=?…?=`` in it decoded.
    """

    name = "Subject"
    defects: tuple[()] = ()

    def fold(self, *, policy: Policy) -> str:
        """``Subject: =?utf-8?b?…?=`` lines of at most 78 characters."""
        words: list[bytes] = []
        chunk = b""
        for char in str(self):
            encoded = char.encode("utf-8")
            if len(chunk) + len(encoded) > 45:
                words.append(chunk)
                chunk = b""
            chunk += encoded
        words.append(chunk)
        encoded_words = [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words]
        return "Subject: " + "\r\n ".join(encoded_words) + "\r\n"


def subject_header(title: str) -> str:
    """The Subject value for *title*: sanitized, and literal if it contains ``=?``."""
    text = header_text(title)
    return LiteralSubject(text) if "=?" in text else text


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
"""An ``addr_spec`` of dot-atoms only (most addresses): needs no quoting anywhere."""


def parse_address(text: str) -> Address:
    """Parse ``user@example.org`` or ``Name <user@example.org>``; raises ValueError.

    A bare dot-atom address (:data:`PLAIN_SPEC`, nearly every subscriber) skips
    the email package's header parser, which cost about 40 us per message of a
    fan-out; it builds the same :class:`Address` the parser would.
    """
    if any(c in text for c in "\r\n\x00"):
        raise ValueError("line break or NUL in an address")
    if "<" not in text:
        plain = text.strip()
        if PLAIN_SPEC.fullmatch(plain):
            username, domain = plain.split("@")
            return Address(username=username, domain=domain)
    name, spec = parseaddr(text) if "<" in text else ("", text.strip())
    if not spec.isascii() or spec.count("@") != 1 or " " in spec:
        raise ValueError(f"{text!r} is not a plain ASCII address like user@example.org")
    try:
        return Address(display_name=header_text(name, 100), addr_spec=spec)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(f"{text!r} is not a valid address: {error}") from None


def message_id(key: str, recipient: str, domain: str) -> str:
    """Return a Message-ID derived from the delivery *key* and *recipient* (stable on resend)."""
    digest = hashlib.sha256(f"{key}\0{recipient.lower()}".encode()).hexdigest()[:40]
    return f"<{digest}.lfx-cal@{domain}>"


def render_text(message: Message) -> str:
    """Return the plain-text body."""
    lines = [message.title, "", message.text, ""]
    if message.source_url:
        lines.append(f"Source document: {message.source_url}")
    if message.feed_url:
        lines.append(f"Calendar feed: {message.feed_url}")
    lines.append("The event is attached as an .ics file you can import into your calendar.")
    if message.unsubscribe is not None:
        lines += [
            "",
            f"Change what you get (role, lead times, time zone): {message.unsubscribe.manage}",
            f"Unsubscribe: {message.unsubscribe.manage}#unsubscribe",
        ]
    return "\n".join(lines) + "\n"


def _link(url: str | None, label: str) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return ""
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def render_html(message: Message) -> str:
    """Return the HTML body; every piece of document text is escaped."""
    e = html.escape
    parts = [f"<h2>{e(message.title)}</h2>"]
    lead = f" (in {e(human_duration(message.lead))})" if message.lead is not None else ""
    if message.kind is Kind.CHANGED and message.change is not None:
        change = message.change
        parts.append(
            f"<p><strong>Changed:</strong> the {e(change.what)} moved from <s>{e(change.old)}</s>"
            f" to <strong>{e(change.new)}</strong></p>"
        )
    label = e(message.when_label.capitalize())
    parts.append(f"<p><strong>{label}:</strong> {e(message.deadline_text)}{lead}</p>")
    parts.append(f"<p>Term: {e(message.term)}</p>")
    parts.extend(f"<p>{e(note)}</p>" for note in message.event.notes)
    links = [
        x
        for x in (
            _link(message.source_url, "Source document"),
            _link(message.feed_url, "Calendar feed"),
        )
        if x
    ]
    if links:
        parts.append(f"<p>{' · '.join(links)}</p>")
    if message.unsubscribe is not None:
        manage = message.unsubscribe.manage
        parts.append(
            f"<p><small>{_link(manage, 'Change what you get')} · "
            f"{_link(manage + '#unsubscribe', 'Unsubscribe')}</small></p>"
        )
    body = "\n".join(parts)
    head = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>'
    return f"{head}\n{body}\n</body></html>\n"


def list_unsubscribe(message: Message) -> str:
    """The ``List-Unsubscribe`` value of a personal message: ``<https…>, <mailto…>``.

    Each URL is stripped of anything a header cannot hold; an empty one is left out.
    """
    links = message.unsubscribe
    if links is None:
        return ""
    urls = [header_text(u, 2000) for u in (links.https, links.mailto) if u]
    return ", ".join(f"<{u}>" for u in urls if "<" not in u and ">" not in u)


def render_ics(message: Message) -> bytes:
    """Return the event as a plain importable calendar (no METHOD), via feeds.ical."""
    return to_ical([message.event], FeedOptions(name="lfx-cal reminder", zone=message.zone))


def render_base(message: Message, sender: Address, now: dt.datetime | None = None) -> bytes:
    """Serialize the part of the e-mail every recipient shares (CRLF line endings).

    *now* is an aware datetime for the Date header (default: the current time).
    """
    when = now or dt.datetime.now(dt.UTC)
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["Subject"] = subject_header(message.title)
    mail["Date"] = format_datetime(when.astimezone(dt.UTC), usegmt=True)
    mail["Auto-Submitted"] = "auto-generated"
    if message.unsubscribe is not None:
        mail["List-Unsubscribe"] = list_unsubscribe(message)
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(render_text(message), cte="quoted-printable")
    mail.add_alternative(render_html(message), subtype="html", cte="quoted-printable")
    mail.add_attachment(
        render_ics(message), maintype="text", subtype="calendar", filename="event.ics"
    )
    return mail.as_bytes()


def for_recipient(base: bytes, recipient: Address, msgid: str) -> bytes:
    """Prefix *base* with this recipient's ``To`` and ``Message-ID`` headers."""
    plain = str(recipient)
    if plain.isascii() and len(plain) < 900 and msgid.isascii():  # common case: no folding
        return f"To: {plain}\r\nMessage-ID: {msgid}\r\n".encode("ascii") + base
    to = SMTP.header_factory("To", recipient)
    mid = SMTP.header_factory("Message-ID", msgid)
    head = str(to.fold(policy=SMTP)) + str(mid.fold(policy=SMTP))
    return head.encode("ascii") + base


def plain_mail(sender: Address, recipient: Address, subject: str, text: str, msgid: str) -> bytes:
    """A short plain-text mail (a sign-up confirmation): sanitized headers, CRLF endings."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = subject_header(subject)
    mail["Date"] = format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
    mail["Message-ID"] = msgid
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text, cte="quoted-printable")
    return mail.as_bytes()
