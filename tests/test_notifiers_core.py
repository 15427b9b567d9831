"""Message building, the registry, the console backend and the recorder test double."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys

import pytest

import notifiers
from feeds.model import Event
from notifiers import (
    Change,
    ConfigError,
    ConsoleNotifier,
    Kind,
    PermanentError,
    RecorderNotifier,
    TransientError,
    UnknownBackendError,
    build_message,
    changed_from,
    create,
    sample_message,
)

PERIOD = Event(
    uid="p@lfx-cal",
    term="lfx-2027-t2",
    title="Mentee\r\nApplications\t Open",
    start=dt.datetime(2027, 5, 12, 0, 0, tzinfo=dt.UTC),
    end=dt.datetime(2027, 5, 25, 23, 59, tzinfo=dt.UTC),
    notes=("Apply on the portal.",),
    source="https://example.org/README.md",
)
DAY = Event(uid="d@lfx-cal", term="lfx-2027-t2", title="Stipend", start=dt.date(2027, 7, 21))


def test_reminder_content_is_built_once_and_one_line() -> None:
    message = build_message(PERIOD, "reminder", lead=dt.timedelta(days=1, hours=12), zone="UTC")
    assert message.kind is Kind.REMINDER
    title = "Mentee applications close in 1 day 12 hours — Tue, May 25, 11:59 PM UTC"
    assert message.title == title
    assert message.deadline == dt.datetime(2027, 5, 25, 23, 59, tzinfo=dt.UTC)
    assert not message.all_day
    assert message.text.splitlines() == [
        "Mentee applications are open until Tue, May 25, 11:59 PM UTC: 1 day 12 hours left.",
        "Term: lfx-2027-t2",
        "Apply on the portal.",
    ]
    assert message.source_url == "https://example.org/README.md"


def test_zone_and_all_day_deadlines() -> None:
    pdt = build_message(PERIOD, Kind.OPENING, zone="America/Los_Angeles")
    assert pdt.title == "Mentee applications are open until Tue, May 25, 4:59 PM PDT (23:59 UTC)"
    assert pdt.when_label == "open until"
    assert pdt.text.startswith("Mentee applications opened Tue, May 11, 5:00 PM PDT (00:00 UTC)")
    day = build_message(DAY, Kind.REMINDER, lead=dt.timedelta(days=7), zone="Europe/Berlin")
    assert day.title == "Stipend in 1 week — Wed, Jul 21"
    assert day.all_day and day.deadline_text == "Wed, Jul 21"
    assert day.deadline == dt.datetime(2027, 7, 20, 22, 0, tzinfo=dt.UTC)
    today = build_message(DAY, Kind.TODAY, zone="Europe/Berlin")
    assert (today.title, today.when_label) == ("Today: stipend", "today")
    assert day.source_url is None


def test_changes() -> None:
    moved = PERIOD.__class__(**{**_fields(PERIOD), "end": PERIOD.start + dt.timedelta(days=20)})
    change = changed_from(PERIOD, moved, zone="UTC")
    assert change == Change(
        "deadline", "Tue, May 25, 2027, 11:59 PM UTC", "Tue, Jun 1, 2027, 12:00 AM UTC"
    )
    message = build_message(moved, Kind.CHANGED, change=change, zone="UTC")
    assert "the deadline moved from Tue, May 25, 2027, 11:59 PM UTC to Tue, Jun 1" in message.text
    assert changed_from(PERIOD, PERIOD) is None


def _fields(event: Event) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__slots__}


def test_build_message_explains_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="lead"):
        build_message(PERIOD, Kind.REMINDER)
    with pytest.raises(ConfigError, match="change"):
        build_message(PERIOD, Kind.CHANGED)
    with pytest.raises(ConfigError, match="zone"):
        build_message(PERIOD, Kind.OPENING, zone="Mars/Olympus")
    with pytest.raises(ValueError):
        build_message(PERIOD, "party")


def test_sample_message_is_deterministic_given_now() -> None:
    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    message = sample_message(now=now)
    assert message.title == "lfx-cal test notification in 1 day — Wed, Jan 2, 12:00 PM UTC"
    assert message.text == (
        "lfx-cal test notification: Wed, Jan 2, 12:00 PM UTC, in 1 day.\n"
        "Term: lfx-cal-test\n"
        "This is a test message from lfx-cal notify-test; no deadline is real."
    )
    assert message.deadline == dt.datetime(2030, 1, 2, 12, 0, tzinfo=dt.UTC)
    assert (message.lead, message.term) == (dt.timedelta(days=1), "lfx-cal-test")
    assert message.kind is Kind.REMINDER


def test_registry_and_unknown_names() -> None:
    assert notifiers.names() == ("console", "email", "recorder", "slack")
    assert isinstance(create("console"), ConsoleNotifier)
    with pytest.raises(UnknownBackendError, match="console, email, recorder, slack") as caught:
        create("pigeon")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, LookupError)
    with pytest.raises(ConfigError, match="valid keys"):
        create("console", {"colour": True})


def test_slack_is_loaded_on_first_use_only() -> None:
    """A daemon without Slack never imports slack_sdk or httpx (memory, issue 14)."""
    code = (
        "import sys, lfx_cal.server, lfx_cal.selfservice, notifiers\n"
        "assert 'slack_sdk' not in sys.modules and 'httpx' not in sys.modules, 'eager'\n"
        "assert notifiers.backend_class('slack').name == 'slack'\n"
        "assert notifiers.SlackNotifier is notifiers.backend_class('slack')\n"
        "assert notifiers.WEBHOOK == 'webhook' and 'slack_sdk' in sys.modules\n"
        "try:\n"
        "    notifiers.register('slack', notifiers.ConsoleNotifier)\n"
        "except notifiers.ConfigError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('slack taken over')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_error_tree() -> None:
    assert issubclass(TransientError, notifiers.NotifierError)
    assert issubclass(PermanentError, notifiers.DeliveryError)
    assert issubclass(ConfigError, ValueError)
    assert not issubclass(TransientError, PermanentError)


def test_console_prints_human_lines(capsys: pytest.CaptureFixture[str]) -> None:
    message = build_message(PERIOD, Kind.REMINDER, lead=dt.timedelta(hours=6), zone="UTC")
    receipt = create("console").send(message, "#demo", key="k1")
    out = capsys.readouterr().out.splitlines()
    title = "Mentee applications close in 6 hours — Tue, May 25, 11:59 PM UTC"
    assert out[0] == f"[reminder] {title} -> #demo"
    assert "    closes: Tue, May 25, 11:59 PM UTC" in out
    assert (receipt.backend, receipt.id, receipt.detail) == (
        "console",
        "k1",
        f"printed {len(out)} lines",
    )


def test_recorder_records_and_scripts_failures() -> None:
    recorder = RecorderNotifier()
    message = sample_message(now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    recorder.fail("#broken", PermanentError("unknown channel"), TransientError("busy"))
    outcomes = recorder.send_many(message, ["#ok", "#broken", "#ok2"], key="k")
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, PermanentError)
    with pytest.raises(TransientError):
        asyncio.run(recorder.asend(message, "#broken"))
    assert asyncio.run(recorder.asend(message, "#broken")).backend == "recorder"
    assert [r.target for r in recorder.sent] == ["#ok", "#ok2", "#broken"]
    assert recorder.sent[0].key == "k" and recorder.messages_to("#ok") == [message]
    assert len(recorder.attempts) == 5


def test_an_added_or_removed_row_says_so_in_words_people_read() -> None:
    added = build_message(DAY, Kind.CHANGED, change=Change("dates", "-", "2027-07-21"), zone="UTC")
    assert added.title.startswith("New: Stipend — ") and "2027-07-21" not in added.title
    assert "was added to the schedule" in added.text and "moved" not in added.text
    instant = Change("dates", "2027-05-25T23:59:00Z", "removed")
    removed = build_message(PERIOD, Kind.CHANGED, change=instant, zone="UTC")
    assert removed.title == "Removed: Mentee applications"  # the subject of the period
    assert "T23:59:00Z" not in removed.text and "11:59 PM" in removed.text


def test_an_informational_day_that_moves_is_a_date_not_a_deadline() -> None:
    moved = dt.date(2027, 7, 22)
    later = Event(uid=DAY.uid, term=DAY.term, title=DAY.title, start=moved)
    message = build_message(later, Kind.CHANGED, change=changed_from(DAY, later), zone="UTC")
    assert "the date moved" in message.text and "deadline" not in message.text
