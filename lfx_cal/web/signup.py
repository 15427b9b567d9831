"""Self-service e-mail sign-up: the form, double opt-in, the manage page, one-click unsubscribe.

Off unless ``[service] signup = true``. The rows live in
:mod:`scheduler.subscribers`; this module is the web side.

Decisions:

* **Double opt-in.** ``POST /signup`` only records a pending row and mails a
  link with a signed, expiring token. ``GET /confirm`` shows a button and
  changes nothing (mail gateways fetch links to scan them); only ``POST
  /confirm`` confirms, and a confirmation token works once.
* **No enumeration.** Every accepted sign-up gets the same page, whether the
  address is new, pending or confirmed (a confirmed address is mailed its
  manage link and its choices are left alone), or over its mail limit. Mails
  are sent by a worker after the answer, so the answer's timing says nothing
  either. Refusals (a client over its hourly limit, the cap on pending rows,
  a bad form) are about the request, never about the address.
* **CSRF.** Every form POST needs one proof that it comes from this site:
  ``Sec-Fetch-Site: same-origin`` (Fetch Metadata, sent by current browsers
  even under ``Referrer-Policy: no-referrer``, which makes ``Origin`` null), an
  ``Origin`` that is the public URL's or the request's own, or a double-submit
  token (the hidden ``csrf`` field equal to the ``SameSite=Strict; HttpOnly``
  cookie set by the page that showed the form). ``Sec-Fetch-Site`` saying
  anything else refuses the request outright. The RFC 8058 one-click POST
  (``/unsubscribe``) comes from a mail provider with no cookie and no origin:
  the manage token in its URL is its proof, and it can only remove.
* **Privacy.** Addresses never reach ``/metrics``, ``/healthz``, the public
  JSON or logs at INFO (warnings about mail say the SMTP code, not the
  recipient). The per-client limit keys on the peer address in memory only.
* **Zone.** The form works without JavaScript (the program zone is filled in,
  editable); a small script, pinned by hash in the CSP, puts the viewer's zone
  in instead.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import hmac
import logging
import secrets
import smtplib
import time
from collections.abc import Awaitable, Callable, Sequence
from html import escape
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiMapping

from feeds.categories import ROLES
from feeds.zones import valid_zone
from lfx_cal.web.signup_form import (
    MAX_ADDRESS,
    SCRIPT_SOURCE,
    SignupForm,
    choice_fields,
    csp_hash,
    lead_text,
    signup_section,
)
from notifiers.errors import DeliveryError
from notifiers.mailbuild import message_id, parse_address, plain_mail
from notifiers.smtp import EmailNotifier
from notifiers.workers import Workers
from scheduler.config import Service
from scheduler.snapshot import Snapshot
from scheduler.subscribers import (
    Full,
    Links,
    Mail,
    MailKind,
    Prefs,
    Purpose,
    Signer,
    Subscribers,
    TokenError,
)

log = logging.getLogger("lfx_cal.signup")
CSRF_COOKIE = "lfx_csrf"
MAX_FORM = 4096
"""Largest form body read, in bytes."""
STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    "fieldset{border:1px solid #ccc;margin:0 0 1rem}label{display:block;margin:.3rem 0}"
    "button{font:inherit;padding:.4rem 1rem}"
)


PAGE_CSP = (
    f"default-src 'none'; script-src {SCRIPT_SOURCE}; style-src {csp_hash(STYLE)}; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _page(
    title: str, body: str, *, status: int = 200, csrf: str = "", secure: bool = False
) -> web.Response:
    """One of the sign-up pages; with *csrf* it also sets the double-submit cookie."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f'<h1>{escape(title)}</h1>{body}<p><a href="/">Back to the deadlines</a></p>'
        "</main></body></html>"  # a main landmark: screen readers jump to it (axe)
    )
    response = web.Response(
        status=status,
        text=html,
        content_type="text/html",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
    if csrf:
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=86400,
            secure=secure,
        )
    return response


