"""The daemon's store on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import collections
import datetime as dt
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from feeds.load import load
from scheduler.errors import ConfigError
from scheduler.store import ChangeRecord, DeliveryKey, SourceStatus, Store
from tests._postgres import fresh_database
from tests.conftest import FIXTURES

T0 = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
DOC = FIXTURES / "lfx" / "2030" / "01-Spring" / "README.md"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with fresh_database(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def key(n: int = 0, *, uid: str = "lfx-2030-t1-a@lfx-cal", kind: str = "reminder") -> DeliveryKey:
    return DeliveryKey("team", kind, uid, 86400, "2030-03-02T12:00:00Z", f"slack:#c{n}")


def test_urls_are_normalized_and_masked_and_sqlite_uses_wal(
    postgres_url: str, tmp_path: Path
) -> None:
    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    for scheme in ("postgresql", "postgres"):
        with Store(f"{scheme}://postgres:s3cret@127.0.0.1:{port}/postgres") as opened:
            assert opened.url == f"postgresql+psycopg://postgres:***@127.0.0.1:{port}/postgres"
            assert not opened.is_sqlite
    with Store(f"sqlite:///{tmp_path / 'w.db'}") as opened:
        assert opened.is_sqlite and opened.url == f"sqlite:///{tmp_path / 'w.db'}"
        opened.ensure([(key(), T0)], T0)
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db", "oracle+nope://x", "sqlite+x:///a"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match=r"service\.database"):
        Store(url)


def test_versions_round_trip(store: Store) -> None:
    timeline = load(str(DOC))
    assert store.last_good("spring") is None
    store.save_version("spring", "d1", timeline, T0)
    assert store.last_good("spring") == ("d1", timeline)
    shorter = timeline.__class__(timeline.source, timeline.term, timeline.events[:1])
    store.save_version("spring", "d2", shorter, T0 + dt.timedelta(hours=1))
    store.save_version("spring", "d2", shorter, T0 + dt.timedelta(hours=2))
    assert store.last_good("spring") == ("d2", shorter)
    assert store.last_good("other") is None


def test_record_fetch_counts_failures_and_resets(store: Store) -> None:
    store.record_fetch("a", T0, error="timeout")
    store.record_fetch("a", T0 + dt.timedelta(minutes=1), error="HTTP 500")
    (status,) = store.source_status()
    assert status == SourceStatus("a", None, None, "2030-03-01T12:01:00Z", None, "HTTP 500", 2)
    store.record_fetch("a", T0 + dt.timedelta(minutes=2), etag='"x"', last_modified="Mon")
    store.record_fetch("b", T0, error="DNS")
    store.record_fetch("a", T0 + dt.timedelta(minutes=3))
    a, b = store.source_status()
    stamp = "2030-03-01T12:03:00Z"
    assert a == SourceStatus("a", '"x"', "Mon", stamp, stamp, None, 0)
    assert b.failures == 1 and b.last_success is None and b.last_error == "DNS"


def test_record_changes_bumps_revisions(store: Store) -> None:
    assert store.revisions() == {}
    first = ChangeRecord("s", "u1", "added", None, "2030-03-02", "2030-03-01T12:00:00Z")
    store.record_changes([first])
    moved = ChangeRecord("s", "u1", "moved", "2030-03-02", "2030-03-04", "2030-03-01T13:00:00Z")
    other = ChangeRecord("s", "u2", "removed", "2030-04-01", None, "2030-03-01T13:00:00Z")
    store.record_changes([moved, other])
    revisions = store.revisions()
    assert revisions["u1"].sequence == 2 and revisions["u2"].sequence == 1
    assert revisions["u1"].modified == T0 + dt.timedelta(hours=1)
    assert store.changes() == [other, moved, first]
    assert store.changes(limit=1) == [other]
    with pytest.raises(ValueError):
        store.record_changes([first._replace(at="yesterday")])


def test_aliases(store: Store) -> None:
    assert store.aliases() == {}
    store.add_alias("old@lfx-cal", "new@lfx-cal")
    store.add_alias("older@lfx-cal", "new@lfx-cal")
    store.add_alias("old@lfx-cal", "newest@lfx-cal")
    assert store.aliases() == {"old@lfx-cal": "newest@lfx-cal", "older@lfx-cal": "new@lfx-cal"}


def test_ensure_is_idempotent_and_keeps_state(store: Store) -> None:
    keys = [key(n) for n in range(300)]
    store.ensure([(k, T0) for k in keys], T0)
    store.ensure([(k, T0 + dt.timedelta(days=1)) for k in keys], T0)
    assert store.counts() == {"pending": 300}
    store.claim(keys[:1], "w", T0, LEASE)
    store.mark_sent(keys[0], T0, late=False, receipt="ts=1")
    store.ensure([(keys[0], T0)], T0)
    assert store.counts() == {"pending": 299, "sent": 1}
    assert {d.due for d in store.deliveries(limit=1000)} == {"2030-03-01T12:00:00Z"}
    store.ensure([], T0)


def test_claim_lease_and_expiry(store: Store) -> None:
    keys = [key(n) for n in range(3)]
    store.ensure([(k, T0) for k in keys], T0)
    assert store.claim([*keys, key(99)], "a", T0, LEASE) == keys
    assert store.claim(keys, "b", T0 + dt.timedelta(minutes=4), LEASE) == []
    later = T0 + dt.timedelta(minutes=6)
    assert store.claim(keys[1:], "b", later, LEASE) == keys[1:]
    rows = {d.key: d for d in store.deliveries()}
    assert rows[keys[0]].owner == "a" and rows[keys[1]].owner == "b"
    assert rows[keys[1]].attempts == 2 and rows[keys[0]].attempts == 1
    assert store.claim([], "c", later, LEASE) == []


def test_mark_failed_retry_and_permanent(store: Store) -> None:
    k1, k2 = key(1), key(2)
    store.ensure([(k1, T0), (k2, T0)], T0)
    store.claim([k1, k2], "a", T0, LEASE)
    retry = T0 + dt.timedelta(minutes=2)
    store.mark_failed(k1, T0, "HTTP 503", retry_at=retry)
    store.mark_failed(k2, T0, "channel_not_found", retry_at=None)
    assert store.claim([k1, k2], "b", T0 + dt.timedelta(minutes=1), LEASE) == []
    assert store.claim_due("b", T0 + dt.timedelta(minutes=1), LEASE) == []
    (due,) = store.claim_due("b", retry, LEASE)
    assert due.key == k1 and due.status == "claimed" and due.error == "HTTP 503"
    assert due.attempts == 2 and due.retry_at == "2030-03-01T12:02:00Z"
    failed = store.deliveries(statuses={"failed"})
    assert [d.key for d in failed] == [k2] and failed[0].error == "channel_not_found"
    store.mark_sent(k1, retry, late=True, receipt="msg-1")
    (sent,) = store.deliveries(statuses=["sent"])
    want = (True, "msg-1", "2030-03-01T12:02:00Z", None)
    assert (sent.late, sent.receipt, sent.sent_at, sent.error) == want


def test_claim_due_order_limit_expired_leases_and_listing(store: Store) -> None:
    store.ensure([(key(n), T0 + dt.timedelta(minutes=n)) for n in range(10)], T0)
    assert [d.key for d in store.deliveries(limit=3)] == [key(9), key(8), key(7)]
    assert store.deliveries(statuses=()) == []
    assert store.claim_due("a", T0 - dt.timedelta(seconds=1), LEASE) == []
    got = store.claim_due("a", T0 + dt.timedelta(minutes=5), LEASE, limit=3)
    assert [d.key for d in got] == [key(0), key(1), key(2)]
    assert all(d.owner == "a" and d.status == "claimed" for d in got)
    got = store.claim_due("b", T0 + dt.timedelta(minutes=5), LEASE)
    assert [d.key for d in got] == [key(n) for n in range(3, 6)]
    got = store.claim_due("c", T0 + dt.timedelta(minutes=9), LEASE)
    assert [d.key for d in got] == [key(n) for n in range(6, 10)]  # leases run to 12:10
    got = store.claim_due("d", T0 + dt.timedelta(minutes=11), LEASE)
    assert [d.key for d in got] == [key(n) for n in range(6)]  # expired leases of a and b
    assert all(d.attempts == 2 and d.owner == "d" for d in got)


def test_cancel_mark_skipped_and_release(store: Store) -> None:
    uid = "lfx-2030-t1-a@lfx-cal"
    old = key(1)._replace(instant="2030-03-01T00:00:00Z")
    changed = key(1, kind="changed")._replace(instant="2030-03-01T00:00:00Z->2030-03-02T12:00:00Z")
    other = key(1, uid="lfx-2030-t1-b@lfx-cal")
    store.ensure([(k, T0) for k in (old, key(1), changed, other)], T0)
    assert store.cancel(uid, T0 + dt.timedelta(days=1), T0) == 1
    assert [d.key for d in store.deliveries(statuses={"cancelled"})] == [old]
    assert store.claim([key(1), changed, other], "a", T0, LEASE) == [key(1), changed, other]
    store.mark_sent(other, T0, late=False, receipt="r")
    store.mark_skipped([key(1), other, key(77)], T0, "event moved")
    assert {d.key: d.status for d in store.deliveries()} == {
        old: "cancelled",
        key(1): "skipped",
        changed: "claimed",
        other: "sent",
    }
    assert store.release("nobody", at=T0) == 0
    assert store.release("a", at=T0) == 1
    assert store.counts() == {"cancelled": 1, "skipped": 1, "pending": 1, "sent": 1}
    assert store.cancel(uid, None, T0) == 1
    store.ensure([(key(5), T0)], T0)
    store.claim([key(5)], "z", T0, LEASE)
    assert store.release(at=T0) == 1


def test_naive_datetimes_are_rejected(store: Store) -> None:
    naive = dt.datetime(2030, 3, 1, 12)
    timeline = load(str(DOC))
    calls = [
        lambda: store.ensure([(key(), naive)], T0),
        lambda: store.claim([key()], "a", naive, LEASE),
        lambda: store.claim_due("a", naive, LEASE),
        lambda: store.mark_sent(key(), naive, late=False, receipt=""),
        lambda: store.mark_failed(key(), T0, "x", retry_at=naive),
        lambda: store.mark_skipped([], naive, "x"),
        lambda: store.cancel("u", None, naive),
        lambda: store.record_fetch("s", naive),
        lambda: store.save_version("s", "d", timeline, naive),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="naive"):
            call()
    assert store.counts() == {}


Work = Callable[[Store, int], list[DeliveryKey]]


def _race(url: str, work: Work, workers: int = 8) -> collections.Counter[DeliveryKey]:
    """Run *work* in *workers* threads at once, each with its own Store; count keys won."""
    stores = [Store(url) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    results: list[list[DeliveryKey]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results[n] = work(stores[n], n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert errors == []
    return collections.Counter(k for result in results for k in result)


def test_claims_are_exclusive_under_concurrency(db_url: str) -> None:
    keys = [key(n, uid=f"u{n % 40}@lfx-cal") for n in range(500)]

    def work(store: Store, n: int) -> list[DeliveryKey]:
        mine = random.Random(n).sample(keys, len(keys))
        return [
            k for i in range(0, 500, 25) for k in store.claim(mine[i : i + 25], f"w{n}", T0, LEASE)
        ]

    with Store(db_url) as opened:
        opened.ensure([(k, T0) for k in keys], T0)
        won = _race(db_url, work)
        assert set(won) == set(keys) and set(won.values()) == {1}
        assert opened.counts() == {"claimed": 500}


def test_claim_due_is_exclusive_under_concurrency(db_url: str) -> None:
    keys = [key(n) for n in range(400)]

    def work(store: Store, n: int) -> list[DeliveryKey]:
        won: list[DeliveryKey] = []
        while batch := store.claim_due(f"w{n}", T0 + dt.timedelta(hours=1), LEASE, limit=15):
            assert len(batch) <= 15
            won += [d.key for d in batch]
        return won

    with Store(db_url) as opened:
        opened.ensure([(k, T0 + dt.timedelta(seconds=n)) for n, k in enumerate(keys)], T0)
    won = _race(db_url, work)
    assert set(won) == set(keys) and set(won.values()) == {1}


def _claim_work(path: Path, others: int) -> int:
    """SQLite VM steps (in hundreds) spent claiming 1,000 keys beside *others* rows."""
    keys = [key(n, uid=f"u{n % 200}@lfx-cal") for n in range(1000)]
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    def watch(dbapi: sqlite3.Connection, _record: object) -> None:
        dbapi.set_progress_handler(count, 100)

    with Store(f"sqlite:///{path}") as opened:
        # other recipients of the same events, and other events
        opened.ensure(
            [(key(n, uid=f"u{n % 200}@lfx-cal"), T0) for n in range(1000, 1000 + others)], T0
        )
        opened.ensure([(key(n, uid=f"x{n}"), T0) for n in range(others)], T0)
        opened.ensure([(k, T0) for k in keys], T0)
        opened._engine.dispose()  # new connections pick up the handler
        event.listen(opened._engine, "connect", watch)
        steps = 0
        assert len(opened.claim(keys, "a", T0, LEASE)) == 1000
    return steps


def test_claim_work_does_not_grow_with_the_ledger(tmp_path: Path) -> None:
    """Claims read the unique index, not every row: the work stays flat with 40x more rows.

    The figure is counted, not timed; ``bench/bench_claim.py`` times it.
    """
    alone = _claim_work(tmp_path / "alone.db", 0)
    crowded = _claim_work(tmp_path / "crowded.db", 20_000)
    assert alone > 0
    assert crowded < alone * 1.5, (alone, crowded)


def test_a_moved_deadline_cancels_only_reminders_for_the_old_deadline(store: Store) -> None:
    uid = "lfx-2030-t1-a@lfx-cal"
    old = key(1)._replace(instant="2030-03-01T00:00:00Z")
    opening = key(2, kind="opening")._replace(lead_s=0, instant="2030-02-01T00:00:00Z")
    store.ensure([(k, T0) for k in (old, opening, key(3))], T0)
    assert store.cancel(uid, T0 + dt.timedelta(days=1), T0) == 1
    assert {d.key: d.status for d in store.deliveries()} == {
        old: "cancelled",
        opening: "pending",
        key(3): "pending",
    }


def test_kinds_statuses_and_change_keys_are_typed_but_store_the_same_text(store: Store) -> None:
    from scheduler.ledger_base import ChangeKey, Kind, Status

    assert [str(s) for s in Status] == [
        "pending", "claimed", "sent", "failed", "skipped", "cancelled",
    ]  # fmt: skip
    assert [str(k) for k in Kind] == ["reminder", "opening", "changed", "today"]
    moved = ChangeKey("Tue, Mar 2, 2030", None)
    assert moved.text == "Tue, Mar 2, 2030|-" and ChangeKey.parse(moved.text) == moved
    assert ChangeKey.parse("-|x") == ChangeKey(None, "x")
    alert = DeliveryKey.of("team", Kind.CHANGED, "u@lfx-cal", dt.timedelta(0), moved, "t")
    reminder = DeliveryKey.of("team", Kind.REMINDER, "u@lfx-cal", LEASE, T0, "t")
    assert reminder.instant == "2030-03-01T12:00:00Z" and reminder.at == T0
    store.ensure([(alert, T0), (reminder, T0)], T0)
    rows = {d.key: d for d in store.deliveries()}
    assert rows[alert].key.change == moved and rows[alert].key.kind is Kind.CHANGED
    assert rows[reminder].status is Status.PENDING and rows[reminder].due_at == T0


def test_the_ledger_writes_the_callers_instant_never_the_wall_clock(store: Store) -> None:
    later = dt.datetime(2041, 6, 1, tzinfo=dt.UTC)
    store.ensure([(key(1), T0)], later)
    assert [d.updated_at for d in store.deliveries()] == ["2041-06-01T00:00:00Z"]
    store.claim([key(1)], "a", T0, LEASE)
    assert store.release("a", at=later + LEASE) == 1
    assert [d.updated_at for d in store.deliveries()] == ["2041-06-01T00:05:00Z"]
