"""The meaning model's edges (feeds/meaning.py), the plan built on it and what `check` says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from feeds.meaning import (
    RowKind,
    Rules,
    close_of,
    kind_of,
    over_at,
    reminder_due,
    span_days,
    state,
)
from feeds.model import Event
from feeds.timeline import parse_markdown
from lfx_cal.cli import cli
from scheduler.config import Subscription
from scheduler.plan import OPENING, REMINDER, TODAY, jobs_for, skipped_leads
from tests._daemon import free_port

LA = Rules("America/Los_Angeles")
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


def read(rows: str) -> dict[str, Event]:
    text = f"# Term 01 - 2031 March - May\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n{rows}"
    timeline = parse_markdown(text, "t.md", zone=LA.zone)  # the parser records written zones
    return {e.title: e for e in timeline.events}


def sub(leads: tuple[dt.timedelta, ...], **kw: object) -> Subscription:
    return Subscription("s", "console", ("x",), frozenset({"application", "stipend"}), leads, **kw)  # type: ignore[arg-type]


def test_kinds_come_from_shape_then_wording_then_categories() -> None:
    events = read(
        "| Mentee Applications | Mar 2 – Mar 9, 2031 |\n"
        "| Proposals due | Mar 10, 2031 |\n"
        "| Mentee application deadline | Mar 11, 2031 |\n"
        "| First Stipend Payments | Mar 12, 2031 |\n"
        "| Last Day of Term | Mar 13, 2031 |\n"
        "| Final Mentee Evaluations | Mar 14, 2031 |\n"
        "| Application results announced | Mar 15, 2031 |\n"
    )
    assert {t: kind_of(e) for t, e in events.items()} == {
        "Mentee Applications": RowKind.PERIOD,
        "Proposals due": RowKind.DEADLINE,
        "Mentee application deadline": RowKind.DEADLINE,
        "First Stipend Payments": RowKind.INFO,
        "Last Day of Term": RowKind.INFO,
        "Final Mentee Evaluations": RowKind.DEADLINE,  # category: evaluation
        "Application results announced": RowKind.INFO,  # wording beats the category
    }


def test_a_date_only_close_is_the_end_of_its_day_even_across_a_dst_change() -> None:
    # 2031-03-09 is the day US clocks spring forward: the day has 23 hours.
    event = read("| Mentee Applications | Mar 2 – Sun, Mar 9, 2031 |\n")["Mentee Applications"]
    assert close_of(event.deadline, LA) == utc(2031, 3, 10, 7)  # 00:00 PDT on Mar 10
    due, _ = reminder_due(event, DAY, LA)
    assert due == utc(2031, 3, 9, 8)  # the end of Mar 8: 00:00 PST, 23 h before the close
    assert state(event, utc(2031, 3, 10, 6, 59), LA) == "open"  # 23:59 PDT on Mar 9
    assert state(event, utc(2031, 3, 10, 7), LA) == "passed"
    # an operator's date_deadline_time moves the close to that local time on the day
    five = Rules(LA.zone, dt.time(17))
    assert close_of(event.deadline, five) == utc(2031, 3, 10, 0)  # 17:00 PDT on Mar 9
    assert reminder_due(event, DAY, five)[0] == utc(2031, 3, 9, 1)  # 17:00 PST on Mar 8


def test_an_informational_day_gets_its_morning_and_whole_day_leads_only() -> None:
    event = read("| First Stipend Payments | Wed, Apr 16, 2031 |\n")["First Stipend Payments"]
    assert reminder_due(event, 7 * DAY, LA)[0] == utc(2031, 4, 9, 16)  # 09:00 PDT a week ahead
    due, reason = reminder_due(event, HOUR, LA)
    assert due is None and "informational day" in reason and "1h lead does not apply" in reason
    jobs = jobs_for([event], [sub((7 * DAY, HOUR))], LA, after=utc(2031, 4, 1))
    assert [(j.kind, j.lead, j.due) for j in jobs] == [
        (REMINDER, 7 * DAY, utc(2031, 4, 9, 16)),
        (TODAY, dt.timedelta(0), utc(2031, 4, 16, 16)),  # "Today:" at 09:00 PDT that morning
    ]
    assert [
        (lead, e.title) for e, lead, _ in skipped_leads([event], [sub((7 * DAY, HOUR))], LA)
    ] == [(HOUR, "First Stipend Payments")]
    assert state(event, utc(2031, 4, 16, 8), LA) == "open"  # 01:00 PDT: it is the day
    assert over_at(event, LA) == utc(2031, 4, 17, 7)  # not passed until the day is over


def test_a_period_opening_and_closing_in_different_zones() -> None:
    event = read(
        "| Mentee Applications | Thu, Apr 3, 2031 11PM PDT – Fri, Apr 4, 2031 9AM CEST |\n"
    )["Mentee Applications"]
    assert (event.start, event.end) == (utc(2031, 4, 4, 6), utc(2031, 4, 4, 7))
    assert event.zones == ("America/Los_Angeles", "Europe/Berlin")
    assert span_days(event, LA) == (dt.date(2031, 4, 3), dt.date(2031, 4, 4))  # as printed
    jobs = jobs_for([event], [sub((HOUR,), openings=True)], LA, after=utc(2031, 4, 1))
    assert [(j.kind, j.due) for j in jobs] == [
        (OPENING, utc(2031, 4, 4, 6)),  # "now open" at the opening instant itself
        (REMINDER, utc(2031, 4, 4, 6)),  # 1h before the close at 07:00 UTC
    ]


def test_a_midnight_utc_opening_west_of_utc() -> None:
    event = read("| Mentee Applications | Mon, Mar 3, 2031 00:00 UTC – Mar 17, 2031 |\n")[
        "Mentee Applications"
    ]
    assert event.start == utc(2031, 3, 3)  # 16:00 PST on Sunday Mar 2
    assert span_days(event, LA) == (dt.date(2031, 3, 3), dt.date(2031, 3, 17))
    assert state(event, utc(2031, 3, 2, 23, 59), LA) == "upcoming"
    assert state(event, utc(2031, 3, 3), LA) == "open"
    jobs = jobs_for([event], [sub((), openings=True)], LA, after=utc(2031, 3, 1))
    assert [(j.kind, j.due) for j in jobs] == [(OPENING, utc(2031, 3, 3))]


def test_check_says_which_leads_were_skipped_and_why(tmp_path: Path) -> None:
    (tmp_path / "t.md").write_text(
        "# Term 02 - 2099 June - August\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n"
        "| First Stipend Payments | Wed, Jul 15, 2099 |\n"
    )
    (tmp_path / "c.toml").write_text(
        f'[service]\nlisten = "127.0.0.1:{free_port()}"\n'  # check verifies the port is free
        '[[sources]]\nname = "t"\npath = "t.md"\n'
        '[[subscriptions]]\nname = "money"\nnotifier = "console"\ntarget = "stdout"\n'
        'categories = ["stipend"]\nleads = ["7d", "1h"]\n'
    )
    result = CliRunner().invoke(cli, ["check", "--config", str(tmp_path / "c.toml")])
    assert result.exit_code == 0, result.output
    assert "skipped leads: 1" in result.output
    assert "1h before First Stipend Payments: 'First Stipend Payments' is an informational day" in (
        result.output
    )
    assert "today  First Stipend Payments" in result.output
    assert "reminder 1w before  First Stipend Payments" in result.output


def test_each_subscription_links_its_own_feed() -> None:
    from feeds.categories import ROLES, expand
    from scheduler.delivery import feed_for

    base = "https://cal.example/feeds/all.ics"
    assert feed_for(base, expand((), "mentee")) == "https://cal.example/feeds/mentee.ics"
    assert feed_for(base, frozenset(ROLES["admin"])) == base
    assert feed_for(base, frozenset({"stipend", "evaluation"})) == (
        base + "?category=evaluation&category=stipend"
    )


def test_the_page_follows_the_model() -> None:
    from lfx_cal.web.page import deadlines, passed, render_page
    from scheduler.snapshot import build_snapshot

    text = (
        "# Term 01 - 2031 March - May\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n"
        "| Project Proposals Open | Wed, Jan 7 – Tue, Jan 20, 2031 |\n"
        "| Last Day of Term | Fri, May 30, 2031 |\n"
    )
    timeline = parse_markdown(text, "t.md")
    rows = deadlines(build_snapshot([timeline], {}, LA.zone))
    morning = utc(2031, 1, 20, 17)  # 09:00 PST on Jan 20: proposals are still open
    assert passed(rows, morning) == 0
    assert passed(rows, utc(2031, 1, 21, 8)) == 1  # 00:00 PST on Jan 21: now they are closed
    assert passed(rows, utc(2031, 5, 30, 17)) == 1  # the last day of term is not over at 10 AM
    page = render_page(build_snapshot([timeline], {}, LA.zone), morning)
    assert "(end of day)" in page
    assert 'data-until="2031-01-21T08:00:00Z" data-at="2031-01-21T08:00:00Z"' in page
    # the last day counts down to its start, then reads "today" until it is over
    assert (
        'data-until="2031-05-31T07:00:00Z" data-at="2031-05-30T07:00:00Z" data-kind="info"'
        ' data-opens="2031-05-30T07:00:00Z"'
    ) in page


def test_messages_say_what_happens_and_when_in_slack_and_e_mail() -> None:
    from icalendar import Calendar

    from notifiers import Kind, build_message
    from notifiers.mailbuild import render_html, render_ics, render_text
    from notifiers.slack_blocks import render

    period = Event(
        "apps@lfx-cal", "lfx-2026-t1", "Mentee Applications Open",
        utc(2026, 2, 2, 17), utc(2026, 2, 10, 19), categories=("application",),
    )  # fmt: skip
    feed = "https://cal.example/feeds/mentee.ics"
    opening = build_message(period, Kind.OPENING, zone=LA.zone, feed_url=feed)
    assert (
        opening.title == "Mentee applications are open until Tue, Feb 10, 11:00 AM PST (19:00 UTC)"
    )
    text, blocks = render(opening)
    assert text == opening.title
    summary = blocks[1]["text"]["text"]
    stamp = int(utc(2026, 2, 10, 19).timestamp())
    assert summary.startswith(f"*Open until* <!date^{stamp}^{{date_short_pretty}} {{time}}|")
    assert f"<{feed}|Calendar feed>" in blocks[-1]["elements"][0]["text"]
    assert "Term: *lfx-2026-t1*" in blocks[-1]["elements"][0]["text"]
    assert f"Calendar feed: {feed}" in render_text(opening)
    assert "<strong>Open until:</strong> Tue, Feb 10, 11:00 AM PST (19:00 UTC)" in render_html(
        opening
    )
    calendar = Calendar.from_ical(render_ics(opening))
    assert sorted(str(c["SUMMARY"]) for c in calendar.walk("VEVENT")) == [
        "Closes: Mentee applications", "Mentee Applications Open", "Opens: Mentee applications"
    ]  # fmt: skip
    stipend = Event("pay@lfx-cal", "lfx-2026-t1", "First Stipend Payments", dt.date(2026, 3, 6))
    today = build_message(stipend, Kind.TODAY, zone=LA.zone, feed_url=feed)
    assert today.title == "Today: first stipend payments" and today.all_day
    assert render(today)[1][1]["text"]["text"] == "*Today:* Fri, Mar 6"
    assert "<strong>Today:</strong> Fri, Mar 6" in render_html(today)
