"""The SQL ledger's promises on a real SQLite file (issue 17: mutation score of ledger.py).

What each statement leaves in the rows the courier and the operator read:
which rows a claim takes and in what order, what an outcome clears, what a
skip, a cancel, a release and a carry-over touch (and what they leave alone),
and what ``backlog``/``progress``/``listing`` report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from scheduler.ledger_base import DeliveryKey, Kind, Mark, Move, Status
from scheduler.store import Store

T0 = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
LEASE = 5 * MIN
UID = "lfx-2030-t1-a@lfx-cal"


def key(n: int, *, uid: str = UID, kind: Kind = Kind.REMINDER, lead: int = 86400,
        instant: str = "2030-03-02T12:00:00Z") -> DeliveryKey:  # fmt: skip
    return DeliveryKey("team", kind, uid, lead, instant, f"#c{n}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{(tmp_path / 'ledger.db').as_posix()}") as opened:
        yield opened


def rows(store: Store) -> dict[str, tuple[object, ...]]:
    """Each row by target: status, owner, attempts, error, retry_at, updated_at."""
    return {
        d.key.target: (d.status, d.owner, d.attempts, d.error, d.retry_at, d.updated_at)
        for d in store.deliveries(limit=10_000)
    }


def test_a_claim_takes_each_key_once_in_the_callers_order(store: Store) -> None:
    keys = [key(n) for n in range(4)]
    store.ensure([(k, T0) for k in keys], T0)
    wanted = [keys[2], keys[0], keys[2], keys[3], key(9)]  # a repeat, a key not in the ledger
    assert store.claim(wanted, "a", T0 + MIN, LEASE) == [keys[2], keys[0], keys[3]]
    got = rows(store)
    assert got["#c2"] == ("claimed", "a", 1, None, None, "2030-03-01T12:01:00Z")
    assert got["#c1"] == ("pending", None, 0, None, None, "2030-03-01T12:00:00Z")
    (due,) = store.claim_due("b", T0 + 2 * MIN, LEASE)
    assert (due.key, due.owner, due.updated_at) == (keys[1], "b", "2030-03-01T12:02:00Z")


def test_a_lease_ends_at_now_plus_lease_not_before(store: Store) -> None:
    store.ensure([(key(1), T0)], T0)
    assert store.claim([key(1)], "a", T0, LEASE) == [key(1)]
    assert store.claim([key(1)], "b", T0 + LEASE, LEASE) == []  # the lease runs until then
    assert store.claim_due("b", T0 + LEASE, LEASE) == []
    assert store.claim([key(1)], "b", T0 + LEASE + dt.timedelta(seconds=1), LEASE) == [key(1)]
    assert rows(store)["#c1"][:3] == ("claimed", "b", 2)


def test_a_retry_is_claimable_from_its_retry_time_on(store: Store) -> None:
    store.ensure([(key(1), T0), (key(2), T0)], T0)
    store.claim([key(1), key(2)], "a", T0, LEASE)
    store.mark([Mark.failed(key(1), T0, "busy", retry_at=T0 + 2 * MIN),
                Mark.failed(key(2), T0, "busy", retry_at=T0 + 3 * MIN)])  # fmt: skip
    assert store.claim([key(1), key(2)], "b", T0 + 2 * MIN - dt.timedelta(seconds=1), LEASE) == []
    assert store.claim([key(1), key(2)], "b", T0 + 2 * MIN, LEASE) == [key(1)]
    (due,) = store.claim_due("c", T0 + 3 * MIN, LEASE)
    assert (due.key, due.owner, due.attempts, due.retry_at) == (
        key(2),
        "c",
        2,
        "2030-03-01T12:03:00Z",
    )


def test_claim_due_takes_the_earliest_due_first_and_ties_in_written_order(store: Store) -> None:
    store.ensure([(key(n), T0 + (n % 3) * MIN) for n in range(6)], T0)
    got = store.claim_due("a", T0 + 5 * MIN, LEASE, limit=4)
    assert [d.key.target for d in got] == ["#c0", "#c3", "#c1", "#c4"]
    assert store.claim_due("a", T0 + 5 * MIN, LEASE, limit=1)[0].key.target == "#c2"


def test_an_outcome_clears_what_the_attempt_left(store: Store) -> None:
    keys = [key(n) for n in range(3)]
    store.ensure([(k, T0) for k in keys], T0)
    store.claim(keys, "a", T0, LEASE)
    store.mark([Mark.failed(keys[0], T0, "busy", retry_at=T0 + MIN)])
    store.claim([keys[0]], "b", T0 + MIN, LEASE)
    later = T0 + 2 * MIN
    store.mark([
        Mark.sent(keys[0], later, late=True, receipt="id-0"),
        Mark.failed(keys[1], later, "busy", retry_at=later + MIN),
        Mark.failed(keys[2], later, "gone", retry_at=None),
    ])  # fmt: skip
    got = {d.key.target: d for d in store.deliveries()}
    sent = got["#c0"]
    assert (sent.status, sent.error, sent.retry_at, sent.sent_at, sent.receipt, sent.late) == (
        "sent", None, None, "2030-03-01T12:02:00Z", "id-0", True,
    )  # fmt: skip
    assert rows(store)["#c1"] == ("pending", None, 1, "busy", "2030-03-01T12:03:00Z",
                                  "2030-03-01T12:02:00Z")  # fmt: skip
    assert rows(store)["#c2"] == ("failed", None, 1, "gone", None, "2030-03-01T12:02:00Z")


def test_a_skip_touches_only_live_rows_of_the_keys_given(store: Store) -> None:
    keys = [key(n) for n in range(4)]
    store.ensure([(k, T0) for k in keys], T0)
    store.claim(keys[1:3], "a", T0, LEASE)
    store.mark_sent(keys[2], T0, late=False, receipt="r")
    store.mark_skipped([keys[0], keys[1], keys[2], keys[1]], T0 + MIN, "the deadline passed")
    got = rows(store)
    assert got["#c0"] == ("skipped", None, 0, "the deadline passed", None, "2030-03-01T12:01:00Z")
    assert got["#c1"] == ("skipped", None, 1, "the deadline passed", None, "2030-03-01T12:01:00Z")
    assert got["#c2"][:4] == ("sent", "a", 1, None)  # done: left alone
    assert got["#c3"] == ("pending", None, 0, None, None, "2030-03-01T12:00:00Z")  # not given
    # a skipped row is never claimed again, nor is its lease released later
    assert store.claim(keys[:2], "b", T0 + 10 * MIN, LEASE) == []
    assert store.release(at=T0 + 10 * MIN) == 0


def test_a_cancel_takes_pending_rows_only_and_keeps_the_other_notices(store: Store) -> None:
    old = "2030-03-01T00:00:00Z"
    keep = dt.datetime(2030, 3, 2, 12, tzinfo=dt.UTC)
    keys = {
        "old": key(0, instant=old),
        "old-claimed": key(1, instant=old),
        "kept": key(2),
        "opening": key(3, kind=Kind.OPENING, lead=0, instant=old),
        "today": key(4, kind=Kind.TODAY, lead=0, instant=old),
        "changed": key(5, kind=Kind.CHANGED, lead=0, instant=f"{old}|-"),
        "other": key(6, uid="lfx-2030-t1-b@lfx-cal", instant=old),
    }
    store.ensure([(k, T0) for k in keys.values()], T0)
    store.claim([keys["old-claimed"]], "a", T0, LEASE)
    assert store.cancel(UID, keep, T0 + MIN) == 1
    status = {name: rows(store)[k.target][0] for name, k in keys.items()}
    assert status == {
        "old": "cancelled",
        "old-claimed": "claimed",  # on the wire: its outcome decides
        "kept": "pending",
        "opening": "pending",
        "today": "pending",
        "changed": "pending",
        "other": "pending",
    }
    assert rows(store)["#c0"][5] == "2030-03-01T12:01:00Z"
    assert store.cancel(UID, None, T0 + 2 * MIN) == 4  # the row is gone: every pending one
    assert {rows(store)[keys[n].target][0] for n in ("kept", "changed")} == {"cancelled"}
    assert rows(store)["#c6"][0] == "pending"


def test_a_release_puts_back_claims_of_one_owner_or_all(store: Store) -> None:
    keys = [key(n) for n in range(4)]
    store.ensure([(k, T0) for k in keys], T0)
    store.claim(keys[:2], "a", T0, LEASE)
    store.claim(keys[2:3], "b", T0, LEASE)
    assert store.release("a", at=T0 + MIN) == 2
    got = rows(store)
    assert got["#c0"] == ("pending", None, 1, None, None, "2030-03-01T12:01:00Z")
    assert got["#c2"][:2] == ("claimed", "b")
    # released: claimable at once, before the old lease would have ended
    assert store.claim(keys[:1], "c", T0 + 2 * MIN, LEASE) == keys[:1]
    assert store.release(at=T0 + 3 * MIN) == 2  # everyone's: b's and c's
    assert {r[0] for r in rows(store).values()} == {"pending"}


def test_listing_is_newest_due_first_then_newest_row(store: Store) -> None:
    dues = [T0 + 2 * MIN, T0 + 2 * MIN, T0 + 5 * MIN, T0, T0 + MIN]
    store.ensure([(key(n), due) for n, due in enumerate(dues)], T0)
    store.claim([key(0)], "a", T0, LEASE)
    listed = [d.key.target for d in store.deliveries(limit=4)]
    assert listed == ["#c2", "#c1", "#c0", "#c4"]
    assert [d.key.target for d in store.deliveries(statuses=[Status.CLAIMED])] == ["#c0"]
    assert store.counts() == {"pending": 4, "claimed": 1}


def test_backlog_counts_live_rows_due_by_now(store: Store) -> None:
    keys = [key(n) for n in range(5)]
    store.ensure([(k, T0 + n * MIN) for n, k in enumerate(keys)], T0)
    store.claim(keys[:3], "a", T0, LEASE)
    store.mark_sent(keys[0], T0, late=False, receipt="r")
    assert store.backlog(T0 - MIN) == (0, None)
    backlog = store.backlog(T0 + 3 * MIN)  # 1, 2 claimed; 3 pending; 4 not due yet
    assert (backlog.rows, backlog.oldest_due) == (3, T0 + MIN)


def test_progress_lists_fan_outs_earliest_first_with_their_totals(store: Store) -> None:
    a = [key(n, uid="b@lfx-cal") for n in range(3)]
    b = [key(n, uid="a@lfx-cal") for n in range(3, 5)]
    c = [key(n, uid="a@lfx-cal", lead=3600) for n in range(5, 7)]
    store.ensure([(k, T0) for k in a + b] + [(k, T0 + MIN) for k in c], T0)
    store.claim(a + b, "w", T0, LEASE)
    store.mark([Mark.sent(a[0], T0, late=False, receipt="r"),
                Mark.failed(a[1], T0, "gone", retry_at=None),
                Mark.sent(b[0], T0, late=False, receipt="r"),
                Mark.sent(b[1], T0, late=False, receipt="r")])  # fmt: skip
    store.mark_skipped(c[:1], T0, "late")
    going = store.progress(T0 + MIN)
    got = [(p.uid, p.lead_s, p.first_due, p.total, p.done, p.left) for p in going]
    assert got == [
        ("b@lfx-cal", 86400, "2030-03-01T12:00:00Z", 3, 2, 1),  # b's notice is done: not listed
        ("a@lfx-cal", 3600, "2030-03-01T12:01:00Z", 2, 1, 1),
    ]
    assert store.progress(T0) == going[:1]  # the hour's notice is not due yet
    store.ensure([(key(9, uid="0@lfx-cal"), T0)], T0)  # as early: the uid decides
    assert [p.uid for p in store.progress(T0 + MIN)] == ["0@lfx-cal", "b@lfx-cal", "a@lfx-cal"]
    assert going[0].kind is Kind.REMINDER and going[0].instant == "2030-03-02T12:00:00Z"


def test_a_carry_over_re_keys_only_what_the_earlier_model_wrote(store: Store) -> None:
    legacy = dt.datetime(2030, 3, 2, 8, tzinfo=dt.UTC)
    instant = dt.datetime(2030, 3, 2, 12, tzinfo=dt.UTC)
    old, new = "2030-03-02T08:00:00Z", "2030-03-02T12:00:00Z"
    keys = {
        "pending": key(0, instant=old),
        "sent": key(1, instant=old),
        "claimed": key(2, instant=old),
        "failed": key(3, instant=old),
        "hour-pending": key(4, instant=old, lead=3600),
        "other-uid": key(5, instant=old, uid="x@lfx-cal"),
        "other-instant": key(7, instant="2030-03-05T12:00:00Z"),
        "week-sent": key(8, instant=old, lead=604800),
    }
    store.ensure([(k, T0) for k in keys.values()], T0)
    done = [keys["sent"], keys["claimed"], keys["failed"], keys["week-sent"]]
    store.claim(done, "a", T0, LEASE)
    store.mark_sent(keys["sent"], T0, late=False, receipt="r")
    store.mark_sent(keys["week-sent"], T0, late=False, receipt="r")
    store.mark_failed(keys["failed"], T0, "gone", retry_at=None)
    since = T0 + MIN  # the current model took over here
    assert store.carry_over([], since) == (0, 0)  # records the moment
    store.ensure([(key(6, instant=old), since)], since)  # written by this model: left alone
    moves = [
        Move(Kind.REMINDER, UID, dt.timedelta(hours=1), instant, legacy),  # nothing sent
        Move(Kind.REMINDER, UID, dt.timedelta(days=1), instant, legacy),
        Move(Kind.REMINDER, UID, dt.timedelta(days=7), instant, legacy),  # nothing pending
    ]
    assert store.carry_over(moves, T0 + 2 * MIN) == (2, 3)
    got = {d.key: d for d in store.deliveries(limit=100)}
    for name in ("pending", "hour-pending"):
        cancelled = got[keys[name]]
        assert (cancelled.status, cancelled.error, cancelled.updated_at) == (
            "cancelled",
            "re-planned: the same deadline is now keyed 2030-03-02T12:00:00Z",
            "2030-03-01T12:02:00Z",
        )
    for name in ("sent", "claimed", "week-sent"):
        carried = got[keys[name]._replace(instant=new)]
        assert (carried.status, carried.attempts, carried.late, carried.due) == (
            "skipped",
            0,
            False,
            "2030-03-01T12:00:00Z",
        )
        assert (carried.error, carried.updated_at) == (
            "already sent for this deadline, keyed 2030-03-02T08:00:00Z before an upgrade",
            "2030-03-01T12:02:00Z",
        )
    assert got[keys["failed"]].status == "failed"
    assert keys["failed"]._replace(instant=new) not in got
    for name in ("other-uid", "other-instant"):
        assert got[keys[name]].status == "pending"
    assert got[key(6, instant=old)].status == "pending"
    assert len(got) == 12
    store.carry_over(moves, T0 + 3 * MIN)  # again (a restart): nothing new is written
    assert len(store.deliveries(limit=100)) == 12


def test_the_probe_counts_a_row_claimable_exactly_margin_ago(store: Store) -> None:
    store.ensure([(key(0), T0), (key(1), T0 + dt.timedelta(seconds=1))], T0)
    assert store.probe("p", T0 + LEASE, LEASE) == 1  # due exactly at now - margin
    assert store.probe("p", T0 + LEASE - dt.timedelta(seconds=1), LEASE) == 0


def test_a_claim_and_a_skip_are_one_statement_per_chunk_of_keys(store: Store) -> None:
    keys = [key(n) for n in range(3)]
    store.ensure([(k, T0) for k in keys], T0)
    statements: list[str] = []

    def seen(conn: object, cursor: object, sql: str, *args: object) -> None:
        statements.append(sql.split()[0].upper())

    event.listen(store._engine, "before_cursor_execute", seen)
    assert store.claim(keys, "a", T0, LEASE) == keys
    assert statements.count("UPDATE") + statements.count("WITH") == 1
    statements.clear()
    store.mark_skipped(keys, T0, "late")
    assert statements.count("SELECT") + statements.count("WITH") == 1  # the ids: one lookup
    assert statements.count("UPDATE") == 1
