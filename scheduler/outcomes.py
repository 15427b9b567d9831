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

A lane may also hand a mark over and go on (:meth:`GroupCommit.submit`), waiting
for its :class:`Ticket` only just before its next message could reach the far
end (an SMTP lane: before the end of the next message's DATA). The write then
overlaps the next message's envelope round trips instead of adding to them, and
the guarantee holds: a lane never has more than one message accepted or on the
wire whose outcome is not committed.

A caller can also ask to hear when a mark's write has ended (:meth:`Ticket.then`):
the courier frees a lane's slot for messages past the point of delivery that
way. A lane waiting for such a slot holds no ticket of the marks it waits for,
so it asks for them to be written at once (:meth:`GroupCommit.hurry`).

Who writes: a writer thread (started when needed, gone after :data:`IDLE`
seconds without work) writes as soon as :data:`GATHER` marks wait, or once the
oldest has waited :data:`LINGER`; a lane that needs its mark while no write is
under way writes everything handed over so far itself, without a hop to another
thread. Gathering is what makes the batches: with two e-mail lanes a transaction
carries two marks instead of one, and each transaction's fixed cost (SQLAlchemy,
the commit) was what halved the rate of a fan-out, mostly as time the lanes
spent waiting for the GIL; written by the writer thread, the pair is usually on
record before either lane needs it, so neither lane waits for the write.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

from scheduler.ledger_base import Mark

__all__ = ["BATCH", "GroupCommit", "Ticket"]

BATCH = 1000
"""Most marks in one transaction."""
WAIT = 60.0
"""Longest wait for a write (seconds); SQLite's busy timeout and PostgreSQL's are far shorter."""


IDLE = 1.0
"""Seconds without marks after which the writer thread ends (the next mark starts one)."""
LINGER = 0.02
"""Longest time (seconds) a mark nobody waits for stays unwritten, gathering others."""
GATHER = 2
"""Marks that make the writer thread write at once (one per e-mail lane, by default)."""


class Ticket:
    """A mark handed over to :meth:`GroupCommit.submit`: :meth:`wait` until it is committed."""

    __slots__ = ("_commit", "_then", "done", "error")

    def __init__(self, commit: GroupCommit) -> None:
        self._commit = commit
        self._then: list[Callable[[], None]] = []
        self.done = False
        self.error: BaseException | None = None

    def then(self, callback: Callable[[], None]) -> None:
        """Call *callback* once the write of this mark has ended (committed or failed).

        At once if it has; otherwise in the thread that wrote it, so the
        callback must be quick and must not wait for the group commit.
        """
        with self._commit._cond:
            if not self.done:
                self._then.append(callback)
                return
        callback()

    def wait(self) -> None:
        """Return once the mark is committed; raise the write's error if it failed.

        Waits at most :data:`WAIT` seconds (then :class:`TimeoutError`); may be
        called again, and returns at once after the first time.
        """
        self._commit._wait(self)


class GroupCommit:
    """Records marks through *write* (a blocking ledger call), in batches; thread-safe."""

    def __init__(self, write: Callable[[Sequence[Mark]], None], batch: int = BATCH) -> None:
        self._write = write
        self._batch = batch
        self._cond = threading.Condition()
        self._waiting: list[tuple[Mark, Ticket]] = []
        self._writing = False
        self._writer: threading.Thread | None = None
        self._since = 0.0  # when the oldest unwritten mark was handed over
        self._hurried = 0  # callers that need the waiting marks written without LINGER

    def submit(self, mark: Mark) -> Ticket:
        """Hand *mark* over and return at once; it is written with the next batch."""
        ticket = Ticket(self)
        with self._cond:
            first = not self._waiting
            if first:
                self._since = time.monotonic()
            self._waiting.append((mark, ticket))
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="ledger-marks", daemon=True)
                self._writer.start()
            elif first or len(self._waiting) == GATHER or self._hurried:
                self._cond.notify_all()  # start the LINGER, or write now
        return ticket

    def hurry(self) -> None:
        """Until :meth:`relax`: write each mark as soon as it is handed over, without LINGER.

        For a caller that waits for marks it holds no ticket of (a lane waiting
        until another lane's outcome is on record, see
        :class:`~scheduler.delivery.Courier`); calls nest.
        """
        with self._cond:
            self._hurried += 1
            self._cond.notify_all()

    def relax(self) -> None:
        """End one :meth:`hurry`."""
        with self._cond:
            self._hurried -= 1

    def record_blocking(self, mark: Mark) -> None:
        """Hand *mark* over; return once it is committed (or raise the write's error)."""
        self.submit(mark).wait()

    def _wait(self, ticket: Ticket) -> None:
        deadline = time.monotonic() + WAIT
        with self._cond:
            while not ticket.done:
                if not self._writing and self._waiting:
                    self._write_some()
                    continue
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"the ledger took no outcome for {WAIT:g} s")
        if ticket.error is not None:
            raise ticket.error

    def _run(self) -> None:
        """The writer thread: write what nobody waited for within :data:`LINGER`; end when idle."""
        with self._cond:
            while True:
                if self._waiting and not self._writing:
                    left = self._since + LINGER - time.monotonic()
                    if left > 0 and len(self._waiting) < GATHER and not self._hurried:
                        self._cond.wait(timeout=left)  # a waiting lane may write them first
                        continue
                    self._write_some()
                elif not self._cond.wait(timeout=IDLE) and not self._waiting:
                    self._writer = None
                    return

    def _write_some(self) -> None:
        """Write what is waiting (called holding the condition; released while writing)."""
        self._writing = True
        batch = self._waiting[: self._batch]
        del self._waiting[: self._batch]
        self._since = time.monotonic()
        error: BaseException | None = None
        self._cond.release()
        try:
            self._write([mark for mark, _ in batch])
        except Exception as failure:  # each waiting lane gets the ledger's error
            error = failure
        finally:
            self._cond.acquire()
            for _, ticket in batch:
                ticket.done, ticket.error = True, error
            self._writing = False
            self._cond.notify_all()
            for _, ticket in batch:
                for callback in ticket._then:
                    callback()
                ticket._then.clear()

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
