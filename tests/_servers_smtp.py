"""A real SMTP server on loopback (aiosmtpd) with scriptable replies, for notifier tests."""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class LoopbackController(Controller):
    """aiosmtpd's Controller, listening on a free port chosen by the OS (port 0)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class Handler:
    """Records accepted messages; replies can be scripted per recipient or per DATA."""

    messages: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    drop_data: set[int] = field(default_factory=set)
    drop_from: int = 0
    data_count: int = 0
    connections: int = 0
    delay: float = 0.0
    """Seconds spent in DATA before the reply (a slow relay)."""
    peers: set[Any] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:  # one TCP connection is one peer address, even across STARTTLS
            if session.peer not in self.peers:
                self.peers.add(session.peer)
                self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.data_count += 1
            count = self.data_count
        if count in self.drop_data or (self.drop_from and count >= self.drop_from):
            server.transport.close()  # the connection drops before any reply
            return "421 gone"
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                tls_of(server, session),
                bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"


def tls_of(server: Any, session: Any) -> bool:
    """True for a connection secured by STARTTLS or by implicit TLS."""
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


USER, PASSWORD = "lfx", "s3cret-pw"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def start_starttls(handler: Handler, server_ctx: ssl.SSLContext) -> LoopbackController:
    """STARTTLS required, AUTH required after TLS."""
    controller = LoopbackController(
        handler,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_required=True,
    )
    controller.start()
    return controller


def start_implicit_tls(handler: Handler, server_ctx: ssl.SSLContext) -> LoopbackController:
    controller = LoopbackController(handler, ssl_context=server_ctx)
    controller.start()
    return controller


def start_plain(handler: Handler) -> LoopbackController:
    controller = LoopbackController(handler)
    controller.start()
    return controller
