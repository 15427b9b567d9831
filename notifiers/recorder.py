"""In-memory recorder backend: the test double for code that sends notifications.

Like httpx's ``MockTransport``, it is a real backend (same interface, same
errors), so tests of the scheduler need no mocking::

    recorder = RecorderNotifier()
    recorder.fail("#broken", PermanentError("unknown channel"))
    ...run the code under test with `recorder`...
    assert [r.target for r in recorder.sent] == ["#deadlines"]
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from notifiers.base import Notifier, Receipt, delivery_key
from notifiers.errors import DeliveryError
from notifiers.message import Message
from notifiers.settings import read_table


@dataclass(frozen=True, slots=True)
class Record:
    """One successful delivery kept by the recorder."""

    message: Message
    target: str
    key: str
    receipt: Receipt


class RecorderNotifier(Notifier):
    """Keeps every delivered message in :attr:`sent`; scripted failures via :meth:`fail`."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Record] = []
        self.attempts: list[tuple[Message, str]] = []
        self._failures: dict[str, list[DeliveryError]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Self:
        """Build from a ``[notifiers.recorder]`` table (no settings)."""
        read_table("recorder", table)
        return cls()

    def fail(self, target: str, *errors: DeliveryError) -> None:
        """Make the next sends to *target* raise *errors*, one per send, in order."""
        with self._lock:
            self._failures.setdefault(target, []).extend(errors)

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Record *message* for *target*, or raise the next scripted failure for it."""
        key = key or delivery_key(message)
        with self._lock:
            self.attempts.append((message, target))
            pending = self._failures.get(target)
            if pending:
                raise pending.pop(0)
            receipt = Receipt("recorder", target, f"{len(self.sent) + 1}", "recorded")
            self.sent.append(Record(message, target, key, receipt))
        return receipt

    def messages_to(self, target: str) -> list[Message]:
        """Return the messages delivered to *target*, in order."""
        return [record.message for record in self.sent if record.target == target]
