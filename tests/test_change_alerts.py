"""The daemon's change alerts use the matching of ``lfx-cal diff`` (issue 13).

One running daemon (in process: real SQLite store, real scheduler, the
recorder backend) is driven through a sequence of versions of one term
document by calling its poll directly (no waiting on intervals). After each
version: the alerts sent, and SEQUENCE/LAST-MODIFIED of the served feed's
events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from icalendar import Calendar

from lfx_cal.web.feeds import parse_query, render_feed
from notifiers import RecorderNotifier
from scheduler.config import parse_config
from scheduler.daemon import Daemon
from scheduler.store import Store
from tests.test_poll_delivery import Clock

T = "lfx-2031-t2-"
ROWS = [
    ("Call for project ideas", "Mon, Apr 7 – Mon, May 5, 5:00 PM PDT"),
    ("Applicants apply", "Tue, May 6 – Tue, May 20, 5:00 PM PDT"),
    ("Mentor Review/Admission Calls", "Wed, May 21 – Tue, Jun 3, 5:00 PM PDT"),
    ("Coding period", "Mon, Jun 9 – Fri, Aug 29"),
    ("Midpoint check-in due", "Tue, Jul 15"),
]
DRAFT = (
    "# Term 3 of 2031\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n| Ideas | Tue, Jul 8 |\n\n"
)


def document(rows: list[tuple[str, str]]) -> str:
    body = "\n".join(f"| {a} | {d} |" for a, d in rows)
    return f"# Term 2 of 2031\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n{body}\n"


def edit(rows: list[tuple[str, str]], old: str, *new: tuple[str, str]) -> list[tuple[str, str]]:
    at = [a for a, _ in rows].index(old)
    return [*rows[:at], *new, *rows[at + 1 :]]


CONFIG = """
[service]
database = "sqlite:///{db}"
[[sources]]
name = "t"
path = "{doc}"
[[subscriptions]]
name = "watch"
notifier = "recorder"
target = ["#changes"]
changes = true
"""


def test_alerts_and_feed_revisions_follow_the_matching(tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text(document(ROWS))
    config = parse_config(
        CONFIG.format(db=(tmp_path / "s.db").as_posix(), doc=doc.as_posix()), "c.toml"
    )
    recorder, clock = RecorderNotifier(), Clock(dt.datetime(2031, 4, 1, tzinfo=dt.UTC))
    daemon = Daemon(config, Store(config.service.database), {"recorder": recorder}, clock=clock)

    def feed() -> dict[str, tuple[str, int, dt.datetime | None]]:
        body = render_feed(daemon.snapshot, parse_query("lfx-2031-t2", (), None)).body
        return {
            str(e["UID"]): (
                str(e["SUMMARY"]),
                int(e.get("SEQUENCE", 0)),
                e["LAST-MODIFIED"].dt if "LAST-MODIFIED" in e else None,
            )
            for e in Calendar.from_ical(body).walk("VEVENT")
        }

    async def version(rows: list[tuple[str, str]], prefix: str = "") -> list[str]:
        """Publish a version, poll it, and return the alerts it caused ("uid: text")."""
        clock.now += dt.timedelta(days=1)
        doc.write_text(prefix + document(rows))
        before = len(recorder.sent)
        result = await daemon.poll(config.sources[0])
        assert result.error is None, result.error
        for _ in range(200):  # alerts go out on a task of their own: drain it
            await asyncio.sleep(0.01)
            if len(recorder.sent) >= before + len(result.diff.moved) + len(result.diff.added):
                break
        await asyncio.sleep(0.05)
        return [f"{r.message.event.uid}: {r.message.title}" for r in recorder.sent[before:]]

    async def scenario() -> None:
        await daemon.start()
        try:
            start = feed()
            assert all(seq == 0 for _, seq, _ in start.values())

            # 1. A rename with the same dates: nothing to say; the UID is kept.
            rows = edit(ROWS, "Applicants apply", ("Applicants submit proposals", ROWS[1][1]))
            assert await version(rows) == []
            now = feed()
            assert now[f"{T}applicants-apply@lfx-cal"][:2] == ("Applicants submit proposals", 0)

            # 2. Renamed and moved in one edit: one "moved" alert, about the same event.
            review = ("Mentor Review Period", "Wed, May 21 – Tue, Jun 3, 11AM PDT (18:00 UTC)")
            rows = edit(rows, "Mentor Review/Admission Calls", review)
            moved_at = clock.now + dt.timedelta(days=1)
            alerts = await version(rows)
            uid = f"{T}mentor-review-admission-calls@lfx-cal"
            assert [a.split(":")[0] for a in alerts] == [uid]
            assert "moved to Tue, Jun 3, 2031, 11:00 AM PDT" in alerts[0]
            assert feed()[uid] == ("Mentor Review Period", 1, moved_at)
            assert f"{T}mentor-review-period@lfx-cal" not in feed()

            # 3. A period split into its start and its end: nothing moved, nobody alerted.
            rows = edit(rows, "Coding period", ("Coding period starts", "Mon, Jun 9"),
                        ("Coding period ends", "Fri, Aug 29"))  # fmt: skip
            assert await version(rows) == []
            now = feed()
            assert now[f"{T}coding-period@lfx-cal"][:2] == ("Coding period ends", 0)
            assert now[f"{T}coding-period-starts@lfx-cal"][:2] == ("Coding period starts", 0)

            # 4. A time added to a date-only deadline: it moved (earlier).
            rows = edit(
                rows, "Midpoint check-in due", ("Midpoint check-in due", "Tue, Jul 15, 11AM PDT")
            )
            timed_at = clock.now + dt.timedelta(days=1)
            alerts = await version(rows)
            assert [a.split(":")[0] for a in alerts] == [f"{T}midpoint-check-in-due@lfx-cal"]
            assert feed()[f"{T}midpoint-check-in-due@lfx-cal"][1:] == (1, timed_at)

            # 5. The page gains the next term's timeline above its own: nothing changes.
            before = feed()
            assert await version(rows, prefix=DRAFT) == []
            assert feed() == before
            assert {c.kind for c in daemon.store.changes()} == {"moved"}
            assert len(daemon.store.changes()) == 2
        finally:
            await daemon.stop()
            daemon.store.close()

    asyncio.run(scenario())


def test_a_timeline_moving_to_another_page_changes_nothing(tmp_path: Path) -> None:
    """Identity is per term across sources: the term's own page takes over from a draft page."""
    from scheduler.poll import poll

    draft, own = tmp_path / "draft.md", tmp_path / "own.md"
    draft.write_text(document(ROWS))
    own.write_text(document(ROWS[:2]))  # the term's page, still being filled in
    text = f'[[sources]]\nname = "draft"\npath = "{draft.as_posix()}"\n'
    text += f'[[sources]]\nname = "own"\npath = "{own.as_posix()}"\n'
    config = parse_config(text, "c.toml")
    a, b = config.sources
    now = dt.datetime(2031, 4, 1, tzinfo=dt.UTC)
    zone = "America/Los_Angeles"
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        served = {s.name: poll(s, store, zone, now).timeline for s in (a, b)}
        own.write_text(document(ROWS))  # the rows arrive on the term's own page
        result = poll(b, store, zone, now, peers=[served["draft"]])  # type: ignore[list-item]
        assert result.error is None and not result.diff and result.diff.added == ()
        served["own"] = result.timeline
        draft.write_text(DRAFT)  # the draft page moves on to the next term
        result = poll(a, store, zone, now, peers=[served["own"]])  # type: ignore[list-item]
        assert result.error is None and result.diff.removed == () and result.diff.moved == ()
        assert {e.term for e in result.diff.added} == {"lfx-2031-t3"}  # the next term is new
        # without the other page's rows, the same edit would remove the whole term
        assert {c.kind for c in store.changes()} == {"added"}


