"""A local HTTP server speaking the parts of Slack's Web API and webhooks the notifier uses."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

WEBHOOK_PATH = "/services/T000/B000/XXXXSECRETXXXX"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; str → text/plain
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class FakeSlack:
    """Serves ``/api/chat.postMessage`` and a webhook path; replies come from ``script``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: dict[str, list[Reply]] = {}
        self._ts = 0
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                if "json" in self.headers.get("Content-Type", ""):
                    body = json.loads(raw)
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                reply = fake.record(self.path, dict(self.headers), body)
                payload = reply.body
                if isinstance(payload, dict):
                    data, kind = json.dumps(payload).encode(), "application/json; charset=utf-8"
                else:
                    data, kind = str(payload).encode(), "text/plain; charset=utf-8"
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def then(self, path: str, *replies: Reply) -> None:
        self.script.setdefault(path, []).extend(replies)

    def record(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(Request(path, headers, body, time.monotonic()))
            queued = self.script.get(path)
            if queued:
                return queued.pop(0)
            if path == WEBHOOK_PATH:
                return Reply(200, "ok")
            if path == "/api/chat.postMessage":
                self._ts += 1
                channel = body.get("channel", "")
                ts = f"1700000000.{self._ts:06d}"
                return Reply(
                    200,
                    {
                        "ok": True,
                        "channel": channel,
                        "ts": ts,
                        "message": {"text": body.get("text", "")},
                    },
                )
            return Reply(404, {"ok": False, "error": "unknown_method"})

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/chat.postMessage"]

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
