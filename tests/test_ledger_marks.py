"""The ledger's outcome records as the base class promises them (issue 17: mutation score).

``Ledger.mark`` records a batch one by one unless a backend overrides it; the
SQL store does, so the default is run here over a real SQLite store's
``mark_sent``/``mark_failed``, and must leave the rows the override would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.ledger_base import ChangeKey, DeliveryKey, Kind, Ledger, Mark, Status
from scheduler.store import Store

T0 = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)
RETRY = T0 + dt.timedelta(minutes=2)


def key(n: int) -> DeliveryKey:
    return DeliveryKey("team", Kind.REMINDER, "lfx-2030-t1-a@lfx-cal", 86400,
                       "2030-03-02T12:00:00Z", f"slack:#c{n}")  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'marks.db'}") as opened:
        yield opened


def test_a_failed_mark_is_pending_again_with_a_retry_and_failed_for_good_without() -> None:
    again = Mark.failed(key(1), T0, "HTTP 503", retry_at=RETRY)
    assert (again.status, again.error, again.retry_at) == (Status.PENDING, "HTTP 503", RETRY)
    final = Mark.failed(key(2), T0, "channel_not_found", retry_at=None)
    assert (final.status, final.error, final.retry_at) == (Status.FAILED, "channel_not_found", None)


def test_change_keys_read_back_the_dates_and_the_missing_side() -> None:
    assert ChangeKey.parse("2031-06-03|2031-06-10") == ChangeKey("2031-06-03", "2031-06-10")
    assert ChangeKey.parse("-|2031-06-10") == ChangeKey(None, "2031-06-10")
    assert ChangeKey.parse("2031-06-03|-") == ChangeKey("2031-06-03", None)
    assert ChangeKey("2031-06-03", None).text == "2031-06-03|-"


def test_the_default_mark_records_each_outcome_one_by_one(store: Store) -> None:
    keys = [key(n) for n in range(5)]
    store.ensure([(k, T0) for k in keys], T0)
    assert store.claim(keys, "a", T0, dt.timedelta(minutes=5)) == keys
    Ledger.mark(store, [
        Mark.sent(keys[0], T0, late=True, receipt="ts=1"),
        Mark.failed(keys[1], T0, "HTTP 503", retry_at=RETRY),
        Mark.failed(keys[2], T0, "channel_not_found", retry_at=None),
        Mark(keys[3], T0, Status.SENT),  # no receipt given: an empty one
        Mark(keys[4], T0, Status.FAILED),  # no error given: an empty one
    ])  # fmt: skip
    rows = {d.key: d for d in store.deliveries()}
    got = [(rows[k].status, rows[k].late, rows[k].receipt, rows[k].error) for k in keys]
    assert got == [
        ("sent", True, "ts=1", None),
        ("pending", False, None, "HTTP 503"),
        ("failed", False, None, "channel_not_found"),
        ("sent", False, "", None),
        ("failed", False, None, ""),
    ]
    assert rows[keys[1]].retry_at == "2030-03-01T12:02:00Z"


def test_the_health_probe_counts_rows_claimable_longer_than_the_margin(store: Store) -> None:
    keys = [key(n) for n in range(4)]
    minute = dt.timedelta(minutes=1)
    store.ensure([(keys[0], T0), (keys[1], T0 + 10 * minute), (keys[2], T0), (keys[3], T0)], T0)
    store.claim([keys[2]], "a", T0, 5 * minute)
    store.mark_sent(keys[2], T0, late=False, receipt="r")  # done: never overdue
    store.claim([keys[3]], "a", T0 + 14 * minute, 5 * minute)  # leased until T0+19
    now = T0 + 20 * minute
    assert store.probe("p", now, 5 * minute) == 2  # claimable since T0+15: rows 0 and 1
    assert store.probe("p", now, 15 * minute) == 1  # since T0+5: row 0 only
    assert store.probe("p", now, 0 * minute) == 3  # the lease ran out at T0+19


def test_progress_lists_each_notice_under_way_with_its_totals(store: Store) -> None:
    keys = [key(n) for n in range(3)]
    other = DeliveryKey("team", Kind.REMINDER, "lfx-2030-t1-b@lfx-cal", 3600,
                        "2030-03-02T12:00:00Z", "slack:#c0")  # fmt: skip
    store.ensure([*((k, T0) for k in keys), (other, T0 + dt.timedelta(hours=1))], T0)
    store.claim([keys[0]], "a", T0, dt.timedelta(minutes=5))
    store.mark_sent(keys[0], T0, late=False, receipt="r")
    (going,) = store.progress(T0 + dt.timedelta(minutes=1))  # the other is not due yet
    assert going == (Kind.REMINDER, "lfx-2030-t1-a@lfx-cal", 86400, "2030-03-02T12:00:00Z",
                     "2030-03-01T12:00:00Z", 3, 1)  # fmt: skip
    assert going.left == 2
