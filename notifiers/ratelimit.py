"""Pacing: at most one message per interval per channel, without blocking an event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


class Pacer:
    """Hands out send slots at least ``interval`` seconds apart for each key (channel).

    Thread-safe. :meth:`wait` sleeps the calling thread; :meth:`await_turn`
    sleeps with :func:`asyncio.sleep`, so other tasks keep running meanwhile.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(self, key: str) -> float:
        """Claim the next slot for *key*; return how many seconds to wait for it."""
        with self._lock:
            now = self._clock()
            if len(self._next) > 1024:
                self._next = {k: t for k, t in self._next.items() if t > now}
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self.interval
            return slot - now

    def wait(self, key: str) -> None:
        """Block this thread until *key*'s slot comes."""
        delay = self.reserve(key)
        if delay > 0:
            time.sleep(delay)

    async def await_turn(self, key: str) -> None:
        """Wait for *key*'s slot without blocking the event loop."""
        delay = self.reserve(key)
        if delay > 0:
            await asyncio.sleep(delay)
