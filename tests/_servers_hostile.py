"""Far ends that misbehave, as real servers on loopback: a dripping HTTP origin, a silent SMTP."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class _Acceptor:
    """A TCP listener on 127.0.0.1 whose every connection is served by ``serve`` in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.closed = threading.Event()
        self._clients: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.serve(client)

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
        for client in self._clients:
            client.close()


class DrippingOrigin(_Acceptor):
    """Answers any request one byte every *interval* seconds, for ever.

    ``where="headers"`` drips the status line and headers; ``"body"`` sends the
    headers at once (a large Content-Length) and drips the body.
    """

    def __init__(self, where: str = "body", interval: float = 0.5) -> None:
        self.where, self.interval = where, interval
        self.bytes_sent = 0
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        client.recv(65536)  # the request
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/markdown\r\nContent-Length: 100000\r\n\r\n"
        if self.where == "body":
            client.sendall(head)
            drip = b"x" * 100000
        else:
            drip = head + b"x" * 100000
        for byte in drip:
            if self.closed.is_set():
                return
            client.sendall(bytes([byte]))
            self.bytes_sent += 1
            time.sleep(self.interval)

    @property
    def url(self) -> str:
        return f"http://reader:s3cr3t-pw@127.0.0.1:{self.port}/term.md?token=t0k3n-XYZ"


class SilentSMTP(_Acceptor):
    """Accepts connections and then never says a word (a hung mail server)."""

    def serve(self, client: socket.socket) -> None:
        while not self.closed.is_set():
            if not client.recv(65536):
                return
