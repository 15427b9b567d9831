"""Group commit of send outcomes: many lanes' marks, one ledger transaction.

A fan-out sends from several lanes at once (see :mod:`scheduler.delivery`);
each send's outcome must be in the ledger before its lane sends the next
message, or a ``kill -9`` could repeat more than the messages on the wire. One
transaction per message made the ledger the bottleneck (about 150 messages a
second on SQLite). :class:`GroupCommit` keeps the guarantee and drops the cost:
a lane hands its :class:`~scheduler.ledger_base.Mark` over and waits; one writer
records everything handed over since its previous write in one call of
:meth:`~scheduler.ledger_base.Ledger.mark`. While it writes, the next marks
gather for the following write, so under load each transaction carries many
outcomes, and an idle ledger still writes a lone mark at once (no timer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from scheduler.ledger_base import Mark

__all__ = ["BATCH", "GroupCommit"]

BATCH = 1000
"""Most marks in one transaction."""


class GroupCommit:
    """Records marks through *write* (a blocking ledger call run in a thread), in batches."""

    def __init__(self, write: Callable[[Sequence[Mark]], None], batch: int = BATCH) -> None:
        self._write = write
        self._batch = batch
        self._waiting: list[tuple[Mark, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, mark: Mark) -> None:
        """Hand *mark* over; return once it is committed (or raise the write's error)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((mark, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._drain())
        await future

    async def settle(self, timeout: float) -> None:
        """Wait up to *timeout* seconds for the marks handed over so far to be written."""
        writer = self._writer
        if writer is not None and not writer.done():
            await asyncio.wait([writer], timeout=timeout)

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._batch]
            del self._waiting[: self._batch]
            try:
                await asyncio.to_thread(self._write, [mark for mark, _ in batch])
            except Exception as error:  # each waiting lane gets the ledger's error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
