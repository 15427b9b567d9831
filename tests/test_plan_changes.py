"""The pure parts of the daemon: the job plan, fan-out and the change detector."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from feeds.model import Event
from feeds.timeline import parse_markdown
from scheduler.changes import Diff, canonical, diff, suspicious, when
from scheduler.config import Subscription
from scheduler.plan import fan_out, jobs_for

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2031, 5, 1, tzinfo=dt.UTC)

TERM = """# Term 02 - 2031 June - August

### Timeline

| Activity | Dates |
|---|---|
| Project Proposals Open | Tue, May 6 – Mon, May 19, 11AM PDT (18:00 UTC) |
| Mentee Applications Open | Wed, May 21 – Tue, Jun 3, 5PM PDT |
| First Stipend Payments | Wed, Jul 16 |
"""


def events(text: str = TERM) -> tuple:
    return parse_markdown(text, "term.md", zone="America/Los_Angeles").events


def sub(
    name: str, categories: set[str], leads: tuple[int, ...] = (7, 1), **kw: object
) -> Subscription:
    return Subscription(
        name, "recorder", ("t1", "t2"), frozenset(categories),
        tuple(dt.timedelta(days=d) for d in leads), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_jobs_are_per_event_and_lead_not_per_subscriber() -> None:
    few = [sub("a", {"application"})]
    many = [sub(f"s{n}", {"application"}) for n in range(1000)]
    assert jobs_for(events(), few, LA, after=NOW) == jobs_for(events(), many, LA, after=NOW)
    jobs = jobs_for(events(), many, LA, after=NOW)
    assert [(j.uid, j.lead.days) for j in jobs] == [
        ("lfx-2031-t2-mentee-applications-open@lfx-cal", 7),
        ("lfx-2031-t2-mentee-applications-open@lfx-cal", 1),
    ]
    assert jobs[1].instant == dt.datetime(2031, 6, 4, 0, 0, tzinfo=dt.UTC)  # 5PM PDT
    assert (
        jobs[1].id
        == "reminder|lfx-2031-t2-mentee-applications-open@lfx-cal|86400|2031-06-04T00:00:00Z"
    )


def test_an_informational_day_is_announced_on_its_morning_and_a_day_ahead() -> None:
    jobs = jobs_for(events(), [sub("m", {"stipend"}, (1,))], LA, after=NOW)
    day = dt.datetime(2031, 7, 16, 7, tzinfo=dt.UTC)  # the ledger key: 00:00 PDT that day
    assert [(j.kind, j.instant, j.due) for j in jobs] == [
        ("reminder", day, dt.datetime(2031, 7, 15, 16, tzinfo=dt.UTC)),  # 09:00 PDT the day before
        ("today", day, dt.datetime(2031, 7, 16, 16, tzinfo=dt.UTC)),  # 09:00 PDT that morning
    ]


def test_past_deadlines_are_not_planned_and_openings_are_opt_in() -> None:
    late = dt.datetime(2031, 5, 20, tzinfo=dt.UTC)
    subs = [sub("a", {"proposal", "application"}, openings=True)]
    jobs = jobs_for(events(), subs, LA, after=late)
    assert {j.kind for j in jobs} == {"reminder", "opening"}
    assert all("proposals" not in j.uid for j in jobs)
    assert [j.kind for j in jobs_for(events(), [sub("b", {"application"})], LA, after=late)] == [
        "reminder", "reminder"
    ]  # fmt: skip


def test_fan_out_follows_categories_leads_and_targets() -> None:
    subs = [sub("apps", {"application"}, (7,)), sub("all", {"application", "stipend"}, (1,)),
            sub("money", {"stipend"}, (7,))]  # fmt: skip
    by_uid = {e.uid: e for e in events()}
    job = jobs_for(events(), subs, LA, after=NOW)[0]
    keys = fan_out(job, by_uid[job.uid], subs)
    assert [(k.subscription, k.target, k.lead_s) for k in keys] == [
        ("apps", "t1", 604800), ("apps", "t2", 604800)
    ]  # fmt: skip


def test_cosmetic_edits_change_nothing() -> None:
    cosmetic = (
        TERM.replace("Project Proposals Open", "**Project Proposals Open**")
        .replace("Wed, Jul 16", "Wednesday,  July 16")
        .replace("Tue, May 6", "Tues, May 6")
        + "\nSome new paragraph.\n"
    )
    assert not diff(events(), events(cosmetic))


def test_reworded_title_with_same_dates_is_a_rename_not_an_alert() -> None:
    renamed = events(TERM.replace("First Stipend Payments", "First Stipend Payment (mentees)"))
    result = diff(events(), renamed)
    assert not result
    new, old = result.renamed[0]
    assert (new, old) == (
        "lfx-2031-t2-first-stipend-payment-mentees@lfx-cal",
        "lfx-2031-t2-first-stipend-payments@lfx-cal",
    )


def test_moved_added_and_removed_rows_are_changes() -> None:
    edited = TERM.replace("5PM PDT", "6PM PDT").replace(
        "| First Stipend Payments | Wed, Jul 16 |", "| Final Mentee Evaluations | Tue, Aug 19 |"
    )
    result = diff(events(), events(edited))
    assert [(o.end, n.end) for o, n in result.moved] == [
        (dt.datetime(2031, 6, 4, 0, 0, tzinfo=dt.UTC), dt.datetime(2031, 6, 4, 1, 0, tzinfo=dt.UTC))
    ]
    assert [e.title for e in result.added] == ["Final Mentee Evaluations"]
    assert [e.title for e in result.removed] == ["First Stipend Payments"]


def test_a_document_that_lost_most_rows_is_suspicious() -> None:
    many = events() * 2  # six rows
    assert suspicious(many, many[:2]) is not None
    assert suspicious(many, many[:4]) is None
    assert suspicious(events(), ()) is None  # too few rows to judge


def test_fan_out_leaves_out_openings_and_change_alerts_nobody_asked_for() -> None:
    from scheduler.plan import OPENING, REMINDER, Job, change_keys, what

    apps = next(e for e in events() if "applications" in e.uid)
    subs = [  # the ones left out come first: leaving one out must not end the loop
        sub("neither", {"application"}, (1,), changes=False, openings=False),
        sub("elsewhere", {"stipend"}, (1,), changes=True, openings=True),
        sub("both", {"application"}, (1,), changes=True, openings=True),
    ]
    at = dt.datetime(2031, 5, 21, 7, tzinfo=dt.UTC)
    opening = Job(OPENING, apps.uid, dt.timedelta(0), at, at)
    assert [(k.subscription, k.target) for k in fan_out(opening, apps, subs)] == [
        ("both", "t1"), ("both", "t2"),
    ]  # fmt: skip
    reminder = Job(REMINDER, apps.uid, dt.timedelta(days=1), at, at)
    assert [k.subscription for k in fan_out(reminder, apps, subs)] == [
        "neither", "neither", "both", "both",
    ]  # fmt: skip
    weekly = sub("weekly", {"application"}, (7,))  # no 1-day lead: left out, and the rest not
    assert [k.subscription for k in fan_out(reminder, apps, [weekly, *subs])][-1] == "both"
    proposals = events()[0]
    assert what(None, apps) == (None, "2031-05-21 → 2031-06-04T00:00:00Z")
    assert what(proposals, apps) == (
        "2031-05-06 → 2031-05-19T18:00:00Z", "2031-05-21 → 2031-06-04T00:00:00Z",
    )  # fmt: skip
    keys = change_keys(apps, what(apps, None), subs)
    assert [(k.subscription, k.kind, k.target) for k in keys] == [
        ("both", "changed", "t1"), ("both", "changed", "t2"),
    ]  # fmt: skip
    assert {(k.uid, k.lead_s, k.instant) for k in keys} == {
        (apps.uid, 0, "2031-05-21 → 2031-06-04T00:00:00Z|-")
    }
    # A plan for subscribers who all said openings = false has no opening job.
    plan = jobs_for(events(), subs[:1], LA, after=NOW)
    assert "opening" not in {j.kind for j in plan}
    assert "opening" in {j.kind for j in jobs_for(events(), subs[2:], LA, after=NOW)}


def test_the_plan_to_the_second() -> None:
    from feeds.model import Event
    from scheduler.plan import OPENING, REMINDER, TODAY, Job

    review = Event("r@t", "lfx-2031-t2", "Application Review Period", dt.date(2031, 6, 4),
                   dt.date(2031, 6, 17), categories=("review",))  # fmt: skip
    subs = [sub("all", {"proposal", "application", "review", "stipend"}, (7, 1), openings=True)]
    jobs = jobs_for([*events(), review], subs, LA, after=NOW)
    utc = lambda *a: dt.datetime(*a, tzinfo=dt.UTC)  # noqa: E731
    day, week = dt.timedelta(days=1), dt.timedelta(days=7)
    proposals, apps, stipend = (e.uid for e in events())
    assert jobs == [
        Job(OPENING, proposals, dt.timedelta(0), utc(2031, 5, 6, 7), utc(2031, 5, 6, 16)),
        Job(REMINDER, proposals, week, utc(2031, 5, 19, 18), utc(2031, 5, 12, 18)),
        Job(REMINDER, proposals, day, utc(2031, 5, 19, 18), utc(2031, 5, 18, 18)),
        Job(OPENING, apps, dt.timedelta(0), utc(2031, 5, 21, 7), utc(2031, 5, 21, 16)),
        Job(REMINDER, apps, week, utc(2031, 6, 4), utc(2031, 5, 28)),
        Job(REMINDER, apps, day, utc(2031, 6, 4), utc(2031, 6, 3)),
        Job(OPENING, "r@t", dt.timedelta(0), utc(2031, 6, 4, 7), utc(2031, 6, 4, 16)),
        # A date-only close: the end of its day, and the start of it as the legacy key.
        Job(REMINDER, "r@t", week, utc(2031, 6, 18, 7), utc(2031, 6, 11, 7), utc(2031, 6, 17, 7)),
        Job(REMINDER, "r@t", day, utc(2031, 6, 18, 7), utc(2031, 6, 17, 7), utc(2031, 6, 17, 7)),
        Job(REMINDER, stipend, week, utc(2031, 7, 16, 7), utc(2031, 7, 9, 16)),
        Job(REMINDER, stipend, day, utc(2031, 7, 16, 7), utc(2031, 7, 15, 16)),
        Job(TODAY, stipend, dt.timedelta(0), utc(2031, 7, 16, 7), utc(2031, 7, 16, 16)),
    ]
    assert jobs[0].id == f"opening|{proposals}|0|2031-05-06T07:00:00Z"
    # Exactly at a moment is not after it: the deadline, the notice and the opening.
    at = lambda after: {(j.kind, j.uid) for j in jobs_for(events(), subs, LA, after=after)}  # noqa: E731
    assert (REMINDER, apps) not in at(utc(2031, 6, 4))
    assert (REMINDER, apps) in at(utc(2031, 6, 4) - dt.timedelta(seconds=1))
    assert (TODAY, stipend) not in at(utc(2031, 7, 16, 16))
    assert (TODAY, stipend) in at(utc(2031, 7, 16, 16) - dt.timedelta(seconds=1))
    assert (OPENING, apps) not in at(utc(2031, 5, 21, 16))
    assert (OPENING, apps) in at(utc(2031, 5, 21, 16) - dt.timedelta(seconds=1))


def test_a_row_at_the_calendars_edge_plans_nothing_and_stops_nothing() -> None:
    from feeds.meaning import Rules
    from feeds.model import Event
    from scheduler.plan import skipped_leads

    first = Event(
        "a@t", "lfx-2031-t2", "Info session", dt.date(1, 1, 2), categories=("info-session",)
    )
    later = Event("l@t", "lfx-2031-t2", "Info session", dt.date(2031, 6, 2),
                  categories=("info-session",))  # fmt: skip
    hourly = Subscription("i", "recorder", ("t",), frozenset({"info-session"}),
                          (dt.timedelta(days=7), dt.timedelta(hours=1)))  # fmt: skip
    # Planning from the start of year 1: the first row's 7-day lead cannot be computed.
    dawn = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert {j.uid for j in jobs_for([first, later], [hourly], LA, after=dawn)} == {"l@t"}
    # The 7-day lead of a row on Jan 2 of year 1 cannot be computed; the 1-hour one can.
    skipped = skipped_leads([first, later], [hourly], Rules("America/Los_Angeles"))
    assert [(e.uid, lead) for e, lead, _ in skipped] == [
        ("a@t", dt.timedelta(hours=1)), ("l@t", dt.timedelta(hours=1)),
    ]  # fmt: skip
    both = Subscription("i", "recorder", ("t",), frozenset({"info-session"}),
                        (dt.timedelta(hours=1), dt.timedelta(hours=3)))  # fmt: skip
    longest_first = skipped_leads([later], [both], Rules("America/Los_Angeles"))
    assert [lead for _, lead, _ in longest_first] == [dt.timedelta(hours=3), dt.timedelta(hours=1)]


def test_today_notices_go_to_subscribers_with_leads_or_openings() -> None:
    from feeds.model import Event
    from scheduler.plan import TODAY, Job

    day = Event(
        "d@t", "lfx-2031-t2", "Info session", dt.date(2031, 6, 2), categories=("info-session",)
    )
    at = dt.datetime(2031, 6, 2, 16, tzinfo=dt.UTC)
    today = Job(TODAY, "d@t", dt.timedelta(0), at, at)
    subs = [
        Subscription("none", "recorder", ("n",), frozenset({"info-session"}), (), openings=False),
        Subscription("opens", "recorder", ("o",), frozenset({"info-session"}), (), openings=True),
        Subscription(
            "leads", "recorder", ("l",), frozenset({"info-session"}), (dt.timedelta(days=1),)
        ),
    ]
    assert [k.target for k in fan_out(today, day, subs)] == ["o", "l"]


def _row(uid: str, day: int, *categories: str, end: int | None = None) -> Event:
    return Event(
        f"{uid}@t", "lfx-2031-t2", uid, dt.date(2031, 6, day),
        None if end is None else dt.date(2031, 6, end), categories or ("other",),
    )  # fmt: skip


def test_dates_as_text_and_canonical_uids() -> None:
    apps = events()[1]
    assert when(apps) == "2031-05-21 → 2031-06-04T00:00:00Z"
    assert when(events()[2]) == "2031-07-16"
    rows = [_row("a", 1), _row("b", 2)]
    assert [e.uid for e in canonical(rows, {"b@t": "old-b@t"})] == ["a@t", "old-b@t"]
    assert canonical(rows, {"b@t": "old-b@t"})[1].start == dt.date(2031, 6, 2)


def test_only_dates_make_a_diff_true() -> None:
    row = _row("a", 1)
    assert not Diff(renamed=(("a@t", "b@t"),))
    assert Diff(added=(row,)) and Diff(removed=(row,)) and Diff(moved=((row, row),))
    assert not Diff()


def test_renames_pair_by_dates_preferring_a_shared_category_in_document_order() -> None:
    old = [_row("r0", 5, "y"), _row("r1", 5, "x"), _row("r2", 5, "x"), _row("r3", 9, "x")]
    new = [_row("n0", 5, "x", "y"), _row("n1", 5, "x"), _row("n2", 5, "z"), _row("n3", 9, "x", "x")]
    result = diff(old, new)
    # n0 shares y with r0 and x with r1: r0 comes first in the document. n2 shares no
    # category with r2 but has its dates and its place: a reworded row, not removed + added.
    pairs = (("n0@t", "r0@t"), ("n1@t", "r1@t"), ("n2@t", "r2@t"), ("n3@t", "r3@t"))
    assert result.renamed == pairs
    assert (result.added, result.removed) == ((), ())
    # A removed row pairs once: a later row sharing its category takes it, n2 is then new.
    again = diff(old, [*new, _row("n4", 5, "x")])
    assert again.renamed[-1] == ("n4@t", "r2@t") and again.removed == ()
    assert [e.uid for e in again.added] == ["n2@t"]
    assert result.moved == ()
    # A row whose dates moved keeps its uid: moved, not renamed.
    moved = diff([_row("m", 1, end=3)], [_row("m", 1, end=4)])
    assert [(o.end, n.end) for o, n in moved.moved] == [(dt.date(2031, 6, 3), dt.date(2031, 6, 4))]
    assert (moved.added, moved.removed, moved.renamed) == ((), (), ())


def test_the_lost_rows_message_names_both_counts() -> None:
    rows = [_row(f"e{n}", n + 1) for n in range(6)]
    assert suspicious(rows, rows[:2]) == (
        "the timeline shrank from 6 to 2 events; "
        "keeping the last good version (is the document half-edited?)"
    )
