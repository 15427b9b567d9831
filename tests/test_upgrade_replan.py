"""Upgrading a running service re-plans its reminders without sending any twice (real SQLite).

Earlier versions keyed a date-only close by the *start* of its day; the meaning
model (feeds/meaning.py) closes it at the *end* of the day, so the ledger key
and the due time of every such reminder move. Rows the old version wrote are
carried over on start: what it sent is not sent again, what it had pending is
re-planned under the new key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

from feeds.load import parse_document
from feeds.sources import read
from notifiers import RecorderNotifier
from scheduler.config import Source, parse_config
from scheduler.daemon import Daemon
from scheduler.ledger_base import Move
from scheduler.plan import REMINDER
from scheduler.poll import content_digest, poll
from scheduler.schema import DeliveryKey
from scheduler.store import Store

DOC = """# Term 02 - 2031 June - August

### Timeline

| Activity | Dates |
|---|---|
| Mentee Applications | Wed, May 21 – Tue, Jun 3, 2031 |
"""
CONFIG = """
[service]
database = "sqlite:///{db}"
[[sources]]
name = "t"
path = "{doc}"
[[subscriptions]]
name = "mentees"
notifier = "recorder"
target = ["ok", "flaky"]
role = "mentee"
leads = ["7d", "1d"]
"""
UID = "lfx-2031-t2-mentee-applications@lfx-cal"
OLD_KEY = "2031-06-03T07:00:00Z"  # 00:00 PDT on Jun 3: what the old version keyed
NEW_KEY = "2031-06-04T07:00:00Z"  # the end of Jun 3 in PDT: the new model's close
WEEK, DAY = 7 * 86400, 86400


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_an_upgrade_re_plans_without_sending_twice(tmp_path: Path) -> None:
    doc = tmp_path / "term.md"
    doc.write_text(DOC)
    db = tmp_path / "ledger.sqlite3"
    config = parse_config(CONFIG.format(db=db.as_posix(), doc=doc.as_posix()), "c.toml")

    # What the previous version left in the ledger: its 7d reminder (due 07:00 UTC May 27)
    # went to "ok"; "flaky" failed transiently and waits for a retry.
    with Store(config.service.database) as old:
        sent = DeliveryKey("mentees", REMINDER, UID, WEEK, OLD_KEY, "ok")
        retry = sent._replace(target="flaky")
        old.ensure(
            [(sent, at("2031-05-27T07:00")), (retry, at("2031-05-27T07:00"))],
            at("2031-05-27T07:00"),
        )
        assert old.claim([sent, retry], "old", at("2031-05-27T07:00"), dt.timedelta(minutes=5))
        old.mark_sent(sent, at("2031-05-27T07:00"), late=False, receipt="r1")
        old.mark_failed(retry, at("2031-05-27T07:00"), "busy", retry_at=at("2031-05-27T07:40"))

    async def run(clock: Clock) -> tuple[Daemon, RecorderNotifier]:
        recorder = RecorderNotifier()
        daemon = Daemon(config, Store(config.service.database), {"recorder": recorder}, clock=clock)
        await daemon.start()
        return daemon, recorder

    async def scenario() -> None:
        clock = Clock(at("2031-05-27T07:20"))  # the upgrade
        daemon, recorder = await run(clock)
        try:
            jobs = {(j.kind, j.lead.days): j for j in daemon._planned.values()}
            week, day = jobs[(REMINDER, 7)], jobs[(REMINDER, 1)]
            assert week.due == at("2031-05-28T07:00") and day.due == at("2031-06-03T07:00")
            # the retry the old version had pending (within misfire_grace) is not sent
            # under its old key: it is re-planned under the new one
            clock.now = at("2031-05-27T07:41")
            await daemon.courier.sweep()
            assert recorder.sent == []
            # the re-planned 7d reminder reaches only the target that never got it
            clock.now = week.due
            await daemon.courier.fire(week)
            assert [r.target for r in recorder.sent] == ["flaky"]
            clock.now = day.due
            await daemon.courier.fire(day)
            sent = [r.target for r in recorder.sent]  # the day's two lanes run side by side
            assert sent[0] == "flaky" and sorted(sent[1:]) == ["flaky", "ok"]
        finally:
            await daemon.stop()
        rows = {(d.key.lead_s, d.key.instant, d.key.target): d for d in daemon.store.deliveries()}
        assert rows[(WEEK, OLD_KEY, "ok")].status == "sent"
        assert rows[(WEEK, OLD_KEY, "flaky")].status == "cancelled"
        assert rows[(WEEK, NEW_KEY, "ok")].status == "skipped"
        assert "already sent" in (rows[(WEEK, NEW_KEY, "ok")].error or "")
        assert rows[(WEEK, NEW_KEY, "flaky")].status == "sent"
        assert {rows[(DAY, NEW_KEY, t)].status for t in ("ok", "flaky")} == {"sent"}
        daemon.store.close()

        # A restart (same ledger) plans and fires again: nothing more is sent.
        again, recorder2 = await run(Clock(at("2031-06-03T07:00")))
        try:
            for job in list(again._planned.values()):
                await again.courier.fire(job)
            await again.courier.sweep()
            assert recorder2.sent == []
        finally:
            await again.stop()
            again.store.close()

    asyncio.run(scenario())


def test_rows_this_model_wrote_are_never_carried_over(tmp_path: Path) -> None:
    """A legacy-looking key written after the upgrade is another deadline's, not this one's.

    The end of Jun 2 is 00:00 PDT on Jun 3: the very instant the old model used
    for a Jun 3 close. A reminder sent for a Jun 2 close that later moved to
    Jun 3 must not suppress the Jun 3 reminder.
    """
    with Store(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as store:
        assert store.carry_over([], at("2031-05-01T00:00")) == (0, 0)  # the model takes over
        mine = DeliveryKey("mentees", REMINDER, UID, WEEK, OLD_KEY, "ok")
        store.ensure([(mine, at("2031-05-26T07:00"))], at("2031-05-26T07:00"))
        store.claim([mine], "me", at("2031-05-26T07:00"), dt.timedelta(minutes=5))
        store.mark_sent(mine, at("2031-05-26T07:00"), late=False, receipt="r")
        week = dt.timedelta(seconds=WEEK)
        new, old = dt.datetime.fromisoformat(NEW_KEY), dt.datetime.fromisoformat(OLD_KEY)
        move = Move(REMINDER, UID, week, new, old)
        assert store.carry_over([move], at("2031-05-27T00:00")) == (0, 0)
        assert [d.key for d in store.deliveries()] == [mine]


ZONED = """# Term 02 - 2031 June - August

