"""A small bounded pool of daemon threads: each notifier's own capacity for blocking work.

Why not :func:`asyncio.to_thread`: it borrows asyncio's one default pool, so a
hung SMTP server that holds every thread of it stalls ``/healthz``, polls,
sweeps and Slack alike, and :func:`asyncio.run` joins those threads at exit
(SIGTERM waited 88 s). Each backend instead owns a :class:`Workers` of a few
threads: a dead far end fills only its own queue, and because the threads are
daemon threads a process that is shutting down never waits for them (the
ledger puts back whatever they had claimed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
_Item = tuple[concurrent.futures.Future[Any], Callable[[], Any]]


class Workers(concurrent.futures.Executor):
    """At most *size* daemon threads named *name*; work waits in a queue beyond that."""

    def __init__(self, name: str, size: int = 1) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one thread")
        self.name = name
        self.size = size
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._busy = 0
        self._pending = 0  # submitted and not finished: a thread is due for each, up to size
        self._closed = False

    @property
    def busy(self) -> int:
        """Threads running a task right now."""
        return self._busy

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args, **kwargs)``; a thread is started when all are busy and one is free."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: the pool is shut down")
            self._queue.put((future, functools.partial(fn, *args, **kwargs)))
            self._pending += 1
            # Counted under the lock, not from busy + qsize: a thread that has taken a
            # task but not yet counted itself busy would hide one, and two tasks
            # submitted back to back would share one thread.
            if self._pending > len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, call = item
            if not future.set_running_or_notify_cancel():
                with self._lock:
                    self._pending -= 1
                continue
            with self._lock:
                self._busy += 1
            try:
                result = call()
            except BaseException as error:  # handed to the waiting caller
                future.set_exception(error)
            else:
                future.set_result(result)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._pending -= 1

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` run in this pool (the asyncio form of :meth:`submit`)."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; with *cancel_futures* drop what is queued.

        Never waits for a thread that is stuck unless *wait* is true.
        """
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
