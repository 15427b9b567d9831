"""Fan-out at scale (issue 14): batched ledger work, lanes per far end, backlog in /metrics.

Real parts on loopback: SQLite files and the tests' PostgreSQL server, aiosmtpd,
a silent SMTP server, the Slack stand-in with the real slack-sdk client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from notifiers import RecorderNotifier, create
from notifiers.slack import SlackNotifier
from scheduler import ledger, ledger_postgres
from scheduler.daemon import Daemon
from scheduler.ledger_base import DeliveryKey, Kind, Mark, Status
from scheduler.store import Store
from tests._postgres import fresh_database
from tests._servers_hostile import SilentSMTP
from tests._servers_slack import FakeSlack, Reply
from tests._servers_smtp import Handler, start_plain
from tests.test_bounded_waits import DUE, config
from tests.test_poll_delivery import Clock

T0 = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)


def keys(count: int, uid: str = "e@lfx-cal") -> list[DeliveryKey]:
    return [
        DeliveryKey(f"s{n:05d}", Kind.REMINDER, uid, 3600, "2031-06-03T01:00:00Z", f"u{n}@x.org")
        for n in range(count)
    ]


def test_marks_in_one_batch_backlog_and_progress(tmp_path: Path) -> None:
    with Store(f"sqlite:///{(tmp_path / 'l.db').as_posix()}") as store:
        wanted, other = keys(6), keys(2, uid="other@lfx-cal")
        store.ensure([(k, T0) for k in wanted + other], T0)
        assert store.backlog(T0 - dt.timedelta(seconds=1)).rows == 0
        assert store.claim(wanted, "me", T0, dt.timedelta(minutes=5)) == wanted
        later = T0 + dt.timedelta(seconds=30)
        store.mark(
            [
                Mark.sent(wanted[0], later, late=False, receipt="id-0"),
                Mark.sent(wanted[1], later, late=True, receipt="id-1"),
                Mark.failed(wanted[2], later, "4xx", retry_at=later + dt.timedelta(minutes=1)),
                Mark.failed(wanted[3], later, "5xx", retry_at=None),
            ]
        )
        rows = {d.key: d for d in store.deliveries()}
        assert (rows[wanted[0]].status, rows[wanted[0]].receipt) == (Status.SENT, "id-0")
        assert rows[wanted[1]].late and rows[wanted[1]].sent_at == "2031-06-03T00:00:30Z"
        assert (rows[wanted[2]].status, rows[wanted[2]].retry_at) == (
            Status.PENDING,
            "2031-06-03T00:01:30Z",
        )
        assert (rows[wanted[3]].status, rows[wanted[3]].error) == (Status.FAILED, "5xx")
        assert rows[wanted[4]].status == Status.CLAIMED  # untouched by the batch
        backlog = store.backlog(later)  # 2 claimed, 1 retry pending, 2 of the other event
        assert (backlog.rows, backlog.oldest_due) == (5, T0)
        going = {p.uid: p for p in store.progress(later)}
        assert (going["e@lfx-cal"].total, going["e@lfx-cal"].done) == (6, 3)  # 2 sent, 1 failed
        assert going["e@lfx-cal"].left == 3 and going["other@lfx-cal"].left == 2


def test_a_claim_is_one_index_lookup_per_key_on_postgresql(postgres_url: str) -> None:
    """EXPLAIN: a chunk much smaller than the ledger is claimed by index lookups, not a scan.

    (With a chunk that is a large part of a small ledger PostgreSQL rightly
    prefers one hash join over a scan: then the scan is the cheaper O(chunk).)
    """
    with fresh_database(postgres_url) as url, Store(url) as store:
        big = keys(6000, uid="big@lfx-cal")
        later = T0 + dt.timedelta(days=7)  # the ledger: mostly reminders due later
        store.ensure([(k, later if n % 100 else T0) for n, k in enumerate(big)], T0)
        engine = store._engine
        with engine.begin() as conn:
            conn.execute(text("ANALYZE deliveries"))
            chunk = big[3000:3010]
            when = dt.datetime(2031, 6, 3, tzinfo=dt.UTC)
            claim = ledger_postgres.claim(conn, chunk, "me", when, dt.timedelta(minutes=5))
            assert claim == list(chunk)
            statement = ledger_postgres._claim_by_arrays().compile(engine)  # what PostgreSQL runs
            times = {"c_owner": "me", "c_now": "2031-06-03T00:00:00Z", "c_until": "2031-06-04"}
            bound = statement.construct_params({**times, **ledger_postgres._array_params(chunk)})
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}", bound)
            lines = "\n".join(row[0] for row in plan)
            due = ledger.select(ledger._D.id).where(ledger._D.due <= "2031-06-03T00:00:00Z")
            due_plan = conn.execute(
                text(
                    "EXPLAIN "
                    + str(
                        due.where(ledger._claimable("2031-06-03T00:00:00Z", indexed=True))
                        .limit(50)
                        .compile(engine, compile_kwargs={"literal_binds": True})
                    )
                )
            )
            due_lines = "\n".join(row[0] for row in due_plan)
    assert "Seq Scan on deliveries" not in lines, lines
    assert "uq_deliveries_key" in lines, lines
    assert "Seq Scan on deliveries" not in due_lines, due_lines


def test_smtp_connections_send_side_by_side_each_message_once(tmp_path: Path) -> None:
    handler = Handler(delay=0.02)  # a relay slow enough that no lane empties the queue alone
    controller = start_plain(handler)
    targets = [f"m{n}@example.net" for n in range(24)]
    conf = config(tmp_path, "email", targets)
    table = {"host": "127.0.0.1", "port": controller.port, "security": "none"}
    email = create("email", {**table, "from": "lfx@example.org", "connections": 3})
    try:

        async def scenario() -> None:
            notifiers: dict[str, Any] = {"email": email, "recorder": RecorderNotifier()}
            daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))
            await daemon.start()
            try:
                job = next(j for j in daemon._planned.values() if "applications" in j.uid)
                await daemon.courier.fire(job)
                counts = await asyncio.to_thread(daemon.store.counts)
                assert counts == {Status.SENT: 25}
                metrics = (await asyncio.to_thread(daemon.metrics.render)).decode()
                assert 'lfxcal_notifier_sends_total{notifier="email"} 24.0' in metrics
                assert "lfxcal_delivery_backlog 0.0" in metrics
                assert 'lfxcal_notifier_send_rate{notifier="email"} 2.4' in metrics
            finally:
                await daemon.stop()

        asyncio.run(scenario())
    finally:
        email.close()
        controller.stop()
    got = sorted(r for m in handler.messages for r in m.rcpt_tos)
    assert got == sorted(targets)  # each once
    assert handler.connections == 3  # the pool, each connection reused


class Bodies(Handler):
    """A slow relay that counts the message bodies it is taking at once."""

    now = 0
    most = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return await super().handle_DATA(server, session, envelope)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize("in_flight", [2, 4])
def test_four_connections_put_at_most_in_flight_bodies_on_the_wire(
    tmp_path: Path, in_flight: int
) -> None:
    # The defaults: 4 connections, 2 in flight. What a kill -9 may repeat is bounded by
    # in_flight; the other connections go through MAIL, RCPT and DATA meanwhile.
    handler = Bodies(delay=0.02)
    controller = start_plain(handler)
    targets = [f"m{n}@example.net" for n in range(24)]
    conf = config(tmp_path, "email", targets)
    table = {"host": "127.0.0.1", "port": controller.port, "security": "none"}
    extra = {} if in_flight == 2 else {"in_flight": in_flight}
    email = create("email", {**table, "from": "lfx@example.org", **extra})
    assert (email.parallel, email.in_flight) == (4, in_flight)
    try:

        async def scenario() -> None:
            notifiers: dict[str, Any] = {"email": email, "recorder": RecorderNotifier()}
            daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))
            await daemon.start()
            try:
                job = next(j for j in daemon._planned.values() if "applications" in j.uid)
                await daemon.courier.fire(job)
                assert await asyncio.to_thread(daemon.store.counts) == {Status.SENT: 25}
            finally:
                await daemon.stop()

        asyncio.run(scenario())
    finally:
        email.close()
        controller.stop()
    assert sorted(r for m in handler.messages for r in m.rcpt_tos) == sorted(targets)
    assert handler.connections == 4
    if in_flight == 2:
        assert handler.most == 2  # never more, and the limit is used
    else:
        assert handler.most > 2  # so the check above is not vacuous


def test_a_hung_relay_and_a_429_for_an_hour_hold_only_their_own(tmp_path: Path) -> None:
    """E-mail to a silent server and a Slack channel told to wait 1 h; the rest goes at once."""
    silent = SilentSMTP()
    conf = config(tmp_path, "slack", ["#one", "#two"])
    first = conf.subscriptions[0]
    mail = replace(first, name="mail", notifier="email", targets=("a@example.net", "b@example.net"))
    conf = replace(conf, subscriptions=(*conf.subscriptions, mail))
    table = {"host": "127.0.0.1", "port": silent.port, "security": "none", "timeout": 1.5}
    email = create("email", {**table, "from": "lfx@example.org", "connections": 2})
    recorder = RecorderNotifier()
    try:
        with FakeSlack() as slack:
            slack.then(
                "/api/chat.postMessage",
                Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3600"}),
            )
            settings = {"token_env": "T", "base_url": slack.base_url, "timeout": 5}
            chat = SlackNotifier.from_config(settings, {"T": "xoxb-test"})

            async def scenario() -> None:
                notifiers: dict[str, Any] = {"email": email, "slack": chat, "recorder": recorder}
                daemon = Daemon(conf, Store(conf.service.database), notifiers, clock=Clock(DUE))
                await daemon.start()
                try:
                    job = next(j for j in daemon._planned.values() if "applications" in j.uid)
                    fire = asyncio.create_task(daemon.courier.fire(job))
                    rows: dict[str, Any] = {}
                    for _ in range(200):  # until Slack's outcomes are in the ledger
                        rows = {
                            d.key.target: d
                            for d in await asyncio.to_thread(daemon.store.deliveries)
                        }
                        statuses = {t: d.status for t, d in rows.items()}
                        if statuses.get("ok") == "sent" and {
                            statuses.get("#one"),
                            statuses.get("#two"),
                        } <= {"pending", "sent"}:
                            break
                        await asyncio.sleep(0.01)
                    # both lanes of the relay are still waiting for it; the rest is done
                    assert rows["a@example.net"].status == rows["b@example.net"].status == "claimed"
                    assert recorder.sent and rows["ok"].status == "sent"
                    slack_rows = sorted(rows[c].status for c in ("#one", "#two"))
                    assert slack_rows == ["pending", "sent"]
                    for _ in range(200):  # the relay has seen both lanes connect
                        if silent.connections == 2:
                            break
                        await asyncio.sleep(0.01)
                    assert silent.connections == 2
                    await asyncio.wait_for(fire, 30)
                    rows = {
                        d.key.target: d for d in await asyncio.to_thread(daemon.store.deliveries)
                    }
                    waiting = next(rows[c] for c in ("#one", "#two") if rows[c].status == "pending")
                    assert waiting.retry_at == "2031-06-03T01:00:00Z"  # Retry-After: 3600
                    assert {rows[t].status for t in ("a@example.net", "b@example.net")} == {
                        "pending"
                    }
                finally:
                    await daemon.stop()

            asyncio.run(scenario())
    finally:
        email.close()
        silent.close()


def test_group_commit_writes_what_gathered_meanwhile_in_one_call(tmp_path: Path) -> None:
    from scheduler.outcomes import GroupCommit

    calls: list[int] = []
    gate = threading.Event()

    def write(marks: Any) -> None:
        calls.append(len(marks))
        gate.wait(5)

    async def scenario() -> None:
        commit = GroupCommit(write)
        first = asyncio.create_task(
            commit.record(Mark.sent(keys(1)[0], T0, late=False, receipt=""))
        )
        await asyncio.sleep(0.05)  # the first write is under way, holding the writer
        rest = [
            asyncio.create_task(commit.record(Mark.sent(k, T0, late=False, receipt="")))
            for k in keys(5)
        ]
        for _ in range(500):  # until all five wait behind it
            if len(commit._waiting) == 5:
                break
            await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())
    assert calls == [1, 5]


def test_reminders_shows_a_fan_out_in_progress(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lfx_cal.cli import cli
    from tests.test_operate import write

    config = write(tmp_path)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Store(f"sqlite:///{(tmp_path / 's.db').as_posix()}") as store:
        going = keys(5, uid="going@lfx-cal")
        store.ensure([(k, now - dt.timedelta(seconds=90)) for k in going], now)
        store.mark([Mark.sent(k, now, late=False, receipt="") for k in going[:2]])
    result = CliRunner().invoke(cli, ["reminders", "--config", str(config)])
    assert "in progress (1):" in result.output, result.output
    assert "reminder 1h  going@lfx-cal: 2 of 5 done, 3 left, due 9" in result.output


def test_a_submitted_mark_is_written_without_anyone_waiting_and_errors_reach_the_ticket() -> None:
    from scheduler.outcomes import GroupCommit

    written = threading.Event()
    batches: list[int] = []

    def write(marks: Any) -> None:
        batches.append(len(marks))
        if len(batches) == 2:
            raise RuntimeError("disk full")
        written.set()

    commit = GroupCommit(write)
    first = commit.submit(Mark.sent(keys(1)[0], T0, late=False, receipt=""))
    assert written.wait(5)  # the writer thread took it: nobody called wait()
    assert first.done and first.error is None
    first.wait()  # returns at once, again and again
    second = commit.submit(Mark.sent(keys(2)[1], T0, late=False, receipt=""))
    with pytest.raises(RuntimeError, match="disk full"):
        second.wait()
    assert batches == [1, 1]