### Timeline

| Activity | Dates |
|---|---|
| Mentee Applications Open | Mon, Aug 4, 2031 00:00 UTC – Tue, Aug 19, 2031 5PM PDT |
"""


def test_a_version_stored_before_written_zones_is_read_once_more(tmp_path: Path) -> None:
    """An unchanged document whose stored version has no written zones is parsed again."""
    doc = tmp_path / "term.md"
    doc.write_text(ZONED)
    zone = "America/Los_Angeles"
    parsed = parse_document(read(str(doc)), zone=zone)
    assert any(e.zones != (None, None) for e in parsed.events)
    bare = dataclasses.replace(
        parsed, events=tuple(dataclasses.replace(e, zones=(None, None)) for e in parsed.events)
    )
    old_digest = hashlib.sha256(f"{zone}\0{ZONED}".encode()).hexdigest()  # the digest before
    assert old_digest != content_digest(ZONED, zone)
    now = at("2031-07-01T00:00:00")
    with Store(f"sqlite:///{(tmp_path / 's.db').as_posix()}") as store:
        store.save_version("t", old_digest, bare, now)
        result = poll(Source("t", str(doc)), store, zone, now)
        assert result.error is None and not result.first
        assert not (result.diff.added or result.diff.removed or result.diff.moved)
        last = store.last_good("t")
        assert last is not None and last[0] == content_digest(ZONED, zone)
        assert [e.zones for e in last[1].events] == [e.zones for e in parsed.events]
        # read once: the next poll of the same text parses nothing and changes nothing
        again = poll(Source("t", str(doc)), store, zone, now)
        assert again.timeline == last[1] and not again.diff.moved
