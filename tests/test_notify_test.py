"""``lfx-cal notify-test`` against the real loopback servers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lfx_cal.cli import cli
from tests._servers_slack import FakeSlack, Reply
from tests._servers_smtp import Handler, start_plain


def run(config: Path, *extra: str) -> tuple[int, str, str]:
    result = CliRunner(env={"TEST_SLACK_TOKEN": "xoxb-test"}).invoke(
        cli, ["notify-test", "--config", str(config), *extra]
    )
    return result.exit_code, result.stdout, result.stderr


def test_reports_slack_and_smtp_replies(tmp_path: Path) -> None:
    handler = Handler()
    smtp = start_plain(handler)
    try:
        with FakeSlack() as slack:
            slack.then(
                "/api/chat.postMessage", Reply(200, {"ok": False, "error": "channel_not_found"})
            )
            config = tmp_path / "lfx.toml"
            config.write_text(
                f"""
[[subscriptions]]
name = "mail"
notifier = "email"
target = ["a@example.org"]

[[subscriptions]]
name = "chat"
notifier = "slack"
target = ["#missing", "#deadlines"]

[notifiers.email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "lfx-cal@example.org"

[notifiers.slack]
token_env = "TEST_SLACK_TOKEN"
base_url = "{slack.base_url}"
min_interval = 0
"""
            )
            code, out, _ = run(config)
    finally:
        smtp.stop()
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("mail -> a@example.org: sent: SMTP 250")
    assert "chat -> #missing: FAILED (PermanentError)" in lines[1]
    assert "channel_not_found" in lines[1]
    assert lines[2].startswith("chat -> #deadlines: sent: HTTP 200")
    assert len(handler.messages) == 1 and handler.messages[0].rcpt_tos == ["a@example.org"]


def test_console_subscription_and_unknown_subscription(tmp_path: Path) -> None:
    config = tmp_path / "lfx.toml"
    config.write_text('[[subscriptions]]\nname = "c"\nnotifier = "console"\ntarget = "stdout"\n')
    code, out, _ = run(config, "--subscription", "c")
    assert code == 0 and "c -> stdout: sent:" in out and "lfx-cal test notification" in out
    code, _, err = run(config, "--subscription", "zzz")
    assert code == 2 and "no subscription 'zzz'" in err
