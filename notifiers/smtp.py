"""E-mail backend (registered as ``email``): SMTP with verified TLS, timeouts and batches.

``security`` is ``starttls`` (default, port 587), ``ssl`` (implicit TLS, port
465) or ``none`` (port 25, no AUTH allowed). TLS certificates are always
verified with :func:`ssl.create_default_context` — from ``ca_file`` alone when it
is set, so a self-signed server is refused unless its CA is trusted explicitly.
Every connection has ``timeout``. The AUTH password is read from the variable
named by ``password_env``.

:meth:`EmailNotifier.send_many` renders the message once, sends it to every
recipient over one connection, reconnects when the server drops it (retrying
that recipient up to ``reconnects`` times), and returns one
:class:`~notifiers.base.Outcome` per recipient. Replies 4xx are
:class:`TransientError`, 5xx :class:`PermanentError`. The Message-ID is derived
from the delivery key and the recipient, so a resend carries the same ID.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from typing import Self

from notifiers.base import Notifier, Outcome, Receipt, delivery_key
from notifiers.errors import ConfigError, DeliveryError, PermanentError, TransientError
from notifiers.mailbuild import for_recipient, message_id, parse_address, render_base
from notifiers.message import Message
from notifiers.settings import EmailSettings


class _Dropped(Exception):
    """The connection is gone (closed, reset, timed out or 421): reconnect and retry."""


def _reply_error(code: int, reply: bytes | str, what: str, target: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    detail = f"SMTP {code} {text}".strip()
    if 400 <= code < 500:
        return TransientError(
            f"{what} deferred for {target} ({detail}); retry later",
            backend="email",
            target=target,
            detail=detail,
        )
    return PermanentError(
        f"{what} rejected for {target} ({detail})", backend="email", target=target, detail=detail
    )


class EmailNotifier(Notifier):
    """Sends e-mail over SMTP; see the module docstring. Thread-safe (one batch at a time)."""

    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._sender = parse_address(settings.sender)
        try:
            self._context = ssl.create_default_context(cafile=settings.ca_file or None)
        except (ssl.SSLError, OSError) as error:
            raise ConfigError(
                "ca_file",
                f"cannot load {settings.ca_file!r}: {error}",
                "give a PEM file of CA certificates",
                backend="email",
            ) from error
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmailNotifier({self.settings!r})"

    @classmethod
    def from_config(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Self:
        """Build from a ``[notifiers.email]`` table."""
        return cls(EmailSettings.from_dict(table, environ))

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Send one e-mail; raises TransientError / PermanentError on failure."""
        outcome = self.send_many(message, [target], key=key)[0]
        if outcome.error is not None:
            raise outcome.error
        assert outcome.receipt is not None
        return outcome.receipt

    def send_many(
        self, message: Message, targets: Sequence[str], *, key: str | None = None
    ) -> list[Outcome]:
        """Send to every target over one connection; one outcome per target, in order."""
        key = key or delivery_key(message)
        try:
            base = render_base(message, self._sender)
        except (ValueError, TypeError) as error:  # a message the email package cannot build
            failure = f"message could not be built ({error}); not sent"
            return [
                Outcome(t, error=PermanentError(failure, backend="email", target=t, detail=""))
                for t in targets
            ]
        with self._lock:
            return _Batch(self, base, key).run(targets)

    def connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate a connection; errors say what to fix."""
        s = self.settings
        where = f"{s.host}:{s.port}"
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    conn.starttls(context=self._context)
            if s.username:
                conn.login(s.username, s.password)
            conn.ehlo_or_helo_if_needed()
            return conn
        except ssl.SSLCertVerificationError as error:
            fix = "set ca_file to the CA that signed it" if not s.ca_file else "check ca_file"
            raise self._fail(
                conn,
                PermanentError,
                f"{where}: TLS certificate refused ({error.verify_message}); {fix}",
                str(error),
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise self._fail(
                conn,
                PermanentError,
                f'{where} does not offer STARTTLS; use security = "ssl" or another server',
                str(error),
            ) from error
        except smtplib.SMTPResponseException as error:
            err = _reply_error(
                error.smtp_code, error.smtp_error, "login" if s.username else "connection", where
            )
            self._fail(conn, PermanentError, "", "")
            raise err from error
        except ssl.SSLError as error:
            raise self._fail(
                conn,
                PermanentError,
                f"{where}: TLS failed ({error}); check security and port",
                str(error),
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise self._fail(
                conn, TransientError, f"{where} unreachable ({error!r}); retry later", str(error)
            ) from error

    def _fail(
        self, conn: smtplib.SMTP | None, kind: type[DeliveryError], text: str, detail: str
    ) -> DeliveryError:
        if conn is not None:
            conn.close()
        return kind(text, backend="email", target=self.settings.host, detail=detail)


class _Batch:
    """One run of :meth:`EmailNotifier.send_many`: a connection and per-target outcomes."""

    def __init__(self, notifier: EmailNotifier, base: bytes, key: str) -> None:
        self.notifier = notifier
        self.base = base
        self.key = key
        self.conn: smtplib.SMTP | None = None
        self.sent_on_conn = 0

    def run(self, targets: Sequence[str]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            for index, target in enumerate(targets):
                try:
                    outcomes.append(Outcome(target, receipt=self.one(target)))
                except _Fatal as fatal:  # cannot connect: the rest fail the same way
                    rest = targets[index:]
                    outcomes.extend(Outcome(t, error=_retarget(fatal.error, t)) for t in rest)
                    break
                except DeliveryError as error:
                    outcomes.append(Outcome(target, error=error))
        finally:
            self.quit()
        return outcomes

    def one(self, target: str) -> Receipt:
        try:
            address = parse_address(target)
        except ValueError as error:
            raise PermanentError(
                f"bad recipient: {error}", backend="email", target=target, detail="not sent"
            ) from None
        s = self.notifier.settings
        msgid = message_id(self.key, address.addr_spec, s.message_id_domain)
        data = for_recipient(self.base, address, msgid)
        for attempt in range(s.reconnects + 1):
            if self.conn is None or (
                s.max_per_connection and self.sent_on_conn >= s.max_per_connection
            ):
                self.quit()
                try:
                    self.conn = self.notifier.connect()
                except DeliveryError as error:
                    raise _Fatal(error) from error
                self.sent_on_conn = 0
            try:
                code, reply = self.transaction(self.conn, address, data)
            except _Dropped as dropped:
                self.drop()
                if attempt == s.reconnects:
                    raise TransientError(
                        f"connection lost while sending to {target} ({dropped}); retry later",
                        backend="email",
                        target=target,
                        detail=str(dropped),
                    ) from None
                continue
            self.sent_on_conn += 1
            return Receipt("email", address.addr_spec, msgid, f"SMTP {code} {reply}")
        raise AssertionError("unreachable")

    def transaction(self, conn: smtplib.SMTP, address: Address, data: bytes) -> tuple[int, str]:
        """MAIL, RCPT, DATA; return the final reply; raise _Dropped or DeliveryError."""
        target = address.addr_spec
        try:
            for verb, arg in (("MAIL", self.notifier._sender.addr_spec), ("RCPT", target)):
                code, reply = conn.mail(arg) if verb == "MAIL" else conn.rcpt(arg)
                if code == 421:
                    raise _Dropped(f"SMTP 421 {reply.decode('utf-8', 'replace')}")
                if code not in (250, 251):
                    conn.rset()
                    raise _reply_error(
                        code, reply, "sender" if verb == "MAIL" else "recipient", target
                    )
            final: tuple[int, bytes | str]
            try:
                final = conn.data(data)
            except smtplib.SMTPDataError as error:
                conn.rset()
                final = (error.smtp_code, error.smtp_error)
            code, answer = final
            text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
            if code == 421:
                raise _Dropped(f"SMTP 421 {text}")
            if code != 250:
                raise _reply_error(code, answer, "message", target)
            return code, text
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise _Dropped(repr(error)) from error

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def quit(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.conn.quit()
            self.drop()


class _Fatal(Exception):
    def __init__(self, error: DeliveryError) -> None:
        super().__init__(str(error))
        self.error = error


def _retarget(error: DeliveryError, target: str) -> DeliveryError:
    if isinstance(error, TransientError):
        return TransientError(str(error), backend="email", target=target, detail=error.detail)
    return type(error)(str(error), backend="email", target=target, detail=error.detail)