# -- limits and checks --------------------------------------------------------------------


class Limiter:
    """At most *per_hour* events per key in any hour; at most *keys* keys remembered."""

    def __init__(self, per_hour: int, keys: int = 10_000) -> None:
        self.per_hour = per_hour
        self.keys = keys
        self._seen: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for *key*; False when it is over the limit (not counted then)."""
        now = time.monotonic() if now is None else now
        times = self._seen.pop(key, None) or collections.deque()
        while times and times[0] <= now - 3600:
            times.popleft()
        self._seen[key] = times
        while len(self._seen) > self.keys:
            self._seen.popitem(last=False)
        if len(times) >= self.per_hour:
            return False
        times.append(now)
        return True


class FormError(ValueError):
    """A form field with a value the service cannot use; the message says which and why."""


def origins_of(request: web.Request, public_url: str | None) -> set[str]:
    """The origins a form of this site is posted from: the public URL's and the request's."""
    found = {f"{request.scheme}://{request.host}"}
    if public_url:
        parts = urlsplit(public_url)
        found.add(f"{parts.scheme}://{parts.netloc}")
    return found


def csrf_ok(request: web.Request, form: MultiMapping[Any], public_url: str | None) -> bool:
    """True when a form POST proves it comes from this site (see the module docstring)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return origin in origins_of(request, public_url)
    cookie, field = request.cookies.get(CSRF_COOKIE, ""), str(form.get("csrf", ""))
    return bool(cookie) and hmac.compare_digest(cookie.encode(), field.encode())


def read_prefs(form: MultiMapping[Any], allowed: Sequence[dt.timedelta], terms: set[str]) -> Prefs:
    """The choices of a sign-up or manage form; raises FormError naming the bad field."""
    from feeds.durations import parse_duration
    from feeds.errors import DurationError

    role = str(form.get("role", "")) or None
    if role is not None and role not in ROLES:
        raise FormError(f"role: {role[:40]!r} is not one of: everything, {', '.join(ROLES)}")
    leads: list[dt.timedelta] = []
    for text in form.getall("lead", []):
        try:
            lead = parse_duration(str(text)[:20])
        except DurationError:
            lead = None
        if lead not in allowed:
            choices = ", ".join(lead_text(a) for a in allowed)
            raise FormError(f"lead: {str(text)[:20]!r} is not offered (choose from {choices})")
        if lead is not None and lead not in leads:
            leads.append(lead)
    if not leads:
        raise FormError("lead: choose at least one lead time")
    zone = str(form.get("zone", "")).strip()
    if not valid_zone(zone):
        raise FormError(f"zone: {zone[:64]!r} is not a time zone (e.g. Europe/Berlin)")
    term = str(form.get("term", "")) or None
    if term is not None and term not in terms:
        raise FormError(f"term: {term[:40]!r} is not a term on this page")
    return Prefs(role, tuple(sorted(leads, reverse=True)), zone, term)


# -- the site -----------------------------------------------------------------------------