def test_a_pinned_source_ignores_the_other_terms_on_its_page(tmp_path: Path) -> None:
    from scheduler.poll import poll

    page = tmp_path / "page.md"
    page.write_text(DRAFT + document(ROWS))  # the next term's draft is first on the page
    text = f'[[sources]]\nname = "p"\npath = "{page.as_posix()}"\nterm = "lfx-2031-t2"\n'
    (source,) = parse_config(text, "c.toml").sources
    now = dt.datetime(2031, 4, 1, tzinfo=dt.UTC)
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        first = poll(source, store, "America/Los_Angeles", now)
        assert first.timeline is not None and first.timeline.term.id == "lfx-2031-t2"
        page.write_text(DRAFT.replace("Tue, Jul 8", "Fri, Jul 11") + document(ROWS))
        again = poll(source, store, "America/Los_Angeles", now)
        assert again.error is None and not again.diff and store.changes() == []


def test_self_service_subscribers_hear_moves_and_removals_in_their_zone(tmp_path: Path) -> None:
    """A mentee who signed up hears when a followed deadline moves or goes; not of added rows."""
    from scheduler.subscribers import Channel, Prefs, State, Subscriber, subscriptions

    doc = tmp_path / "README.md"
    doc.write_text(document(ROWS))
    config = parse_config(
        CONFIG.format(db=(tmp_path / "s.db").as_posix(), doc=doc.as_posix()), "c.toml"
    )
    watch, mail, clock = (
        RecorderNotifier(),
        RecorderNotifier(),
        Clock(dt.datetime(2031, 4, 1, tzinfo=dt.UTC)),
    )
    notifiers = {"recorder": watch, "email": mail}
    daemon = Daemon(config, Store(config.service.database), notifiers, clock=clock)
    prefs = Prefs(role=None, leads=(dt.timedelta(days=1),), zone="Asia/Tokyo")
    row = Subscriber(7, Channel.EMAIL, "ann@example.org", State.CONFIRMED, prefs, "", "", "n")

    async def version(rows: list[tuple[str, str]], expected: int) -> list[str]:
        clock.now += dt.timedelta(days=1)
        doc.write_text(document(rows))
        before = len(mail.sent), len(watch.sent)
        result = await daemon.poll(config.sources[0])
        assert result.error is None, result.error
        for _ in range(200):  # alerts go out on a task of their own: drain it
            await asyncio.sleep(0.01)
            if len(watch.sent) >= before[1] + expected:
                break
        await asyncio.sleep(0.05)
        assert len(watch.sent) == before[1] + expected  # the configured watcher hears everything
        assert {r.target for r in mail.sent[before[0] :]} <= {"ann@example.org"}
        return [r.message.title for r in mail.sent[before[0] :]]

    async def scenario() -> None:
        await daemon.start()
        try:
            daemon.set_subscribers(subscriptions([row], None))
            moved = edit(
                ROWS,
                "Applicants apply",
                ("Applicants apply", "Tue, May 6 – Thu, May 22, 5:00 PM PDT"),
            )
            # 5:00 PM PDT on May 22 is 9:00 AM on May 23 in Tokyo: the reader's own clock
            title = (
                "Changed: Applicants apply — the deadline moved to Fri, May 23, 2031, 9:00 AM JST"
            )
            assert await version(moved, 1) == [f"{title} (00:00 UTC)"]
            added = [*moved, ("Final report due", "Fri, Aug 22")]
            assert await version(added, 1) == []
            gone = await version(edit(added, "Midpoint check-in due"), 1)
            assert gone == ["Removed: Midpoint check-in"]  # (titles drop a trailing "due")
        finally:
            await daemon.stop()
            daemon.store.close()

    asyncio.run(scenario())
