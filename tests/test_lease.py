"""Two daemons, one ledger, slow sends: a key is never sent by both (lease discipline)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from feeds.model import Event
from notifiers import Message, Notifier, Receipt
from scheduler.config import parse_config
from scheduler.daemon import Daemon
from scheduler.plan import Key
from scheduler.schema import stamp
from scheduler.store import Store

T0 = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)


class SlowClock:
    """A fake clock that each send moves forward by ``step`` seconds."""

    def __init__(self) -> None:
        self.now = T0
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        return self.now


class Slow(Notifier):
    name = "recorder"

    def __init__(self, clock: SlowClock, step: float) -> None:
        self.clock, self.step = clock, step

    @classmethod
    def from_config(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Self:
        raise NotImplementedError

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        with self.clock.lock:
            self.clock.now += dt.timedelta(seconds=self.step)
            self.clock.sent[target] += 1
        return Receipt("recorder", target, "", "ok")


def test_a_sweep_never_outlives_its_lease(tmp_path: Path) -> None:
    targets = [f"t{n}" for n in range(600)]
    listed = ", ".join(f'"{t}"' for t in targets)
    config = parse_config(
        f'[[subscriptions]]\nname = "s"\nnotifier = "recorder"\ntarget = [{listed}]\n'
        'leads = ["1d"]\n'
    )
    deadline = T0 + dt.timedelta(days=1)
    event = Event(uid="e@lfx-cal", term="lfx-2031-t1", title="Applications close", start=deadline)
    clock = SlowClock()

    async def scenario() -> None:
        store = Store(f"sqlite:///{(tmp_path / 's.db').as_posix()}")
        keys = [Key("s", "reminder", event.uid, 86400, stamp(deadline), t) for t in targets]
        store.ensure([(k, T0) for k in keys], T0)
        slow = Daemon(config, store, {"recorder": Slow(clock, 1.0)}, clock=clock, owner="slow")
        fast = Daemon(config, store, {"recorder": Slow(clock, 0.0)}, clock=clock, owner="fast")
        for daemon in (slow, fast):
            daemon.courier.know({event.uid: event})

        async def fast_later() -> None:  # joins once the slow one's first lease has expired
            while clock.now < T0 + dt.timedelta(seconds=310):
                await asyncio.sleep(0.001)
            await fast.courier.sweep()

        await asyncio.gather(slow.courier.sweep(), fast_later())
        for _ in range(10):  # whatever was abandoned comes back after its lease
            clock.now += dt.timedelta(minutes=6)
            await fast.courier.sweep()
        assert store.counts() == {"sent": 600}
        store.close()

    asyncio.run(scenario())
    assert set(clock.sent) == set(targets)
    assert max(clock.sent.values()) == 1, "a key was sent by both daemons"