class SignupSite:
    """The sign-up routes; *publish* hands the confirmed subscribers to the daemon."""

    def __init__(
        self,
        service: Service,
        rows: Subscribers,
        mailer: EmailNotifier,
        secret: str,
        *,
        reload: Callable[[], Awaitable[None]],
        snapshot: Callable[[], Snapshot],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.service = service
        self.rows = rows
        self.mailer = mailer
        self.signer = Signer(secret)
        base = (service.public_url or f"http://{service.listen}/").rstrip("/")
        sender = parse_address(mailer.settings.sender)
        self.sender = sender
        self.links = Links(base, self.signer, sender.addr_spec)
        self.reload = reload
        self.snapshot = snapshot
        self.clock = clock
        self.form = SignupForm(service.signup_leads, service.timezone)
        self.secure = base.startswith("https://")
        """Cookies are ``Secure`` when the public address is https."""
        self.limiter = Limiter(service.signup_per_ip)
        self.outbox = Workers("signup-mail", 1)
        self._sending: set[asyncio.Future[None]] = set()

    def add_routes(self, app: web.Application) -> None:
        """Attach ``/signup``, ``/confirm``, ``/manage`` and ``/unsubscribe``."""
        app.router.add_get("/signup", self.get_signup)
        app.router.add_post("/signup", self.post_signup)
        app.router.add_get("/confirm", self.get_confirm)
        app.router.add_post("/confirm", self.post_confirm)
        app.router.add_get("/manage", self.get_manage)
        app.router.add_post("/manage", self.post_manage)
        app.router.add_get("/unsubscribe", self.get_unsubscribe)
        app.router.add_post("/unsubscribe", self.post_unsubscribe)

    def _terms(self) -> set[str]:
        return {t.term.id for t in self.snapshot().timelines}

    async def _form(self, request: web.Request) -> MultiMapping[Any] | None:
        if request.content_length is not None and request.content_length > MAX_FORM:
            return None
        try:
            return await request.post()
        except (ValueError, web.HTTPException):
            return None

    def _limited(self, request: web.Request) -> bool:
        return not self.limiter.allow(request.remote or "?")

    def _refused(self) -> web.Response:
        return _page(
            "Request refused",
            "<p>This form must be sent from this site's own page. Reload the page and try "
            "again.</p>",
            status=403,
        )

    # -- sign-up ------------------------------------------------------------------------
    async def get_signup(self, request: web.Request) -> web.Response:
        """``GET /signup``: the form on a page of its own, with a double-submit token."""
        csrf = secrets.token_urlsafe(24)
        section = signup_section(self.form, self.snapshot(), csrf=csrf)
        return _page("E-mail reminders", section, csrf=csrf, secure=self.secure)

    async def post_signup(self, request: web.Request) -> web.Response:
        """``POST /signup``: record a pending sign-up and mail the link; one answer for all."""
        form = await self._form(request)
        if form is None:
            return _page("Request refused", "<p>The form could not be read.</p>", status=400)
        if not csrf_ok(request, form, self.service.public_url):
            return self._refused()
        if self._limited(request):
            return _page(
                "Too many requests",
                "<p>Too many sign-ups from your network in the last hour. Try again later.</p>",
                status=429,
            )
        try:
            address = str(form.get("email", "")).strip()
            problem = f"email: {address[:80]!r} is not an address like you@example.org"
            if len(address) > MAX_ADDRESS or "<" in address or "@" not in address:
                raise FormError(problem)
            try:
                parse_address(address)
            except ValueError:
                raise FormError(problem) from None
            prefs = read_prefs(form, self.form.leads, self._terms())
        except FormError as error:
            return _page("Please check the form", f"<p>{escape(str(error))}</p>", status=400)
        service, now = self.service, self.clock()
        try:
            mail, expires = await asyncio.to_thread(
                self.rows.request,
                address,
                prefs,
                now,
                ttl=service.signup_confirm_ttl,
                max_pending=service.signup_max_pending,
                per_address=service.signup_per_address,
            )
        except Full:
            log.warning("sign-up refused: %d unconfirmed sign-ups", service.signup_max_pending)
            return _page(
                "Try again later",
                "<p>Too many sign-ups are waiting for confirmation. Try again later.</p>",
                status=503,
            )
        if mail is not None:
            self._queue(mail, expires)
        hours = round(service.signup_confirm_ttl.total_seconds() / 3600)
        return _page(
            "Check your inbox",
            "<p>If that address can receive mail, a message with a confirmation link is on "
            f"its way. The link works for {hours} hours; nothing is sent until you confirm.</p>",
        )

    def _queue(self, mail: Mail, expires: dt.datetime) -> None:
        future = asyncio.wrap_future(self.outbox.submit(self._send, mail, expires))
        self._sending.add(future)
        future.add_done_callback(self._sending.discard)

    async def drain(self, timeout: float) -> None:
        """Wait up to *timeout* seconds for queued confirmation mails (shutdown, tests)."""
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=timeout)

    def _send(self, mail: Mail, expires: dt.datetime) -> None:
        """Send one confirmation (or "already subscribed") mail; runs in the outbox thread."""
        base = self.links.base_url
        if mail.kind is MailKind.CONFIRM:
            token = self.signer.make(Purpose.CONFIRM, mail.subscriber, mail.nonce, expires)
            subject = "Confirm your LFX Mentorship deadline reminders"
            text = (
                "Someone (we hope you) asked for LFX Mentorship deadline reminders at this "
                "address.\n\nTo confirm, open this link and press the button:\n"
                f"{base}/confirm?t={token}\n\nThe link works until "
                f"{expires:%Y-%m-%d %H:%M} UTC. If it was not you, ignore this mail: "
                "nothing will be sent and the request is deleted when the link expires.\n"
            )
        else:
            token = self.signer.make(Purpose.MANAGE, mail.subscriber, mail.nonce)
            subject = "Your LFX Mentorship deadline reminders"
            text = (
                "Someone asked to subscribe this address, which already gets LFX Mentorship "
                "deadline reminders. Nothing was changed.\n\nTo change what you get or to "
                f"unsubscribe:\n{base}/manage?t={token}\n"
            )
        try:
            recipient = parse_address(mail.address)
            domain = self.mailer.settings.message_id_domain
            msgid = message_id(f"signup/{mail.subscriber}/{mail.nonce}", mail.address, domain)
            data = plain_mail(self.sender, recipient, subject, text, msgid)
            conn = self.mailer.connect()
            try:
                conn.sendmail(self.sender.addr_spec, [recipient.addr_spec], data)
            finally:
                try:
                    conn.quit()
                except (OSError, smtplib.SMTPException):
                    conn.close()
        except smtplib.SMTPResponseException as error:
            log.warning("sign-up mail not sent: SMTP %s", error.smtp_code)
        except (DeliveryError, OSError, smtplib.SMTPException, ValueError) as error:
            log.warning("sign-up mail not sent: %s", type(error).__name__)
        else:
            log.info("sign-up mail sent (%s)", mail.kind)
            log.debug("sign-up mail sent to %s", mail.address)

    # -- confirm ------------------------------------------------------------------------
    def _gone(self) -> web.Response:
        return _page(
            "This link no longer works",
            "<p>The link has expired or was already used. You can sign up again on the "
            '<a href="/#signup">home page</a>.</p>',
            status=410,
        )

    async def get_confirm(self, request: web.Request) -> web.Response:
        """``GET /confirm?t=``: a button that confirms; opening the link changes nothing."""
        token = request.query.get("t", "")
        try:
            ident, nonce = self.signer.read(Purpose.CONFIRM, token, self.clock())
        except TokenError:
            return self._gone()
        if await asyncio.to_thread(self.rows.pending, ident, nonce) is None:
            return self._gone()
        csrf = secrets.token_urlsafe(24)
        body = (
            "<p>Press the button to start getting deadline reminders.</p>"
            '<form method="post" action="/confirm">'
            f'<input type="hidden" name="t" value="{escape(token)}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            '<button type="submit" id="confirm">Confirm my subscription</button></form>'
        )
        return _page("Confirm your reminders", body, csrf=csrf, secure=self.secure)

    async def post_confirm(self, request: web.Request) -> web.Response:
        """``POST /confirm``: confirm once, then the manage link."""
        form = await self._form(request)
        if form is None or not csrf_ok(request, form, self.service.public_url):
            return self._refused()
        try:
            ident, nonce = self.signer.read(Purpose.CONFIRM, str(form.get("t", "")), self.clock())
        except TokenError:
            return self._gone()
        row = await asyncio.to_thread(self.rows.confirm, ident, nonce, self.clock())
        if row is None:
            return self._gone()
        await self.reload()
        log.info("sign-up confirmed (subscriber %d)", row.id)
        manage = self.links.unsubscribe(row).manage
        return _page(
            "You are subscribed",
            "<p>Reminders will come by e-mail. Each one has a link to change what you get or "
            f'to unsubscribe; you can also <a href="{escape(manage)}">do that now</a>.</p>',
        )

    # -- manage and unsubscribe ---------------------------------------------------------
    async def _managed(self, token: str) -> Any:
        try:
            ident, nonce = self.signer.read(Purpose.MANAGE, token, self.clock())
        except TokenError:
            return None
        return await asyncio.to_thread(self.rows.managed, ident, nonce)

    async def get_manage(self, request: web.Request) -> web.Response:
        """``GET /manage?t=``: change role, leads, zone, term; or unsubscribe."""
        token = request.query.get("t", "")
        row = await self._managed(token)
        if row is None:
            return self._gone()
        csrf = secrets.token_urlsafe(24)
        hidden = (
            f'<input type="hidden" name="t" value="{escape(token)}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        )
        terms = sorted(self._terms() | ({row.prefs.term} if row.prefs.term else set()))
        body = (
            '<form method="post" action="/manage" id="manage-form">'
            f"{choice_fields(self.form, terms, row.prefs)}{hidden}"
            '<button type="submit">Save</button></form>'
            '<h2 id="unsubscribe">Unsubscribe</h2>'
            '<form method="post" action="/unsubscribe">'
            f'{hidden}<button type="submit" id="unsubscribe-button">Unsubscribe</button></form>'
        )
        return _page("Your reminders", body, csrf=csrf, secure=self.secure)

    async def post_manage(self, request: web.Request) -> web.Response:
        """``POST /manage``: save new choices (pending reminders for old ones are dropped)."""
        form = await self._form(request)
        if form is None or not csrf_ok(request, form, self.service.public_url):
            return self._refused()
        if self._limited(request):
            return _page("Too many requests", "<p>Try again later.</p>", status=429)
        row = await self._managed(str(form.get("t", "")))
        if row is None:
            return self._gone()
        terms = self._terms() | ({row.prefs.term} if row.prefs.term else set())
        try:
            prefs = read_prefs(form, self.form.leads, terms)
        except FormError as error:
            return _page("Please check the form", f"<p>{escape(str(error))}</p>", status=400)
        _, nonce = self.signer.read(Purpose.MANAGE, str(form.get("t", "")), self.clock())
        done = await asyncio.to_thread(self.rows.change, row.id, nonce, prefs, self.clock())
        if not done:
            return self._gone()
        await self.reload()
        return _page("Saved", "<p>Your choices are saved.</p>")

    async def get_unsubscribe(self, request: web.Request) -> web.Response:
        """``GET /unsubscribe?t=`` (a client that opens the link): a button; nothing changes."""
        token = request.query.get("t", "")
        if await self._managed(token) is None:
            return self._gone()
        body = (
            '<form method="post" action="/unsubscribe">'
            f'<input type="hidden" name="t" value="{escape(token)}">'
            '<button type="submit" id="unsubscribe-button">Unsubscribe</button></form>'
        )
        return _page("Unsubscribe from deadline reminders", body)

    async def post_unsubscribe(self, request: web.Request) -> web.Response:
        """``POST /unsubscribe``: RFC 8058 one-click (token in the URL) or the manage form.

        The row and its pending deliveries are deleted at once. A valid token
        whose row is already gone gets the same answer (unsubscribing twice is fine).
        """
        form = await self._form(request)
        token = request.query.get("t") or (str(form.get("t", "")) if form is not None else "")
        try:
            ident, nonce = self.signer.read(Purpose.MANAGE, token, self.clock())
        except TokenError:
            return _page("This link does not work", "<p>The link is not valid.</p>", status=400)
        removed = await asyncio.to_thread(self.rows.unsubscribe, ident, nonce)
        if removed:
            await self.reload()
            log.info("unsubscribed (subscriber %d)", ident)
        return _page(
            "You are unsubscribed",
            "<p>No more reminders will be sent, and your address is deleted.</p>",
        )
