"""Group commit of send outcomes: many lanes' marks, one ledger transaction.

A fan-out sends from several lanes at once (see :mod:`scheduler.delivery`);
each send's outcome must be in the ledger before its lane sends the next
message, or a ``kill -9`` could repeat more than the messages on the wire. One
transaction per message made the ledger the bottleneck (about 150 messages a
second on SQLite). :class:`GroupCommit` keeps the guarantee and drops the cost:
a lane hands its :class:`~scheduler.ledger_base.Mark` over and waits; the first
waiting lane that finds no write under way becomes the writer and records
everything handed over so far in one call of
:meth:`~scheduler.ledger_base.Ledger.mark`; the marks handed over meanwhile go
into the next write. Under load each transaction carries many outcomes; an idle
ledger still writes a lone mark at once (no timer).

It works in threads (:meth:`GroupCommit.record_blocking`): an e-mail lane sends
and records from its worker thread, so the moment between the server's
acceptance and the committed mark — the only moment in which a ``kill -9``
makes a message go out twice — holds no hop to the event loop and back.
:meth:`GroupCommit.record` is the same from asyncio.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

from scheduler.ledger_base import Mark

__all__ = ["BATCH", "GroupCommit"]

BATCH = 1000
"""Most marks in one transaction."""
WAIT = 60.0
"""Longest wait for a write (seconds); SQLite's busy timeout and PostgreSQL's are far shorter."""


class _Slot:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    """Records marks through *write* (a blocking ledger call), in batches; thread-safe."""

    def __init__(self, write: Callable[[Sequence[Mark]], None], batch: int = BATCH) -> None:
        self._write = write
        self._batch = batch
        self._cond = threading.Condition()
        self._waiting: list[tuple[Mark, _Slot]] = []
        self._writing = False

    def record_blocking(self, mark: Mark) -> None:
        """Hand *mark* over; return once it is committed (or raise the write's error)."""
        slot = _Slot()
        deadline = time.monotonic() + WAIT
        with self._cond:
            self._waiting.append((mark, slot))
            while not slot.done:
                if not self._writing:
                    self._write_some()
                    continue
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"the ledger took no outcome for {WAIT:g} s")
        if slot.error is not None:
            raise slot.error

    def _write_some(self) -> None:
        """Write what is waiting (called holding the condition; released while writing)."""
        self._writing = True
        batch = self._waiting[: self._batch]
        del self._waiting[: self._batch]
        error: BaseException | None = None
        self._cond.release()
        try:
            self._write([mark for mark, _ in batch])
        except Exception as failure:  # each waiting lane gets the ledger's error
            error = failure
        finally:
            self._cond.acquire()
            for _, slot in batch:
                slot.done, slot.error = True, error
            self._writing = False
            self._cond.notify_all()

    async def record(self, mark: Mark) -> None:
        """:meth:`record_blocking` from asyncio (in a thread of the default pool)."""
        await asyncio.to_thread(self.record_blocking, mark)

    async def settle(self, timeout: float) -> None:
        """Wait up to *timeout* seconds until no mark is waiting or being written."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._cond:
                if not self._waiting and not self._writing:
                    return
            await asyncio.sleep(0.01)
