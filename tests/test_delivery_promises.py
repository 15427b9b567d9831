"""The courier's promises on each of its three ways to send (issue 17: mutation score).

A notifier either gives each target its own lane (Slack channels: the
recorder's default), or has no lanes at all (e-mail: every recipient behind
one relay, sent in runs from one of the notifier's threads), or both (then a
relay's recipients are sent one at a time from the loop). The same promises hold
on every way: the attempt cap and backoff, skips of a passed deadline or a
missed grace, late marking after ``LATE_AFTER``, the idempotency key, logs that
never name a self-service subscriber's address, the slow-failure shortcut, the
lease half-spent stop, and never sending past an outcome the ledger did not
take. The sweep rebuilds each kind of message from its ledger key alone.

Real parts: a SQLite ledger file, the recorder notifier (its lanes changed as
a relay's would be), a clock the test moves; the courier is built directly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from feeds.categories import ROLES
from feeds.model import Event
from notifiers import Message, PermanentError, Receipt, RecorderNotifier, TransientError
from notifiers.message import Unsubscribe
from scheduler.config import Service, Subscription
from scheduler.delivery import Courier, _Slots
from scheduler.ledger_base import ChangeKey, Delivery, Kind, Mark, Status
from scheduler.metrics import Metrics
from scheduler.outcomes import GroupCommit
from scheduler.plan import Job, Key
from scheduler.store import Store
from tests.test_poll_delivery import Clock

S = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
CLOSE = dt.datetime(2031, 6, 4, tzinfo=dt.UTC)
DUE = CLOSE - DAY  # the 1-day reminder
UID = "apps@lfx-cal"
EVENT = Event(UID, "lfx-2031-t2", "Mentee applications", dt.date(2031, 5, 21), CLOSE,
              categories=("application",))  # fmt: skip
REMIND = Job(Kind.REMINDER, UID, DAY, CLOSE, DUE)
FEED = "https://cal.example/feeds/all.ics"
UNSUB = Unsubscribe("https://cal.example/u/x", "mailto:u@cal.example", "https://cal.example/m/x")


class Relay(RecorderNotifier):
    """The recorder behind one relay, as e-mail is: no lane of its own, one thread."""

    workers = 1

    def lane(self, target: str) -> str | None:
        return None


class Mixed(RecorderNotifier):
    """Addresses go through a relay (no lane), anything else has its own lane."""

    def lane(self, target: str) -> str | None:
        return None if "@" in target else target


WAYS = {"lanes": RecorderNotifier, "relay": Relay, "mixed": Mixed}
"""How the notifier lays out its sends: each way runs different courier code."""


def team(*targets: str) -> Subscription:
    """A configured subscription (a channel, a list) to application deadlines."""
    return Subscription("team", "recorder", targets, frozenset({"application"}), leads=(DAY,),
                        changes=True, openings=True)  # fmt: skip


def self_service(target: str) -> Subscription:
    """A self-service subscriber: the mentee role, its own zone and unsubscribe links."""
    return Subscription("self-7", "recorder", (target,), frozenset(ROLES["mentee"]), leads=(DAY,),
                        changes=True, openings=True, zone="Asia/Tokyo", unsubscribe=UNSUB,
                        personal=True)  # fmt: skip


@dataclass
class Rig:
    courier: Courier
    store: Store
    recorder: RecorderNotifier
    clock: Clock
    metrics: Metrics

    def rows(self) -> dict[str, Delivery]:
        """The ledger rows by target (the mixed way's extra lane left out)."""
        return {d.key.target: d for d in self.store.deliveries() if d.key.subscription != "side"}

    def count(self, outcome: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "lfxcal_reminders_total", {"outcome": outcome}
        )

    def sent(self) -> dict[str, Message]:
        return {r.target: r.message for r in self.recorder.sent if r.target != "#side"}


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.store.close()


def rig(
    tmp_path: Path,
    rigs: list[Rig],
    way: str,
    subscriptions: Sequence[Subscription],
    *,
    now: dt.datetime = DUE,
    recorder: RecorderNotifier | None = None,
    store: Store | None = None,
    service: Service | None = None,
    feed_url: str | None = None,
) -> Rig:
    recorder = recorder or WAYS[way]()
    subscriptions = list(subscriptions)
    if way == "mixed":  # a target with a lane of its own, so the relay's are sent one by one
        side = Subscription("side", "recorder", ("#side",), frozenset({"application"}),
                            leads=(DAY,), changes=True, openings=True)  # fmt: skip
        subscriptions.append(side)
    store = store or Store(f"sqlite:///{(tmp_path / f'{len(rigs)}.db').as_posix()}")
    clock, metrics = Clock(now), Metrics()
    courier = Courier(store, {"recorder": recorder}, subscriptions=subscriptions,
                      service=service or Service(misfire_grace=dt.timedelta(hours=1)), clock=clock,
                      owner="me", metrics=metrics, feed_url=feed_url)  # fmt: skip
    courier.know({UID: EVENT})
    made = Rig(courier, store, recorder, clock, metrics)
    rigs.append(made)
    return made


def at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- sent on time, sent late, the receipt and the idempotency key -----------------------------


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("after", "late"), [(5, False), (6, True)])
def test_a_send_is_late_only_more_than_five_seconds_after_its_due_time(
    tmp_path: Path, rigs: list[Rig], way: str, after: int, late: bool
) -> None:
    r = rig(tmp_path, rigs, way, [team("ann@x.org")], now=DUE + after * S)
    asyncio.run(r.courier.fire(REMIND))
    (row,) = r.rows().values()
    assert (row.status, row.late, row.attempts, row.error) == ("sent", late, 1, None)
    assert row.owner == "me"  # claimed under this daemon's name
    assert row.sent_at == ("2031-06-03T00:00:05Z" if after == 5 else "2031-06-03T00:00:06Z")
    receipts = {d.receipt for d in r.store.deliveries()}
    assert receipts == ({"1"} if way != "mixed" else {"1", "2"})  # the far end's id
    (record,) = [x for x in r.recorder.sent if x.target == "ann@x.org"]
    assert record.key == "team/reminder/apps@lfx-cal/86400/2031-06-04T00:00:00Z/ann@x.org"
    assert record.message.title == (
        "Mentee applications close in 1 day — Tue, Jun 3, 5:00 PM PDT (00:00 UTC)"
    )
    sends = 1 if way != "mixed" else 2
    assert (r.count("late"), r.count("sent")) == ((sends, None) if late else (None, sends))
    assert (
        r.metrics.registry.get_sample_value("lfxcal_notifier_sends_total", {"notifier": "recorder"})
        == sends
    )


