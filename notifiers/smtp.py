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

Between calls a connection stays open for up to :data:`IDLE_REUSE` seconds and
is reused, so a daemon that sends one reminder per recipient in quick
succession (a fan-out) does not pay a TCP and TLS handshake and an AUTH per
message. :meth:`EmailNotifier.close` quits the idle ones.

Up to ``connections`` sends run side by side (default 4), each on its own
connection taken from the idle ones or opened: one connection spends most of
its time waiting for the server's replies, so a few of them multiply the rate
a relay accepts (the scheduler sends a fan-out's messages as that many
parallel lanes; see :attr:`EmailNotifier.parallel`). Of those, at most
``in_flight`` (default 2) go past the end of DATA before their outcomes are on
record (:attr:`EmailNotifier.in_flight`): the others overlap their MAIL, RCPT
and DATA round trips meanwhile, which deliver nothing if the process dies. A server that stops
answering holds at most ``connections`` threads of this backend, each until
``timeout``. The lock guards only the idle list and the render cache, never a
network call.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Self

from notifiers.base import Notifier, Outcome, Receipt, delivery_key
from notifiers.errors import ConfigError, DeliveryError, PermanentError, TransientError
from notifiers.mailbuild import parse_address, render_base
from notifiers.message import Message
from notifiers.settings import EmailSettings
from notifiers.smtp_batch import Batch, quit_quietly, reply_error

IDLE_REUSE = 30.0
"""Seconds an idle connection is kept for the next send (servers allow at least 5 minutes)."""
RENDERED = 8
"""Rendered messages kept for the next sends (a fan-out sends one message many times)."""


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
        self._idle: list[tuple[smtplib.SMTP, float, int]] = []  # conn, parked at, sent on it
        self._rendered: dict[Message, bytes] = {}

    @property
    def parallel(self) -> int:
        """Sends at once: one per connection (``connections``)."""
        return self.settings.connections

    @property
    def in_flight(self) -> int:
        """Messages at once past the end of DATA (``in_flight``, at most ``connections``)."""
        return min(self.settings.in_flight, self.settings.connections)

    def lane(self, target: str) -> str | None:
        """Any recipient may go over any connection: no lane of its own."""
        return None

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

    def send_after(
        self,
        ready: Callable[[], None],
        message: Message,
        target: str,
        *,
        key: str | None = None,
    ) -> Receipt:
        """:meth:`send`, calling *ready* just before the end of DATA (see the base class)."""
        outcome = self._send_many(message, [target], key, ready)[0]
        if outcome.error is not None:
            raise outcome.error
        assert outcome.receipt is not None
        return outcome.receipt

    def send_many(
        self, message: Message, targets: Sequence[str], *, key: str | None = None
    ) -> list[Outcome]:
        """Send to every target over one connection; one outcome per target, in order."""
        return self._send_many(message, targets, key, None)

    def _send_many(
        self,
        message: Message,
        targets: Sequence[str],
        key: str | None,
        ready: Callable[[], None] | None,
    ) -> list[Outcome]:
        key = key or delivery_key(message)
        try:
            base = self._render(message)
        except (ValueError, TypeError) as error:  # a message the email package cannot build
            failure = f"message could not be built ({error}); not sent"
            return [
                Outcome(t, error=PermanentError(failure, backend="email", target=t, detail=""))
                for t in targets
            ]
        return Batch(self, base, key, ready).run(targets)

    def _render(self, message: Message) -> bytes:
        """The message's bytes without recipient headers, from a small cache.

        A fan-out sends one message to each recipient in turn; rendering the
        MIME tree (text, HTML and an .ics) is most of the cost of a send.
        """
        with self._lock:
            base = self._rendered.get(message)
        if base is None:
            base = render_base(message, self._sender)
            with self._lock:
                if len(self._rendered) >= RENDERED:
                    del self._rendered[next(iter(self._rendered))]
                self._rendered[message] = base
        return base

    def close(self) -> None:
        """Quit the idle connections, if any; the next send connects again.

        A batch that is running (perhaps stuck on a server that stopped
        answering) holds its connection, not an idle one: close never waits for it.
        """
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            idle, self._idle = self._idle, []
        finally:
            self._lock.release()
        for conn, _, _ in idle:
            quit_quietly(conn)

    def _reuse(self) -> tuple[smtplib.SMTP | None, int]:
        """A connection parked recently (the latest first) and its message count.

        It is not probed: if the server closed it meanwhile, the next MAIL fails
        before anything is sent, and the batch reconnects without counting that
        against ``reconnects``. One that reached ``max_per_connection`` is
        replaced by the batch like any other. Stale ones are quit.
        """
        stale: list[smtplib.SMTP] = []
        found: tuple[smtplib.SMTP | None, int] = (None, 0)
        with self._lock:
            while self._idle:
                conn, parked, sent = self._idle.pop()
                if time.monotonic() - parked <= IDLE_REUSE:
                    found = (conn, sent)
                    break
                stale.append(conn)
        for conn in stale:
            quit_quietly(conn)
        return found

    def _park(self, conn: smtplib.SMTP, sent: int) -> None:
        extra: smtplib.SMTP | None = None
        with self._lock:
            self._idle.append((conn, time.monotonic(), sent))
            if len(self._idle) > self.settings.connections:
                extra = self._idle.pop(0)[0]
        if extra is not None:
            quit_quietly(extra)

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
            err = reply_error(
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
