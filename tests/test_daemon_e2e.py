"""End to end: a real daemon process, real SMTP and Slack stand-ins, kill -9, a moved deadline."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests._daemon import (
    Daemon,
    ceil_minute,
    free_port,
    lead_for,
    sleep_until,
    wait_for,
    write_term,
)
from tests._servers_slack import FakeSlack
from tests._servers_smtp import Handler, start_plain

pytestmark = pytest.mark.slow

CONFIG = """
[service]
database = "sqlite:///{db}"
timezone = "America/Los_Angeles"
misfire_grace = "40s"

[[sources]]
name = "term"
path = "term.md"
poll = "1s"

[[subscriptions]]
name = "mail"
notifier = "email"
target = ["ada@example.org", "bob@example.org"]
role = "mentee"
leads = ["{mail_lead}"]
changes = true

[[subscriptions]]
name = "slack"
notifier = "slack"
target = "#deadlines"
role = "mentee"
leads = ["{slack_lead}"]
changes = true

# Reminders only: no change alert, and no "now open" notice for the proposals period.
[[subscriptions]]
name = "quiet"
notifier = "email"
target = ["cyd@example.org"]
role = "mentee"
categories = ["proposal"]
leads = ["{mail_lead}"]
changes = false
openings = false

# The "now open" notice only (its lead is for a close after the test ends).
[[subscriptions]]
name = "openings"
notifier = "email"
target = ["opal@example.org"]
categories = ["proposal"]
leads = ["1s"]
openings = true

[notifiers.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "lfx-cal@example.org"

[notifiers.slack]
token_env = "E2E_SLACK_TOKEN"
base_url = "{slack_url}"
min_interval = 0
"""


def subjects(handler: Handler) -> Counter[tuple[str, str]]:
    """(recipient, subject) of every message the SMTP server accepted."""
    seen: Counter[tuple[str, str]] = Counter()
    for received in list(handler.messages):
        message = email.message_from_bytes(received.content, policy=email.policy.default)
        for rcpt in received.rcpt_tos:
            seen[(rcpt, str(message["subject"]))] += 1
    return seen


def test_reminders_survive_kill_and_follow_a_moved_deadline(tmp_path: Path) -> None:
    handler = Handler()
    smtp = start_plain(handler)
    with FakeSlack() as slack:
        t0 = dt.datetime.now(dt.UTC)
        deadline = ceil_minute(t0 + dt.timedelta(seconds=45))
        mail_due = t0 + dt.timedelta(seconds=6)
        slack_due = t0 + dt.timedelta(seconds=15)
        # Proposals open at a whole minute during the run (the document has minutes only).
        opens = deadline - dt.timedelta(minutes=1)
        opens = opens if opens >= t0 + dt.timedelta(seconds=5) else deadline
        proposals = [("Project Proposals Open", opens, deadline + dt.timedelta(minutes=10))]
        term = tmp_path / "term.md"
        write_term(term, [("Mentee Applications Close", deadline)], proposals)
        config = tmp_path / "lfx-cal.toml"
        config.write_text(
            CONFIG.format(
                db=(tmp_path / "state.sqlite3").as_posix(),
                mail_lead=lead_for(deadline, mail_due),
                slack_lead=lead_for(deadline, slack_due),
                smtp_port=smtp.port,
                slack_url=slack.base_url,
            )
        )
        daemon = Daemon(config, free_port(), {"E2E_SLACK_TOKEN": "xoxb-test"}).start()
        try:
            # 1. On time: the three addresses get the e-mail reminder once.
            def reminded() -> list[str]:
                close = "Mentee applications close"
                seen = subjects(handler).items()
                return [r for (r, s), n in seen for _ in range(n) if s.startswith(close)]

            wait_for(lambda: len(reminded()) >= 3, 30, daemon.output)
            assert sorted(reminded()) == ["ada@example.org", "bob@example.org", "cyd@example.org"]

            # 2. kill -9 just before the Slack reminder is due, restart after it.
            sleep_until(slack_due - dt.timedelta(seconds=3))
            assert slack.posts() == []
            daemon.kill9()
            sleep_until(slack_due + dt.timedelta(seconds=8))
            daemon.start()
            wait_for(lambda: len(slack.posts()) >= 1, 20, daemon.output)
            time.sleep(2)
            assert len(slack.posts()) == 1, "the missed reminder must be sent exactly once"
            assert slack.posts()[0].body["text"].startswith("Mentee applications close in")
            ledger = run_cli("reminders", config)
            assert "SENT (late)" in ledger and "slack:#deadlines" in ledger

            # 3. Move the deadline one minute later: an alert now, a new reminder later.
            moved = deadline + dt.timedelta(minutes=1)
            write_term(term, [("Mentee Applications Close", moved)], proposals)
            wait_for(lambda: len(slack.posts()) >= 2, 20, daemon.output)
            assert slack.posts()[1].body["text"].startswith("Changed:")
            wait_for(
                lambda: sum(s.startswith("Changed:") for _, s in subjects(handler)) >= 2,
                20,
                daemon.output,
            )
            new_mail_due = mail_due + dt.timedelta(minutes=1)
            sleep_until(new_mail_due)
            wait_for(lambda: len(reminded()) >= 6, 20, daemon.output)
            wait_for(lambda: any(r == "opal@example.org" for r, _ in subjects(handler)), 20,
                     daemon.output)  # fmt: skip
            time.sleep(2)  # time for a duplicate to show up, if there were one
            final = subjects(handler)
            assert sorted(reminded()) == sorted(
                ["ada@example.org", "bob@example.org", "cyd@example.org"] * 2
            )
            per_recipient = Counter(r for (r, _), n in final.items() for _ in range(n))
            # ada and bob: two reminders and the change alert; cyd (changes = false,
            # openings = false): the two reminders only; opal: the opening notice only.
            assert per_recipient == {
                "ada@example.org": 3, "bob@example.org": 3, "cyd@example.org": 2,
                "opal@example.org": 1,
            }, final  # fmt: skip
            (opening,) = [s for r, s in final if r == "opal@example.org"]
            assert opening.startswith("Project proposals are open until"), opening
        finally:
            assert daemon.stop() == 0, daemon.output()
            smtp.stop()


def run_cli(command: str, config: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lfx_cal", command, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout + done.stderr
