"""Benchmark: e-mail reminders through the e-mail backend vs a bare smtplib loop.

Both sides send the same messages (the same bytes) to the same local aiosmtpd
server (in its own process) over loopback: the backend renders each reminder once per batch and
sends it with ``send_many`` (one connection per batch); the bare loop sends the
pre-rendered bytes with ``smtplib.SMTP.sendmail`` over one connection and does
nothing else. Goal: the backend reaches ≥ 0.8x the bare loop's throughput.

Run: ``python bench/bench_email.py`` (10,000 messages, 5 runs each) or
``python bench/bench_email.py --count 1000 --runs 1`` for a quick look.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import smtplib
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

from aiosmtpd.controller import Controller

from feeds.model import Event
from notifiers import EmailNotifier, Kind, Message, build_message
from notifiers.mailbuild import for_recipient, message_id, parse_address, render_base

SENDER = "LFX Reminders <lfx@example.org>"


class Sink:
    """Accepts every message and counts it."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


class LoopbackController(Controller):
    def __init__(self, handler: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def serve(pipe: Connection) -> None:
    """Run the SMTP server in its own process (no GIL shared with the clients)."""
    sink = Sink()
    controller = LoopbackController(sink)
    controller.start()
    pipe.send(controller.port)
    pipe.recv()
    controller.stop()
    pipe.send(sink.count)


def workload(count: int, events: int) -> list[tuple[Message, list[str]]]:
    """*count* reminders: *events* events, each to count/events recipients."""
    batches = []
    per = max(1, count // events)
    for e in range(events):
        event = Event(
            uid=f"bench-{e}@lfx-cal",
            term="lfx-2027-t2",
            title=f"Deadline number {e}",
            start=dt.datetime(2027, 6, 1 + e % 28, 18, 0, tzinfo=dt.UTC),
            notes=("Apply on the LFX portal.",),
            source="https://example.org/README.md",
        )
        message = build_message(event, Kind.REMINDER, lead=dt.timedelta(days=1), zone="UTC")
        batches.append((message, [f"user{e}-{i}@example.net" for i in range(per)]))
    return batches


def run_backend(port: int, batches: list[tuple[Message, list[str]]]) -> float:
    backend = EmailNotifier.from_config(
        {"host": "127.0.0.1", "port": port, "security": "none", "from": SENDER, "timeout": 30}
    )
    started = time.perf_counter()
    sent = 0
    for message, recipients in batches:
        outcomes = backend.send_many(message, recipients, key=f"bench/{message.event.uid}")
        sent += sum(o.ok for o in outcomes)
    elapsed = time.perf_counter() - started
    assert sent == sum(len(r) for _, r in batches), "backend lost messages"
    return sent / elapsed


def prerender(batches: list[tuple[Message, list[str]]]) -> list[tuple[str, bytes]]:
    sender = parse_address(SENDER)
    out = []
    for message, recipients in batches:
        base = render_base(message, sender)
        for rcpt in recipients:
            msgid = message_id(f"bench/{message.event.uid}", rcpt, "example.org")
            out.append((rcpt, for_recipient(base, parse_address(rcpt), msgid)))
    return out


def run_bare(port: int, mails: list[tuple[str, bytes]]) -> float:
    started = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
    for rcpt, data in mails:
        conn.sendmail("lfx@example.org", [rcpt], data)
    conn.quit()
    elapsed = time.perf_counter() - started
    return len(mails) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="messages per run")
    parser.add_argument("--events", type=int, default=10, help="distinct reminders")
    parser.add_argument("--runs", type=int, default=5, help="runs of each side")
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,))
    server.start()
    port = ours.recv()
    try:
        batches = workload(args.count, args.events)
        mails = prerender(batches)
        backend_rates, bare_rates = [], []
        for run in range(args.runs):  # alternate who goes first, so drift hits both sides
            sides = [
                ("bare", lambda: run_bare(port, mails)),
                ("backend", lambda: run_backend(port, batches)),
            ]
            for name, side in sides if run % 2 == 0 else sides[::-1]:
                (bare_rates if name == "bare" else backend_rates).append(side())
            print(
                f"run {run + 1}: bare smtplib {bare_rates[-1]:8.0f} msg/s, "
                f"backend {backend_rates[-1]:8.0f} msg/s"
            )
    finally:
        ours.send("stop")
        received = ours.recv()
        server.join()
    bare, backend = statistics.median(bare_rates), statistics.median(backend_rates)
    ratio = backend / bare
    print(f"messages per run: {len(mails)} ({args.events} reminders), runs: {args.runs}")
    print(f"median bare smtplib loop: {bare:8.0f} msg/s")
    print(f"median e-mail backend:    {backend:8.0f} msg/s")
    print(
        f"ratio backend / bare:     {ratio:.2f}x (goal >= 0.80x) {'OK' if ratio >= 0.8 else 'MISS'}"
    )
    assert received == args.runs * 2 * len(mails), received


if __name__ == "__main__":
    main()
