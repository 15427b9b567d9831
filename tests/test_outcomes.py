"""The group commit of send outcomes (:mod:`scheduler.outcomes`), on its own.

Its promises: a lone mark is written at once (no timer); marks handed over
while a write is under way go into the next write, at most ``batch`` at a
time; a submitted mark is written by the writer thread with nobody waiting,
that thread ends after ``IDLE`` seconds without work and the next mark starts
another; every waiting lane gets the write's error; a wait gives up after
``WAIT`` seconds; ``settle`` waits for everything handed over, within its
timeout. The writes go to a real SQLite ledger where the rows matter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from scheduler import outcomes
from scheduler.ledger_base import DeliveryKey, Kind, Mark, Status
from scheduler.outcomes import GroupCommit, Ticket
from scheduler.store import Store

T0 = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)


def key(n: int) -> DeliveryKey:
    return DeliveryKey("team", Kind.REMINDER, "e@lfx-cal", 3600, "2031-06-03T01:00:00Z", f"t{n}")


def sent(n: int) -> Mark:
    return Mark.sent(key(n), T0, late=False, receipt=f"r{n}")


class Gate:
    """A write that records each batch (its targets) and waits while the gate is shut."""

    def __init__(self, then: Callable[[Sequence[Mark]], None] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()
        self.then = then
        self.lock = threading.Lock()

    def __call__(self, marks: Sequence[Mark]) -> None:
        with self.lock:
            self.batches.append([m.key.target for m in marks])
        self.entered.set()
        assert self.open.wait(5)
        if self.then is not None:
            self.then(marks)

    def count(self) -> int:
        with self.lock:
            return len(self.batches)


def wait_until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


def test_marks_reach_the_ledger_in_batches_of_at_most_batch(tmp_path: Path) -> None:
    with Store(f"sqlite:///{(tmp_path / 'g.db').as_posix()}") as store:
        keys = [key(n) for n in range(6)]
        store.ensure([(k, T0) for k in keys], T0)
        store.claim(keys, "me", T0, dt.timedelta(minutes=5))
        write = Gate(store.mark)
        commit = GroupCommit(write, batch=2)
        write.open.clear()
        first = commit.submit(sent(0))
        assert write.entered.wait(5)  # the first write is under way
        rest = [commit.submit(sent(n)) for n in range(1, 6)]
        # nothing is on record yet: no ticket says done, none has an error
        assert [(t.done, t.error) for t in [first, *rest]] == [(False, None)] * 6
        write.open.set()
        for ticket in [first, *rest]:
            ticket.wait()
        assert write.batches == [["t0"], ["t1", "t2"], ["t3", "t4"], ["t5"]]
        rows = {d.key.target: d for d in store.deliveries()}
        assert {t: (d.status, d.receipt) for t, d in rows.items()} == {
            f"t{n}": (Status.SENT, f"r{n}") for n in range(6)
        }


def test_the_default_batch_is_a_thousand_marks() -> None:
    write = Gate()
    commit = GroupCommit(write)
    write.open.clear()
    first = commit.submit(sent(0))
    assert write.entered.wait(5)
    rest = [commit.submit(sent(n)) for n in range(1, 1002)]
    write.open.set()
    rest[-1].wait()
    first.wait()
    assert [len(b) for b in write.batches] == [1, 1000, 1]


def test_a_waiting_lane_writes_itself_when_no_write_is_under_way() -> None:
    write = Gate()
    commit = GroupCommit(write)
    threads: list[str] = []

    def noting(marks: Sequence[Mark]) -> None:
        threads.append(threading.current_thread().name)

    write.then = noting
    commit._writer = threading.current_thread()  # as if the writer thread were busy elsewhere
    commit.record_blocking(sent(0))  # returns only once written
    assert write.batches == [["t0"]]
    assert threads == [threading.current_thread().name]


def test_a_waiting_lane_writes_batch_after_batch_until_its_own_mark_is_in() -> None:
    write = Gate()
    commit = GroupCommit(write, batch=2)
    commit._writer = threading.current_thread()  # no writer thread: the waiting lane writes
    tickets = [commit.submit(sent(n)) for n in range(5)]
    tickets[4].wait()
    assert write.batches == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    assert all(t.done for t in tickets)


def test_the_writer_thread_is_a_named_daemon_that_ends_when_idle_and_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outcomes, "IDLE", 0.05)
    written = threading.Event()
    names: list[tuple[str, bool]] = []

    def write(marks: Sequence[Mark]) -> None:
        thread = threading.current_thread()
        names.append((thread.name, thread.daemon))
        written.set()

    commit = GroupCommit(write)
    first = commit.submit(sent(0))
    assert written.wait(5)  # nobody waited: the writer thread wrote it
    assert first.done and first.error is None
    assert names == [("ledger-marks", True)]
    assert wait_until(lambda: commit._writer is None)  # gone after IDLE without work
    written.clear()
    second = commit.submit(sent(1))
    assert written.wait(5)  # a new writer thread took it
    assert second.done and names[-1] == ("ledger-marks", True)


def test_a_mark_handed_to_an_idle_writer_is_written_at_once() -> None:
    # The writer waits up to IDLE (1 s) for work; a new mark wakes it, no timer.
    write = Gate()
    commit = GroupCommit(write)
    commit.submit(sent(0))
    assert wait_until(lambda: write.count() == 1)
    time.sleep(0.05)  # the writer thread is idle now, waiting for marks
    started = time.monotonic()
    commit.submit(sent(1))
    assert wait_until(lambda: write.count() == 2, seconds=0.5)
    assert time.monotonic() - started < 0.5


def test_every_lane_of_a_failed_write_gets_its_error_and_the_next_write_is_clean() -> None:
    failing = {"t1", "t2"}

    def write(marks: Sequence[Mark]) -> None:
        if failing & {m.key.target for m in marks}:
            raise RuntimeError("disk full")

    gate = Gate(write)
    commit = GroupCommit(gate)
    gate.open.clear()
    first = commit.submit(sent(0))
    assert gate.entered.wait(5)
    both = [commit.submit(sent(1)), commit.submit(sent(2))]
    gate.open.set()
    first.wait()
    for ticket in both:
        with pytest.raises(RuntimeError, match=r"^disk full$"):
            ticket.wait()
        with pytest.raises(RuntimeError, match=r"^disk full$"):
            ticket.wait()  # again: the same error
    commit.record_blocking(sent(3))  # the commit goes on
    assert gate.batches == [["t0"], ["t1", "t2"], ["t3"]]


def test_a_wait_gives_up_after_wait_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcomes, "WAIT", 0.2)
    gate = Gate()
    gate.open.clear()
    commit = GroupCommit(gate)
    first = commit.submit(sent(0))
    assert gate.entered.wait(5)
    second = commit.submit(sent(1))
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"^the ledger took no outcome for 0\.2 s$"):
        second.wait()
    assert 0.2 <= time.monotonic() - started < 0.9
    gate.open.set()
    first.wait()
    second.wait()  # written after all


def test_a_ticket_written_meanwhile_waits_no_longer() -> None:
    gate = Gate()
    commit = GroupCommit(gate)
    ticket = commit.submit(sent(0))
    assert wait_until(lambda: ticket.done)
    started = time.monotonic()
    ticket.wait()
    assert time.monotonic() - started < 0.1
    assert isinstance(ticket, Ticket) and ticket.error is None


def test_settle_waits_for_what_is_being_written_within_its_timeout() -> None:
    gate = Gate()
    commit = GroupCommit(gate)

    async def scenario() -> tuple[float, float, float]:
        started = time.monotonic()
        await commit.settle(5)  # nothing handed over: at once
        idle = time.monotonic() - started
        gate.open.clear()
        commit.submit(sent(0))
        assert await asyncio.to_thread(gate.entered.wait, 5)
        started = time.monotonic()
        await commit.settle(0.2)  # the write is held: settle gives up after its timeout
        held = time.monotonic() - started
        assert gate.batches == [["t0"]]
        threading.Timer(0.1, gate.open.set).start()
        started = time.monotonic()
        await commit.settle(5)  # returns once the write is done, not after 5 s
        done = time.monotonic() - started
        return idle, held, done

    idle, held, done = asyncio.run(scenario())
    assert idle < 0.05
    assert 0.2 <= held < 1
    assert 0.1 <= done < 1


def test_record_from_asyncio_returns_once_written() -> None:
    gate = Gate()
    commit = GroupCommit(gate)

    async def scenario() -> None:
        await commit.record(sent(0))
        assert gate.batches == [["t0"]]

    asyncio.run(scenario())


def test_a_lone_mark_lingers_and_one_per_lane_is_written_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nobody waits: the first mark stays unwritten for up to LINGER, gathering others;
    # the GATHER-th (one per e-mail lane) makes the writer write both at once.
    monkeypatch.setattr(outcomes, "LINGER", 5.0)
    write = Gate()
    commit = GroupCommit(write)
    commit.submit(sent(0))
    time.sleep(0.1)
    assert write.count() == 0  # lingering
    started = time.monotonic()
    commit.submit(sent(1))
    assert wait_until(lambda: write.count() == 1, seconds=2)
    assert time.monotonic() - started < 2  # not after the 5 s linger
    assert write.batches == [["t0", "t1"]]


def test_a_lone_mark_is_written_once_its_linger_is_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcomes, "LINGER", 0.2)
    write = Gate()
    commit = GroupCommit(write)
    started = time.monotonic()
    ticket = commit.submit(sent(0))
    assert wait_until(lambda: ticket.done, seconds=3)
    assert 0.15 < time.monotonic() - started < 3
    assert write.batches == [["t0"]]


def test_a_mark_handed_over_during_a_write_is_written_after_it_without_a_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its linger starts again when that write ends, and the writer thread goes on.
    monkeypatch.setattr(outcomes, "LINGER", 0.05)
    write = Gate()
    commit = GroupCommit(write)
    write.open.clear()
    commit.submit(sent(0))
    commit.submit(sent(1))
    assert write.entered.wait(2)  # the writer thread is writing t0 and t1, held
    late = commit.submit(sent(2))
    write.open.set()
    assert wait_until(lambda: late.done, seconds=3)
    assert write.batches == [["t0", "t1"], ["t2"]]


def test_then_runs_once_the_write_ends_or_at_once_if_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outcomes, "LINGER", 5.0)
    write = Gate()
    commit = GroupCommit(write)
    ticket = commit.submit(sent(0))
    called: list[str] = []
    ticket.then(lambda: called.append("first"))
    time.sleep(0.1)
    assert called == [] and not ticket.done  # lingering: not written, not called
    ticket.wait()
    assert called == ["first"]
    ticket.then(lambda: called.append("after"))  # already written: now, in this thread
    assert called == ["first", "after"]


def test_then_runs_after_a_failed_write_too() -> None:
    def fail(_marks: Sequence[Mark]) -> None:
        raise OSError("disk full")

    commit = GroupCommit(fail)
    ticket = commit.submit(sent(0))
    freed = threading.Event()
    ticket.then(freed.set)
    with pytest.raises(OSError, match="disk full"):
        ticket.wait()
    assert freed.is_set()


def test_hurry_writes_a_lone_mark_without_its_linger_until_relaxed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A lane that waits for another lane's mark holds no ticket of it: hurry() makes
    # the writer thread write at once instead of gathering for LINGER.
    monkeypatch.setattr(outcomes, "LINGER", 5.0)
    write = Gate()
    commit = GroupCommit(write)
    commit.hurry()
    started = time.monotonic()
    first = commit.submit(sent(0))
    assert wait_until(lambda: first.done, seconds=2)
    assert time.monotonic() - started < 2
    commit.hurry()  # nested
    commit.relax()
    second = commit.submit(sent(1))
    assert wait_until(lambda: second.done, seconds=2)
    commit.relax()
    third = commit.submit(sent(2))
    time.sleep(0.2)
    assert not third.done  # relaxed: a lone mark lingers again
    assert write.batches == [["t0"], ["t1"]]


def test_hurry_after_a_mark_was_handed_over_writes_it_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outcomes, "LINGER", 5.0)
    commit = GroupCommit(Gate())
    ticket = commit.submit(sent(0))
    time.sleep(0.1)
    assert not ticket.done
    commit.hurry()
    assert wait_until(lambda: ticket.done, seconds=2)
    commit.relax()