@pytest.mark.parametrize("way", WAYS)
def test_a_change_alert_is_never_late(tmp_path: Path, rigs: list[Rig], way: str) -> None:
    r = rig(tmp_path, rigs, way, [team("ann@x.org")], now=DUE + DAY)
    change = ChangeKey("2031-05-21 → 2031-06-03T00:00:00Z", "2031-05-21 → 2031-06-04T00:00:00Z")
    keys = [Key.of("team", Kind.CHANGED, UID, dt.timedelta(0), change, "ann@x.org")]
    asyncio.run(r.courier.alert(EVENT, None, keys))
    (row,) = r.rows().values()
    assert (row.status, row.late) == ("sent", False)
    assert (r.count("sent"), r.count("late")) == (1, None)


# -- skipped: the deadline passed, or the grace was missed ------------------------------------


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (CLOSE, "the deadline 2031-06-04T00:00:00Z passed before the reminder could be sent"),
        (
            DUE + dt.timedelta(hours=1, seconds=1),
            "due 2031-06-03T00:00:00Z, missed by 1:00:01 (more than misfire_grace 1:00:00)",
        ),
    ],
)
def test_a_reminder_too_late_to_send_is_skipped_and_logged_without_an_address(
    tmp_path: Path,
    rigs: list[Rig],
    way: str,
    now: dt.datetime,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = rig(tmp_path, rigs, way, [team("#team"), self_service("ann@example.org")], now=now)
    caplog.set_level(logging.WARNING, "lfx_cal.delivery")
    asyncio.run(r.courier.fire(REMIND))
    rows = r.rows()
    assert {t: (d.status, d.error) for t, d in rows.items()} == {
        "#team": ("skipped", reason),
        "ann@example.org": ("skipped", reason),
    }
    assert [t for _, t in r.recorder.attempts if t != "#side"] == []
    assert r.count("skipped") == (2 if way != "mixed" else 3)
    assert f"skipped apps@lfx-cal -> #team: {reason}" in caplog.messages
    assert f"skipped apps@lfx-cal -> self-7: {reason}" in caplog.messages
    assert "ann@example.org" not in caplog.text


def test_a_reminder_a_second_inside_the_grace_is_sent(tmp_path: Path, rigs: list[Rig]) -> None:
    r = rig(tmp_path, rigs, "relay", [team("ann")], now=DUE + dt.timedelta(hours=1))
    asyncio.run(r.courier.fire(REMIND))
    assert r.rows()["ann"].status == "sent"


# -- failures: retried on the schedule, logged without a subscriber's address -------------------


@pytest.mark.parametrize("way", WAYS)
def test_a_transient_failure_is_retried_and_logged_without_the_address(
    tmp_path: Path, rigs: list[Rig], way: str, caplog: pytest.LogCaptureFixture
) -> None:
    r = rig(tmp_path, rigs, way, [team("#team"), self_service("ann@example.org")])
    r.recorder.fail("ann@example.org", TransientError("452 ann@example.org: mailbox full"))
    r.recorder.fail("#team", TransientError("#team is busy"))
    caplog.set_level(logging.WARNING, "lfx_cal.delivery")
    asyncio.run(r.courier.fire(REMIND))
    rows = r.rows()
    assert {t: (d.status, d.attempts, d.retry_at, d.error) for t, d in rows.items()} == {
        "#team": ("pending", 1, "2031-06-03T00:00:30Z", "TransientError: #team is busy"),
        "ann@example.org": (
            "pending",
            1,
            "2031-06-03T00:00:30Z",
            "TransientError: 452 ann@example.org: mailbox full",
        ),
    }
    assert r.count("retried") == 2
    assert "delivery apps@lfx-cal -> #team failed: TransientError: #team is busy" in (
        caplog.messages
    )
    assert "delivery apps@lfx-cal -> self-7 failed: TransientError: 452 self-7: mailbox full" in (
        caplog.messages
    )
    assert "ann@example.org" not in caplog.text


class Buggy(RecorderNotifier):
    """A backend with a bug: every send to ``bug`` raises a plain exception."""

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        if target.startswith("bug"):
            self.attempts.append((message, target))
            raise RuntimeError(f"{target} " + "x" * 600)
        return super().send(message, target, key=key)


class BuggyRelay(Buggy):
    workers = 1

    def lane(self, target: str) -> str | None:
        return None


class BuggyMixed(Buggy):
    def lane(self, target: str) -> str | None:
        return None if "@" in target else target


BUGGY = {"lanes": Buggy, "relay": BuggyRelay, "mixed": BuggyMixed}


@pytest.mark.parametrize("way", WAYS)
def test_a_backend_bug_is_retried_six_times_on_the_schedule_and_logged(
    tmp_path: Path, rigs: list[Rig], way: str, caplog: pytest.LogCaptureFixture
) -> None:
    target = "bug@example.org"
    r = rig(tmp_path, rigs, way, [self_service(target)], recorder=BUGGY[way]())
    caplog.set_level(logging.WARNING, "lfx_cal.delivery")

    async def scenario() -> list[dt.datetime]:
        await r.courier.fire(REMIND)
        tried = [DUE]
        for _ in range(10):  # more rounds than attempts: the cap must stop it
            row = r.rows()[target]
            if row.retry_at is None:
                break
            r.clock.now = at(row.retry_at)
            await r.courier.sweep()
            tried.append(r.clock.now)
        return tried

    tried = asyncio.run(scenario())
    assert [(b - a) / S for a, b in itertools.pairwise(tried)] == [30, 60, 120, 240, 480]
    row = r.rows()[target]
    assert (row.status, row.attempts, row.retry_at) == ("failed", 6, None)
    # The stored error is cut at 500 characters; the log names the subscription.
    assert row.error == "RuntimeError: bug@example.org " + "x" * 470
    assert len([t for _, t in r.recorder.attempts if t == target]) == 6
    errors = [rec for rec in caplog.records if rec.levelno == logging.ERROR]
    assert [rec.getMessage() for rec in errors] == [
        "delivery apps@lfx-cal -> self-7: unexpected error"
    ] * 6
    assert all(isinstance(rec.exc_info and rec.exc_info[1], RuntimeError) for rec in errors)
    assert (r.count("retried"), r.count("failed")) == (5, 1)


@pytest.mark.parametrize("way", WAYS)
def test_a_permanent_failure_is_final(tmp_path: Path, rigs: list[Rig], way: str) -> None:
    r = rig(tmp_path, rigs, way, [team("ann@x.org")])
    r.recorder.fail("ann@x.org", PermanentError("channel_not_found"))
    asyncio.run(r.courier.fire(REMIND))
    row = r.rows()["ann@x.org"]
    assert (row.status, row.retry_at, row.error) == (
        "failed",
        None,
        "PermanentError: channel_not_found",
    )
    assert r.count("failed") == 1


# -- what a message carries: the subscriber's feed, zone and links; the program's rules --------

DATED = Event("eval@lfx-cal", "lfx-2031-t2", "Final mentee evaluations due", dt.date(2031, 6, 10),
              categories=("evaluation",))  # fmt: skip
"""A deadline given as a date only: with ``date_deadline_time`` it closes at that local time."""
BERLIN = Service(timezone="Europe/Berlin", date_deadline_time=dt.time(17, 0),
                 misfire_grace=dt.timedelta(hours=1))  # fmt: skip


def test_each_message_carries_its_subscribers_feed_zone_and_links(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    subscriptions = [team("#team"), self_service("ann@example.org")]
    r = rig(tmp_path, rigs, "relay", subscriptions, feed_url=FEED, service=BERLIN)
    asyncio.run(r.courier.fire(REMIND))
    sent = r.sent()
    assert sent["#team"].feed_url == "https://cal.example/feeds/all.ics?category=application"
    assert sent["ann@example.org"].feed_url == "https://cal.example/feeds/mentee.ics"
    assert (sent["#team"].zone, sent["#team"].unsubscribe) == ("Europe/Berlin", None)
    assert (sent["ann@example.org"].zone, sent["ann@example.org"].unsubscribe) == (
        "Asia/Tokyo",
        UNSUB,
    )
    assert sent["#team"].lead == DAY


@pytest.mark.parametrize("how", ["fire", "sweep"])
def test_a_date_only_deadline_closes_at_the_configured_local_time(
    tmp_path: Path, rigs: list[Rig], how: str
) -> None:
    # 17:00 in Berlin (CEST) is 15:00 UTC; without the rule it would be the end of the day.
    closes = dt.datetime(2031, 6, 10, 15, tzinfo=dt.UTC)
    job = Job(Kind.REMINDER, DATED.uid, DAY, closes, closes - DAY)
    subscription = Subscription("eval", "recorder", ("#eval",), frozenset({"evaluation"}),
                                leads=(DAY,))  # fmt: skip
    r = rig(tmp_path, rigs, "relay", [subscription], now=closes - DAY, service=BERLIN)
    r.courier.know({DATED.uid: DATED})

    async def scenario() -> None:
        if how == "fire":
            await r.courier.fire(job)
            return
        key = Key.of("eval", Kind.REMINDER, DATED.uid, DAY, closes, "#eval")
        await asyncio.to_thread(r.store.ensure, [(key, closes - DAY)], closes - DAY)
        await r.courier.sweep()

    asyncio.run(scenario())
    (message,) = r.recorder.messages_to("#eval")
    assert (message.deadline, message.all_day, message.zone) == (closes, False, "Europe/Berlin")


def test_an_opening_sent_late_states_no_time_left(tmp_path: Path, rigs: list[Rig]) -> None:
    opens = dt.datetime(2031, 5, 21, 16, tzinfo=dt.UTC)
    job = Job(Kind.OPENING, UID, dt.timedelta(0), opens, opens)
    r = rig(tmp_path, rigs, "lanes", [team("#team")], now=opens + dt.timedelta(minutes=10))
    asyncio.run(r.courier.fire(job))
    (message,) = r.recorder.messages_to("#team")
    assert (message.kind, message.lead) == ("opening", dt.timedelta(0))


# -- the slow-failure shortcut and the lease on the relay's run -------------------------------


@pytest.mark.parametrize(("slow", "tried"), [(-1.0, ["ann", "bob"]), (5.0, ["ann", "bob", "cyd"])])
def test_after_a_slow_failure_on_the_relay_the_rest_waits_for_the_retry(
    tmp_path: Path,
    rigs: list[Rig],
    monkeypatch: pytest.MonkeyPatch,
    slow: float,
    tried: list[str],
) -> None:
    # -1 s makes any failure slow (a test cannot wait 5 s); at 5 s a quick failure is not.
    monkeypatch.setattr("scheduler.delivery.SLOW_FAILURE", slow)
    r = rig(tmp_path, rigs, "relay", [team("ann", "bob", "cyd")])
    r.recorder.fail("bob", TransientError("timed out"))
    asyncio.run(r.courier.fire(REMIND))
    assert [t for _, t in r.recorder.attempts] == tried
    rows = r.rows()
    assert (rows["ann"].status, rows["bob"].error) == ("sent", "TransientError: timed out")
    if slow < 0:
        assert (rows["cyd"].status, rows["cyd"].attempts, rows["cyd"].retry_at) == (
            "pending",
            1,
            "2031-06-03T00:00:30Z",
        )
        assert rows["cyd"].error == "not tried: the previous send failed after 0 s"
    else:
        assert rows["cyd"].status == "sent"


def test_a_slow_failure_in_one_channels_lane_holds_up_no_other_channel(
    tmp_path: Path, rigs: list[Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scheduler.delivery.SLOW_FAILURE", -1.0)
    r = rig(tmp_path, rigs, "lanes", [team("#a", "#b", "#c")])
    r.recorder.fail("#a", TransientError("timed out"))
    asyncio.run(r.courier.fire(REMIND))
    assert {t: d.status for t, d in r.rows().items()} == {
        "#a": "pending",
        "#b": "sent",
        "#c": "sent",
    }


@pytest.mark.parametrize("way", ["lanes", "relay"])
def test_not_tried_after_the_sixth_attempt_is_final(
    tmp_path: Path, rigs: list[Rig], monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    monkeypatch.setattr("scheduler.delivery.SLOW_FAILURE", -1.0)
    r = rig(tmp_path, rigs, way, [team("ann", "bob")])
    if way == "lanes":  # one lane for both, as behind one relay
        monkeypatch.setattr(r.recorder, "lane", lambda target: "relay")
    keys = [Key.of("team", Kind.REMINDER, UID, DAY, CLOSE, t) for t in ("ann", "bob")]

    async def scenario() -> None:
        await asyncio.to_thread(r.store.ensure, [(k, DUE) for k in keys], DUE - DAY)
        for n in range(5):  # five failed attempts each: the next is the last
            await asyncio.to_thread(r.store.claim, keys, "me", DUE + n * S, dt.timedelta(0))
            marks = [Mark.failed(k, DUE, "busy", retry_at=DUE) for k in keys]
            await asyncio.to_thread(r.store.mark, marks)
        r.recorder.fail("ann", TransientError("timed out"))
        await r.courier.sweep()

    asyncio.run(scenario())
    rows = r.rows()
    assert [t for _, t in r.recorder.attempts] == ["ann"]
    assert {t: (d.status, d.attempts, d.retry_at) for t, d in rows.items()} == {
        "ann": ("failed", 6, None),
        "bob": ("failed", 6, None),
    }
    assert rows["bob"].error == "not tried: the previous send failed after 0 s"


class Ticking(RecorderNotifier):
    """Each send takes *step* of the test's clock (160 s: more than half the 5-minute lease)."""

    workers = 1

    def __init__(self, clock: Clock, lanes: bool, step: dt.timedelta = 160 * S) -> None:
        super().__init__()
        self.clock, self.lanes, self.step = clock, lanes, step

    def lane(self, target: str) -> str | None:
        return target if self.lanes else None

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        self.clock.now += self.step
        return super().send(message, target, key=key)


@pytest.mark.parametrize("lanes", [True, False])
@pytest.mark.parametrize(("step", "sent"), [(150, ["ann", "bob"]), (160, ["ann"])])
def test_nothing_is_sent_once_half_the_lease_is_spent(
    tmp_path: Path, rigs: list[Rig], lanes: bool, step: int, sent: list[str]
) -> None:
    # 150 s after the claim is exactly half the lease: not yet spent; 160 s is past it.
    clock = Clock(DUE)
    ticking = Ticking(clock, lanes, step * S)
    r = rig(tmp_path, rigs, "lanes", [team("ann", "bob", "cyd")], recorder=ticking)
    r.clock = r.courier.clock = clock
    asyncio.run(r.courier.fire(REMIND))
    assert [t for _, t in ticking.attempts] == sent
    statuses = {t: d.status for t, d in r.rows().items()}
    # the rest stays claimed: its lease runs out and a sweep sends it then
    assert statuses == {t: "sent" if t in sent else "claimed" for t in ("ann", "bob", "cyd")}


@pytest.mark.parametrize("lanes", [True, False])
def test_a_sweep_stops_at_half_its_lease_even_with_more_rows_due(
    tmp_path: Path, rigs: list[Rig], lanes: bool
) -> None:
    clock = Clock(DUE)
    ticking = Ticking(clock, lanes)
    targets = [f"t{n:02d}" for n in range(60)]  # more than one sweep chunk (50)
    r = rig(tmp_path, rigs, "lanes", [team(*targets)], recorder=ticking)
    r.clock = r.courier.clock = clock
    keys = [Key.of("team", Kind.REMINDER, UID, DAY, CLOSE, t) for t in targets]

    async def scenario() -> None:
        await asyncio.to_thread(r.store.ensure, [(k, DUE) for k in keys], DUE - DAY)
        await r.courier.sweep()

    asyncio.run(scenario())
    assert [t for _, t in ticking.attempts] == ["t00"]
    assert r.store.counts() == {"sent": 1, "claimed": 49, "pending": 10}


# -- the ledger's outcome first: never past an unrecorded send --------------------------------


class FailingStore(Store):
    """A ledger that takes no outcome (its disk is full)."""

    def mark(self, marks: Sequence[Mark]) -> None:
        raise RuntimeError("disk full")


@pytest.mark.parametrize("way", WAYS)
def test_a_send_whose_outcome_the_ledger_refused_stops_the_lane_with_the_ledgers_error(
    tmp_path: Path, rigs: list[Rig], way: str
) -> None:
    store = FailingStore(f"sqlite:///{(tmp_path / 'full.db').as_posix()}")
    r = rig(tmp_path, rigs, way, [team("ann@x.org", "bob@x.org")], store=store)
    with pytest.raises(RuntimeError, match=r"^disk full$"):
        asyncio.run(r.courier.fire(REMIND))
    if way == "relay":  # one run: bob is not handed over while ann's outcome is unrecorded
        assert [t for _, t in r.recorder.attempts] == ["ann@x.org"]
    rows = r.rows()  # not recorded as a failed send: claimed, so sent again after the lease
    assert {d.status for d in rows.values()} == {"claimed"}
    assert {d.error for d in rows.values()} == {None}


class SlowStore(Store):
    """A ledger whose first outcome write waits for the test."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writing, self.go = threading.Event(), threading.Event()

    def mark(self, marks: Sequence[Mark]) -> None:
        if not self.writing.is_set():
            self.writing.set()
            assert self.go.wait(5)
        super().mark(marks)


class Enveloped(Relay):
    """A relay with round trips before the point of delivery (SMTP's envelope)."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[str] = []

    def send_after(
        self, ready: Callable[[], None], message: Message, target: str, *, key: str | None = None
    ) -> Receipt:
        self.envelopes.append(target)  # MAIL FROM, RCPT TO: nothing delivered yet
        ready()
        return self.send(message, target, key=key)


def test_the_relay_overlaps_the_next_envelope_with_the_write_but_not_the_delivery(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    store = SlowStore(f"sqlite:///{(tmp_path / 'slow.db').as_posix()}")
    relay = Enveloped()
    r = rig(tmp_path, rigs, "relay", [team("ann@x.org", "bob@x.org")], store=store, recorder=relay)

    async def scenario() -> None:
        fire = asyncio.create_task(r.courier.fire(REMIND))
        assert await asyncio.to_thread(store.writing.wait, 5)  # ann's outcome is being written
        end = time.monotonic() + 2
        while relay.envelopes != ["ann@x.org", "bob@x.org"] and time.monotonic() < end:
            await asyncio.sleep(0.005)
        assert relay.envelopes == ["ann@x.org", "bob@x.org"]  # bob's envelope meanwhile
        end = time.monotonic() + 0.1
        while time.monotonic() < end:  # but bob gets nothing before ann's outcome is in
            assert [t for _, t in relay.attempts] == ["ann@x.org"]
            await asyncio.sleep(0.01)
        store.go.set()
        await asyncio.wait_for(fire, 10)

    asyncio.run(scenario())
    assert [t for _, t in relay.attempts] == ["ann@x.org", "bob@x.org"]
    assert {d.status for d in r.rows().values()} == {"sent"}


class CountingStore(Store):
    """A ledger that is slow to write and counts the sent outcomes it has committed."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.lock = threading.Lock()
        self.committed = 0

    def mark(self, marks: Sequence[Mark]) -> None:
        time.sleep(0.004)
        super().mark(marks)
        with self.lock:
            self.committed += sum(m.status == Status.SENT for m in marks)


class Wide(Relay):
    """A relay over four connections, of which *limit* may be past the envelope at once."""

    workers = 4

    def __init__(self, store: CountingStore, limit: int) -> None:
        super().__init__()
        self.store, self.limit = store, limit
        self.lock = threading.Lock()
        self.delivered = self.in_envelope = 0
        self.most_unrecorded = self.most_envelopes = 0

    @property
    def in_flight(self) -> int:
        return self.limit

    def send_after(
        self, ready: Callable[[], None], message: Message, target: str, *, key: str | None = None
    ) -> Receipt:
        with self.lock:
            self.in_envelope += 1
            self.most_envelopes = max(self.most_envelopes, self.in_envelope)
        time.sleep(0.002)  # MAIL, RCPT, DATA: nothing delivered yet
        with self.lock:
            self.in_envelope -= 1
        ready()
        with self.store.lock, self.lock:  # the body goes out: delivered, not yet recorded
            self.delivered += 1
            unrecorded = self.delivered - self.store.committed
            self.most_unrecorded = max(self.most_unrecorded, unrecorded)
        time.sleep(0.002)  # the relay takes the body and answers 250
        return self.send(message, target, key=key)


@pytest.mark.parametrize("limit", [2, 4])
def test_at_most_in_flight_messages_are_delivered_without_their_outcome_on_record(
    tmp_path: Path, rigs: list[Rig], limit: int
) -> None:
    # Four connections overlap their envelopes; past the envelope only ``in_flight`` go
    # at once, each slot free again once its outcome is committed: what a kill -9 repeats.
    store = CountingStore(f"sqlite:///{(tmp_path / 'wide.db').as_posix()}")
    relay = Wide(store, limit)
    targets = [f"m{n:02d}@x.org" for n in range(40)]
    r = rig(tmp_path, rigs, "relay", [team(*targets)], store=store, recorder=relay)
    asyncio.run(asyncio.wait_for(r.courier.fire(REMIND), 30))
    assert sorted(t for _, t in relay.attempts) == targets  # each once
    assert {d.status for d in r.rows().values()} == {"sent"}
    assert relay.most_envelopes > 2  # the other connections go on meanwhile
    if limit == 2:
        assert relay.most_unrecorded <= 2
    else:  # the same relay unlimited: the check above is not vacuous
        assert relay.most_unrecorded > 2


# -- the sweep: orphans, and each message rebuilt from its ledger key ---------------------------


class SharedStore(Store):
    """SQLite standing in for a shared ledger whose other daemons are all gone.

    (PostgreSQL tells a gone daemon by its free presence lock; here every owner
    other than the caller is gone.)
    """

    def release_orphans(self, owner: str, at: dt.datetime) -> int:
        owners = {d.owner for d in self.deliveries(statuses=[Status.CLAIMED])}
        return sum(self.release(other, at=at) for other in owners if other != owner)


def test_a_sweep_releases_a_gone_daemons_claims_but_not_its_own(
    tmp_path: Path, rigs: list[Rig], caplog: pytest.LogCaptureFixture
) -> None:
    store = SharedStore(f"sqlite:///{(tmp_path / 'shared.db').as_posix()}")
    r = rig(tmp_path, rigs, "lanes", [team("#gone", "#mine")], store=store)
    keys = {t: Key.of("team", Kind.REMINDER, UID, DAY, CLOSE, t) for t in ("#gone", "#mine")}
    caplog.set_level(logging.WARNING, "lfx_cal.delivery")

    async def scenario() -> None:
        await asyncio.to_thread(store.ensure, [(k, DUE) for k in keys.values()], DUE)
        await asyncio.to_thread(store.claim, [keys["#gone"]], "dead", DUE, dt.timedelta(hours=1))
        # this daemon's own claim, being sent by another of its tasks: not an orphan
        await asyncio.to_thread(store.claim, [keys["#mine"]], "me", DUE, dt.timedelta(hours=1))
        r.clock.now = DUE + dt.timedelta(minutes=1)
        await r.courier.sweep()

    asyncio.run(scenario())
    assert [t for _, t in r.recorder.attempts] == ["#gone"]
    rows = r.rows()
    assert (rows["#gone"].status, rows["#gone"].owner) == ("sent", "me")
    assert (rows["#mine"].status, rows["#mine"].owner) == ("claimed", "me")
    assert "released 1 deliveries claimed by a daemon that is gone" in caplog.messages


OPENS = dt.datetime(2031, 5, 21, 16, tzinfo=dt.UTC)
REMOVED = Event("gone-row@lfx-cal", "lfx-2031-t2", "Mentee interviews", dt.date(2031, 6, 1),
                categories=("application",))  # fmt: skip
MOVED = ChangeKey("2031-05-21 → 2031-06-03T00:00:00Z", "2031-05-21 → 2031-06-04T00:00:00Z")


def test_a_sweep_rebuilds_each_message_from_its_ledger_key(
    tmp_path: Path, rigs: list[Rig], caplog: pytest.LogCaptureFixture
) -> None:
    now = CLOSE - dt.timedelta(minutes=30)
    r = rig(tmp_path, rigs, "relay", [team("#team"), self_service("ann@x.org")], now=now,
            feed_url=FEED, service=BERLIN)  # fmt: skip
    zero = dt.timedelta(0)
    keys = {
        "opening": Key.of("team", Kind.OPENING, UID, zero, OPENS, "#team"),
        "today": Key.of("team", Kind.TODAY, UID, zero, CLOSE, "#team"),
        "reminder": Key.of("team", Kind.REMINDER, UID, DAY, CLOSE, "#team"),
        "moved": Key.of("team", Kind.CHANGED, UID, zero, MOVED, "#team"),
        "added": Key.of("team", Kind.CHANGED, UID, zero, ChangeKey(None, MOVED.new), "#team"),
        "personal": Key.of("self-7", Kind.CHANGED, UID, zero, MOVED, "ann@x.org"),
        "removed": Key.of(
            "team", Kind.CHANGED, REMOVED.uid, zero, ChangeKey("2031-06-01", None), "#team"
        ),
        "unknown": Key.of("team", Kind.REMINDER, "nowhere@lfx-cal", DAY, CLOSE, "#team"),
    }
    caplog.set_level(logging.WARNING, "lfx_cal.delivery")

    async def scenario() -> None:
        # the removed row's alert failed once; its event is in no timeline any more
        await r.courier.alert(REMOVED, None, [], removed=True)
        due = now - dt.timedelta(minutes=1)
        await asyncio.to_thread(r.store.ensure, [(k, due) for k in keys.values()], due)
        await r.courier.sweep()

    asyncio.run(scenario())
    by_key = {record.key: record.message for record in r.recorder.sent}
    got = {name: by_key.get("/".join(map(str, key))) for name, key in keys.items()}
    assert {name: m.kind if m else None for name, m in got.items()} == {
        "opening": "opening",
        "today": "today",
        "reminder": "reminder",
        "moved": "changed",
        "added": "changed",
        "personal": "changed",
        "removed": "changed",
        "unknown": None,
    }
    titles = {name: m.title for name, m in got.items() if m}
    assert titles == {
        "opening": "Mentee applications are open until Wed, Jun 4, 2:00 AM CEST (00:00 UTC)",
        "today": "Today: mentee applications",
        "reminder": "Mentee applications close in 30 minutes — "
        "Wed, Jun 4, 2:00 AM CEST (00:00 UTC)",
        "moved": f"Changed: Mentee applications — the dates moved to {MOVED.new}",
        "added": f"New: Mentee applications — {MOVED.new}",
        "personal": f"Changed: Mentee applications — the dates moved to {MOVED.new}",
        "removed": "Removed: Mentee interviews",
    }
    looks = {name: (m.zone, m.feed_url, m.unsubscribe) for name, m in got.items() if m}
    team_look = ("Europe/Berlin", "https://cal.example/feeds/all.ics?category=application", None)
    assert looks == {
        **dict.fromkeys(["opening", "today", "reminder", "moved", "added", "removed"], team_look),
        "personal": ("Asia/Tokyo", "https://cal.example/feeds/mentee.ics", UNSUB),
    }
    # the removed row's date-only close follows the program's rules: 17:00 in Berlin
    removed = got["removed"]
    assert removed is not None
    assert (removed.deadline, removed.all_day) == (
        dt.datetime(2031, 6, 1, 15, tzinfo=dt.UTC),
        False,
    )
    unknown = next(d for d in r.store.deliveries() if d.key.uid == "nowhere@lfx-cal")
    assert (unknown.status, unknown.retry_at, unknown.error) == (
        "failed",
        None,
        "the event is no longer in any timeline",
    )
    assert r.count("failed") == 1
    assert (
        "delivery nowhere@lfx-cal -> #team failed: the event is no longer in any timeline"
        in caplog.messages
    )


# -- stopping, presence, chunks -----------------------------------------------------------------


def test_a_stopped_courier_claims_and_sends_nothing(tmp_path: Path, rigs: list[Rig]) -> None:
    r = rig(tmp_path, rigs, "lanes", [team("ann")])
    assert r.courier.stopping is False
    r.courier.stop()
    assert r.courier.stopping is True
    asyncio.run(r.courier.fire(REMIND))
    assert r.recorder.attempts == [] and r.store.deliveries() == []


def test_a_courier_told_no_events_yet_fires_nothing(tmp_path: Path, rigs: list[Rig]) -> None:
    store = Store(f"sqlite:///{(tmp_path / 'new.db').as_posix()}")
    courier = Courier(store, {"recorder": RecorderNotifier()}, subscriptions=[team("ann")],
                      service=Service(), clock=Clock(DUE), owner="me", metrics=Metrics(),
                      feed_url=None)  # fmt: skip
    try:
        asyncio.run(courier.fire(REMIND))
        assert store.deliveries() == []
    finally:
        store.close()


class PresenceStore(Store):
    """SQLite with PostgreSQL's presence rule: a daemon's session may be lost (and retaken)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sessions: dict[str, bool] = {}

    def hold(self, owner: str) -> bool:
        if owner not in self.sessions:
            self.sessions[owner] = True
            return True
        held, self.sessions[owner] = self.sessions[owner], True
        return held


@pytest.mark.parametrize("how", ["fire", "sweep"])
def test_a_daemon_that_lost_its_presence_abandons_what_it_claimed(
    tmp_path: Path, rigs: list[Rig], how: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = PresenceStore(f"sqlite:///{(tmp_path / 'presence.db').as_posix()}")
    r = rig(tmp_path, rigs, "lanes", [team("ann", "bob")], store=store)
    caplog.set_level(logging.WARNING, "lfx_cal.delivery")
    first, second = (Key.of("team", Kind.REMINDER, UID, DAY, CLOSE, t) for t in ("ann", "bob"))

    async def scenario() -> None:
        store.hold("me")  # the daemon announced itself at start
        store.sessions["me"] = False  # ... and its session was lost since
        if how == "fire":
            await r.courier.fire(REMIND)
        else:
            await asyncio.to_thread(store.ensure, [(first, DUE), (second, DUE)], DUE)
            await r.courier.sweep()

    asyncio.run(scenario())
    assert r.recorder.attempts == []
    assert {d.status for d in r.rows().values()} == {"claimed"}  # back after the lease
    assert caplog.messages == [
        "lost the database session that marks this daemon alive; chunk abandoned"
    ]


class Counting(Store):
    """Counts the ledger's transactions: rows written and keys claimed per call."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.calls: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def ensure(self, rows: Sequence[tuple[Key, dt.datetime]], at: dt.datetime) -> None:
        with self.lock:
            self.calls.append(("ensure", len(rows)))
        super().ensure(rows, at)

    def claim(
        self, keys: Sequence[Key], owner: str, now: dt.datetime, lease: dt.timedelta
    ) -> list[Key]:
        with self.lock:
            self.calls.append(("claim", len(keys)))
        return super().claim(keys, owner, now, lease)

    def claims(self) -> int:
        with self.lock:
            return sum(1 for what, _ in self.calls if what == "claim")


class Waiting(Relay):
    """The first send of each chunk waits (up to 2 s) until the next chunk is claimed."""

    def __init__(self, store: Counting, firsts: dict[str, int]) -> None:
        super().__init__()
        self.store, self.firsts = store, firsts
        self.overlapped: list[str] = []

    def send(self, message: Message, target: str, *, key: str | None = None) -> Receipt:
        if target in self.firsts:
            end = time.monotonic() + 2
            while self.store.claims() < self.firsts[target] and time.monotonic() < end:
                time.sleep(0.002)
            if self.store.claims() >= self.firsts[target]:
                self.overlapped.append(target)
        return super().send(message, target, key=key)


def test_a_fan_out_is_written_and_claimed_chunk_by_chunk_the_next_while_this_one_is_sent(
    tmp_path: Path, rigs: list[Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scheduler.delivery.CHUNK", 2)
    store = Counting(f"sqlite:///{(tmp_path / 'count.db').as_posix()}")
    targets = ("a", "b", "c", "d", "e")
    relay = Waiting(store, {"a": 2, "c": 3})  # chunks (a, b), (c, d), (e)
    r = rig(tmp_path, rigs, "relay", [team(*targets)], store=store, recorder=relay)
    asyncio.run(r.courier.fire(REMIND))
    assert store.calls == [("ensure", 2), ("claim", 2)] * 2 + [("ensure", 1), ("claim", 1)]
    assert relay.overlapped == ["a", "c"]
    assert sorted(t for _, t in relay.attempts) == list(targets)  # each once
    assert {d.status for d in r.rows().values()} == {"sent"}


def test_relay_runners_sharing_a_queue_beside_channel_lanes_send_each_once(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    # More runners than relay messages left: a runner may find the queue empty once it is let in.
    targets = ("a@x.org", "b@x.org", "c@x.org", "#x", "#y")
    r = rig(tmp_path, rigs, "mixed", [team(*targets)])
    asyncio.run(r.courier.fire(REMIND))
    assert sorted(t for _, t in r.recorder.attempts) == sorted([*targets, "#side"])
    assert {d.status for d in r.rows().values()} == {"sent"}


def test_a_row_of_a_removed_subscription_does_not_hold_up_the_others(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    r = rig(tmp_path, rigs, "lanes", [team("#team")])
    keys = [Key.of(name, Kind.REMINDER, UID, DAY, CLOSE, "#" + name) for name in ("team", "old")]

    async def scenario() -> None:
        await asyncio.to_thread(r.store.ensure, [(k, DUE) for k in keys], DUE)
        await r.courier.sweep()

    asyncio.run(scenario())
    assert [t for _, t in r.recorder.attempts] == ["#team"]
    rows = r.rows()
    assert rows["#team"].status == "sent"
    assert rows["#old"].status == "failed"  # for good: nobody to send it to any more
    assert rows["#old"].error == "subscription 'old' is no longer configured"


class Hurry:
    """Stands in for the group commit: counts hurry() and relax()."""

    def __init__(self) -> None:
        self.hurried = self.relaxed = 0

    def hurry(self) -> None:
        self.hurried += 1

    def relax(self) -> None:
        self.relaxed += 1


def test_slots_count_out_take_wait_give_and_time_out() -> None:
    hurry = Hurry()
    marks = cast(GroupCommit, hurry)
    one = _Slots(1)
    one.take(marks, timeout=1)
    with pytest.raises(TimeoutError, match=r"no outcome was recorded for 0\.05 s"):
        one.take(marks, timeout=0.05)
    assert (hurry.hurried, hurry.relaxed, one.wanted) == (1, 1, 0)  # hurried only to wait
    two = _Slots(2)
    two.take(marks, timeout=1)
    two.take(marks, timeout=1)
    two.give()
    two.give()
    two.take(marks, timeout=1)
    two.take(marks, timeout=1)  # both came back
    assert (hurry.hurried, one.wanted, two.wanted) == (1, 0, 0)
    assert _Slots(0)._free == 1  # never none


def test_a_lane_waiting_for_a_slot_is_counted_and_gets_the_one_given_back() -> None:
    hurry = Hurry()
    marks = cast(GroupCommit, hurry)
    slots = _Slots(1)
    slots.take(marks, timeout=1)
    got: list[int] = []

    def lane() -> None:
        slots.take(marks, 5)
        got.append(1)

    waiters = [threading.Thread(target=lane) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    end = time.monotonic() + 5
    while slots.wanted < 2 and time.monotonic() < end:
        time.sleep(0.005)
    assert slots.wanted == 2 and hurry.hurried == 2 and got == []
    slots.give()  # one slot: one waiter goes on, the other still waits
    end = time.monotonic() + 5
    while not got and time.monotonic() < end:
        time.sleep(0.005)
    time.sleep(0.05)
    assert got == [1] and slots.wanted == 1
    slots.give()
    for waiter in waiters:
        waiter.join(5)
    assert got == [1, 1] and slots.wanted == 0 and hurry.relaxed == 2
