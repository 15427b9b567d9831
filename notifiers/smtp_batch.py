"""One :meth:`~notifiers.smtp.EmailNotifier.send_many` run: a connection, per-recipient outcomes.

Kept apart from the notifier so each stays small: the notifier owns settings,
TLS and the idle connections; a batch owns one pass over the recipients, on a
connection of its own (several batches may run at once, up to ``connections``).

A connection that drops *before* the message body went out (at MAIL, RCPT or
the DATA command) is reconnected and the recipient retried: nothing was
delivered. One that drops *after* the body went out but before the server's
final reply is different: the server may have accepted the message, so it is
not sent again within the batch (that is how three recipients once got nine
copies); that recipient gets a :class:`TransientError` saying so, the batch
goes on with the next one, and only that unacknowledged message may be sent
once more by a later retry.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Callable, Sequence
from email.headerregistry import Address
from typing import Protocol

from notifiers.base import Outcome, Receipt
from notifiers.errors import DeliveryError, PermanentError, TransientError
from notifiers.mailbuild import PLAIN_SPEC, for_recipient, message_id, parse_address
from notifiers.settings import EmailSettings


class Connections(Protocol):
    """What a batch needs from its notifier (:class:`~notifiers.smtp.EmailNotifier`).

    Declared here so this module never imports the notifier: calls go one way.
    """

    settings: EmailSettings
    _sender: Address

    def _reuse(self) -> tuple[smtplib.SMTP | None, int]: ...

    def _park(self, conn: smtplib.SMTP, sent: int) -> None: ...

    def connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate a new connection."""
        ...


class Dropped(Exception):
    """The connection is gone (closed, reset, timed out or 421): reconnect and retry."""


class Unacknowledged(Dropped):
    """The connection was lost after the message body was sent: it may have been delivered."""


_DOTS = re.compile(rb"(?m)^\.")


def reply_error(code: int, reply: bytes | str, what: str, target: str) -> DeliveryError:
    """The error for an SMTP reply: 4xx is transient, anything else permanent."""
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


class Batch:
    """One run of :meth:`EmailNotifier.send_many`: a connection and per-target outcomes."""

    def __init__(
        self,
        notifier: Connections,
        base: bytes,
        key: str,
        ready: Callable[[], None] | None = None,
    ) -> None:
        self.notifier = notifier
        self.base = base
        self.key = key
        self.ready = ready
        """Called before each message body goes out (see ``Notifier.send_after``)."""
        self.conn, self.sent_on_conn = notifier._reuse()
        self.reused = self.conn is not None  # the server may have closed it since

    def run(self, targets: Sequence[str]) -> list[Outcome]:
        """Send to every target; park the connection for reuse if all went cleanly."""
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
        except BaseException:  # mid-transaction, perhaps: never hand this connection on
            self.quit()
            raise
        if self.conn is not None:
            self.notifier._park(self.conn, self.sent_on_conn)
        return outcomes

    def one(self, target: str) -> Receipt:
        """Send to one target, reconnecting up to ``reconnects`` times if dropped."""
        try:
            address = parse_address(target)
        except ValueError as error:
            raise PermanentError(
                f"bad recipient: {error}", backend="email", target=target, detail="not sent"
            ) from None
        s = self.notifier.settings
        msgid = message_id(self.key, address.addr_spec, s.message_id_domain)
        data = for_recipient(self.base, address, msgid)
        spare = int(self.reused)  # a drop of a parked connection costs no reconnect
        self.reused = False
        for attempt in range(s.reconnects + 1 + spare):
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
            except Unacknowledged as lost:
                self.drop()
                raise TransientError(
                    f"connection lost after the message to {target} was sent ({lost}); it may"
                    " have been delivered, so it is not re-sent now; retry later",
                    backend="email",
                    target=target,
                    detail=str(lost),
                ) from None
            except Dropped as dropped:
                self.drop()
                if attempt == s.reconnects + spare:
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
        """MAIL, RCPT, DATA; return the final reply; raise Dropped or DeliveryError.

        :attr:`ready` is called between the DATA command's 354 and the body,
        outside the handling of connection errors: whatever it raises (even an
        ``OSError`` such as a ``TimeoutError``) is the caller's, not the server's.
        """
        target = address.addr_spec
        try:
            self.envelope(conn, target)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise Dropped(repr(error)) from error
        payload = _DOTS.sub(b"..", data)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        if self.ready is not None:
            self.ready()
        try:
            conn.send(payload + b".\r\n")
            code, answer = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise Unacknowledged(repr(error)) from error
        text = answer.decode("utf-8", "replace")
        if code == 421:  # refused, and the server is closing: nothing was delivered
            raise Dropped(f"SMTP 421 {text}")
        if code != 250:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.rset()
            raise reply_error(code, answer, "message", target)
        return code, text

    def envelope(self, conn: smtplib.SMTP, target: str) -> None:
        """MAIL FROM, RCPT TO and DATA up to the server's 354; raise Dropped or DeliveryError."""
        for verb, arg in (("MAIL", self.notifier._sender.addr_spec), ("RCPT", target)):
            code, reply = _envelope(conn, verb, arg)
            if code == 421:
                raise Dropped(f"SMTP 421 {reply.decode('utf-8', 'replace')}")
            if code not in (250, 251):
                conn.rset()
                raise reply_error(code, reply, "sender" if verb == "MAIL" else "recipient", target)
        conn.putcmd("data")
        code, answer = conn.getreply()
        if code == 421:
            raise Dropped(f"SMTP 421 {answer.decode('utf-8', 'replace')}")
        if code != 354:
            conn.rset()
            raise reply_error(code, answer, "message", target)

    def drop(self) -> None:
        """Close the connection without QUIT (it is already gone)."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def quit(self) -> None:
        """QUIT and close the connection, if any."""
        quit_quietly(self.conn)
        self.conn = None


def _envelope(conn: smtplib.SMTP, verb: str, spec: str) -> tuple[int, bytes]:
    """``MAIL FROM`` or ``RCPT TO`` for *spec*; returns the reply.

    A dot-atom address needs no quoting, so it skips :func:`smtplib.quoteaddr`
    (a parse of its own per call, about 10 us each, twice per message); any
    other goes through :meth:`smtplib.SMTP.mail` / ``rcpt`` as before.
    """
    if PLAIN_SPEC.fullmatch(spec):
        conn.putcmd("mail" if verb == "MAIL" else "rcpt", f"{_ARG[verb]}:<{spec}>")
        return conn.getreply()
    return conn.mail(spec) if verb == "MAIL" else conn.rcpt(spec)


_ARG = {"MAIL": "FROM", "RCPT": "TO"}


def quit_quietly(conn: smtplib.SMTP | None) -> None:
    """QUIT politely, then close whatever the server answered."""
    if conn is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.quit()
        conn.close()


class _Fatal(Exception):
    def __init__(self, error: DeliveryError) -> None:
        super().__init__(str(error))
        self.error = error


def _retarget(error: DeliveryError, target: str) -> DeliveryError:
    if isinstance(error, TransientError):
        return TransientError(str(error), backend="email", target=target, detail=error.detail)
    return type(error)(str(error), backend="email", target=target, detail=error.detail)
