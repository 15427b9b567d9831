"""Console backend: human-readable lines on stdout, for the demo and dry runs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Self, TextIO

from notifiers.base import Notifier, Receipt, delivery_key
from notifiers.message import Message, one_line
from notifiers.settings import read_table


def render_lines(message: Message, target: str) -> list[str]:
    """Return the lines the console backend prints for *message* sent to *target*."""
    lines = [f"[{message.kind.value}] {message.title} -> {one_line(target) or '(console)'}"]
    lines.append(f"    {message.when_label}: {message.deadline_text}")
    lines.append(f"    term: {one_line(message.term)}")
    if message.change is not None:
        change = message.change
        lines.append(
            f"    changed: {change.what}: {one_line(change.old)} -> {one_line(change.new)}"
        )
    lines.extend(f"    note: {one_line(note)}" for note in message.event.notes)
    if message.source_url:
        lines.append(f"    source: {message.source_url}")
    if message.feed_url:
        lines.append(f"    feed: {message.feed_url}")
    return lines


class ConsoleNotifier(Notifier):
    """Prints each message as a few lines (to stdout unless another stream is given)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Self:
        """Build from a ``[notifiers.console]`` table (no settings)."""
        read_table("console", table)
        return cls()

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Print *message*; the receipt's id is the delivery key."""
        lines = render_lines(message, target)
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        return Receipt(
            "console", target, key or delivery_key(message), f"printed {len(lines)} lines"
        )
