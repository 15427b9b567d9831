"""The interface every notifier backend implements.

A backend turns a :class:`~notifiers.message.Message` into one delivery to a
target (a Slack channel, an e-mail address, …) and returns a :class:`Receipt`
saying exactly what happened, or raises :class:`~notifiers.errors.TransientError`
(retry later) or :class:`~notifiers.errors.PermanentError` (fix something first).

Sync and async: ``send``/``send_many`` block the calling thread (network I/O,
retry waits). From asyncio call ``asend``/``asend_many``: they run the blocking
work in a thread of the backend's own :class:`~notifiers.workers.Workers` pool
(``workers`` threads, daemon threads), never in asyncio's shared default pool:
a hung SMTP server then delays e-mail only, and shutdown never waits for it.
The Slack backend also waits out its per-channel pacing with
:func:`asyncio.sleep` before it takes a thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from notifiers.errors import DeliveryError
from notifiers.message import Message
from notifiers.workers import Workers


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one delivery.

    ``id`` is what the far end calls it (Slack ``ts``, SMTP ``Message-ID``; empty
    when it gives none, as for Slack webhooks); ``detail`` is the server's answer
    (``HTTP 200 ok``, ``SMTP 250 …``).
    """

    backend: str
    target: str
    id: str
    detail: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result for one target of a batch: a receipt or the error, never both."""

    target: str
    receipt: Receipt | None = None
    error: DeliveryError | None = None

    @property
    def ok(self) -> bool:
        """True when the message was delivered to this target."""
        return self.receipt is not None


def delivery_key(message: Message) -> str:
    """Return a stable key for *message* when the caller has none (event, kind, lead/change)."""
    extra = ""
    if message.lead is not None:
        extra = str(int(message.lead.total_seconds()))
    elif message.change is not None:
        extra = f"{message.change.what}:{message.change.new}"
    return f"{message.event.uid}/{message.kind.value}/{extra}"


class Notifier(ABC):
    """A delivery backend. Subclasses set ``name`` and implement ``from_config`` and ``send``."""

    name: ClassVar[str] = ""
    workers: ClassVar[int] = 2
    """Default of :attr:`parallel`: threads of this backend's own pool."""

    @property
    def parallel(self) -> int:
        """Sends this backend may run at once (its pool's threads); see :meth:`lane`."""
        return self.workers

    @property
    def in_flight(self) -> int:
        """Most messages a caller lets past the point of delivery at once (see :meth:`send_after`).

        A scheduler that records each outcome lets at most this many messages
        reach the far end before their outcomes are on record: what a ``kill
        -9`` may send twice. By default one per send that may run at once.
        """
        return self.parallel

    def lane(self, target: str) -> str | None:
        """The lane of sends to *target*: sends in one lane go one after another.

        A scheduler may run different lanes side by side (up to :attr:`parallel`
        at once). By default each target is its own lane (a Slack channel, a
        webhook: paced or rate-limited per target); None means any lane will
        do (e-mail: every recipient goes through the same relay).
        """
        return target

    @property
    def pool(self) -> Workers:
        """The backend's own bounded thread pool (created on first use)."""
        pool: Workers | None = self.__dict__.get("_pool")
        if pool is None:
            pool = self.__dict__.setdefault("_pool", Workers(f"notify-{self.name}", self.parallel))
        return pool

    @classmethod
    @abstractmethod
    def from_config(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Self:
        """Build the backend from its ``[notifiers.NAME]`` table; secrets come from *environ*."""

    @abstractmethod
    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Deliver *message* to *target*; *key* identifies the delivery (resends reuse it)."""

    def send_after(
        self,
        ready: Callable[[], None],
        message: Message,
        target: str,
        *,
        key: str | None = None,
    ) -> Receipt:
        """:meth:`send`, but the far end gets nothing before *ready* has returned.

        *ready* blocks until the caller allows the delivery (a scheduler waits
        there for the previous outcome to be on record); if it raises, nothing is
        delivered and the error propagates. By default it runs first; a backend
        with round trips before the point of delivery calls it as late as it can
        (e-mail: before the end of DATA), so the caller's wait overlaps them. It
        may be called more than once (a reconnect), and must be idempotent.
        """
        ready()
        return self.send(message, target, key=key)

    def send_many(
        self, message: Message, targets: Sequence[str], *, key: str | None = None
    ) -> list[Outcome]:
        """Deliver to every target; one target's failure never stops the others."""
        outcomes: list[Outcome] = []
        for target in targets:
            try:
                outcomes.append(Outcome(target, receipt=self.send(message, target, key=key)))
            except DeliveryError as error:
                outcomes.append(Outcome(target, error=error))
        return outcomes

    async def asend(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        """Async :meth:`send`: the blocking work runs in this backend's own pool."""
        return await self.pool.run(self.send, message, target, key=key)

    async def asend_many(
        self, message: Message, targets: Sequence[str], *, key: str | None = None
    ) -> list[Outcome]:
        """Async :meth:`send_many`: the blocking work runs in this backend's own pool."""
        return await self.pool.run(self.send_many, message, list(targets), key=key)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the backend stays usable and reconnects when needed."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
