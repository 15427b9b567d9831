"""Broken configurations: ``check`` exits 2 naming the key; every command stops cleanly.

Each mistake is one edit of a configuration that ``check`` accepts. ``check``
must exit 2 with the key in its one-line message (and the bad value echoed);
``serve``, ``reminders``, ``publish`` and ``notify-test`` exit 2 with that one
line and no traceback whenever they need what is broken. ``serve`` runs
in-process with the server replaced by a tripwire, so a mistake that slipped
through fails the test instead of starting a server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lfx_cal.cli import cli
from tests._daemon import free_port
from tests.conftest import ROOT

BASE = """
[service]
database = "sqlite:///state/lfx.db"
listen = "127.0.0.1:{port}"

[[sources]]
name = "term"
path = "term.md"

[[subscriptions]]
name = "mail"
notifier = "email"
target = ["mentors@example.org"]
role = "mentor"
leads = ["7d"]

[[subscriptions]]
name = "chat"
notifier = "slack"
target = "#deadlines"
role = "mentee"

[notifiers.email]
host = "127.0.0.1"
port = 2525
security = "none"
from = "lfx-cal@example.org"

[notifiers.slack]
token_env = "MATRIX_SLACK_TOKEN"
"""
ENV = {"MATRIX_SLACK_TOKEN": "xoxb-matrix"}
ALL = ("check", "serve", "reminders", "publish", "notify-test")
SENDS = ("check", "serve", "notify-test")  # need the secrets
RUNS = ("check", "serve")  # need the database writable and the port free


@dataclass(frozen=True)
class Mistake:
    name: str
    old: str
    new: str
    key: str
    echo: str
    commands: tuple[str, ...] = ALL
    env: tuple[tuple[str, str | None], ...] = ()


CLOSED = free_port()
MISTAKES = [
    Mistake("misspelled notifier key", "host = ", "hots = ", "notifiers.email.hots", "'hots'"),
    Mistake("unset token variable", "", "", "notifiers.slack.token_env", "MATRIX_SLACK_TOKEN",
            SENDS, (("MATRIX_SLACK_TOKEN", None),)),
    Mistake("blank token variable", "", "", "notifiers.slack.token_env", "MATRIX_SLACK_TOKEN",
            SENDS, (("MATRIX_SLACK_TOKEN", "  "),)),
    Mistake("mysql", "sqlite:///state/lfx.db", "mysql://u@localhost/lfx", "service.database",
            "mysql://u@localhost/lfx"),
    Mistake("unreachable postgresql", "sqlite:///state/lfx.db",
            f"postgresql://lfx@127.0.0.1:{CLOSED}/lfx", "service.database", str(CLOSED),
            ("check", "serve", "reminders", "publish")),
    Mistake("postgresql password never printed", "sqlite:///state/lfx.db",
            f"postgresql://u:Pw5ecret@127.0.0.1:{CLOSED}/db", "service.database",
            f"u:***@127.0.0.1:{CLOSED}/db", ("check", "serve", "reminders", "publish")),
    Mistake("sqlite folder missing", "sqlite:///state/lfx.db", "sqlite:///nowhere/lfx.db",
            "service.database", "nowhere", RUNS),
    Mistake("sqlite in memory", "sqlite:///state/lfx.db", "sqlite://", "service.database",
            "'sqlite://'"),
    Mistake("sqlite folder not writable", "sqlite:///state/lfx.db", "sqlite:////proc/x.sqlite3",
            "service.database", "'/proc'", RUNS),
    Mistake("sqlite file not a database", "sqlite:///state/lfx.db", "sqlite:///term.md",
            "service.database", "term.md' is not a SQLite database",
            ("check", "serve", "reminders", "publish")),
    Mistake("listen not a port", "127.0.0.1:{port}", "127.0.0.1:notaport", "service.listen",
            "127.0.0.1:notaport"),
    Mistake("listen host unknown", "127.0.0.1:{port}", "no-such-host.invalid:8080",
            "service.listen", "no-such-host.invalid", RUNS),
    Mistake("leads in words", 'leads = ["7d"]', 'leads = ["7 days"]',
            "subscriptions[0].leads[0]", "'7 days'"),
    Mistake("leads not a list", 'leads = ["7d"]', 'leads = "7d"', "subscriptions[0].leads",
            "'7d'"),
    Mistake("role plural", 'role = "mentor"', 'role = "mentors"', "subscriptions[0].role",
            "'mentors'"),
    Mistake("unknown category", 'role = "mentor"', 'categories = ["stipends"]',
            "subscriptions[0].categories[0]", "'stipends'"),
    Mistake("e-mail target a string", 'target = ["mentors@example.org"]',
            'target = "mentors@example"', "subscriptions[0].target", "'mentors@example'"),
    Mistake("e-mail target not an address", 'target = ["mentors@example.org"]',
            'target = ["mentors@example.org", "not an address"]', "subscriptions[0].target[1]",
            "'not an address'"),
    Mistake("e-mail target missing", 'target = ["mentors@example.org"]\n', "",
            "subscriptions[0].target", "missing"),
    Mistake("e-mail target empty", 'target = ["mentors@example.org"]', "target = []",
            "subscriptions[0].target", "empty"),
    Mistake("slack channel malformed", 'target = "#deadlines"', 'target = "#Dead Lines!"',
            "subscriptions[1].target[0]", "'#Dead Lines!'"),
    Mistake("slack webhook target without webhook_env", 'target = "#deadlines"',
            'target = "webhook"', "subscriptions[1].target[0]", "webhook_env"),
    Mistake("no sources", '[[sources]]\nname = "term"\npath = "term.md"\n', "", "sources",
            "[[sources]]", ("check", "serve", "publish")),
    Mistake("source with path and url", 'path = "term.md"',
            'path = "term.md"\nurl = "https://example.org/t.md"', "sources[0]", "path or url"),
    Mistake("source url not http", 'path = "term.md"', 'url = "ftp://example.org/t.md"',
            "sources[0].url", "'ftp://example.org/t.md'"),
    Mistake("misspelled subscription key", 'leads = ["7d"]', 'lead = ["7d"]',
            "subscriptions[0].lead", "'lead'"),
    Mistake("subscription names clash", 'name = "chat"', 'name = "mail"',
            "subscriptions[1].name", "'mail'"),
    Mistake("notifier without table", 'notifier = "slack"', 'notifier = "pigeon"',
            "subscriptions[1].notifier", "'pigeon'"),
    Mistake("unknown backend table", "[notifiers.slack]", "[notifiers.pigeon]\n[notifiers.slack]",
            "notifiers.pigeon", "'pigeon'"),
    Mistake("port as text", "port = 2525", 'port = "2525"', "notifiers.email.port", "'2525'"),
    Mistake("security misspelled", 'security = "none"', 'security = "tls"',
            "notifiers.email.security", "'tls'"),
    Mistake("from not an address", 'from = "lfx-cal@example.org"', 'from = "lfx-cal"',
            "notifiers.email.from", "'lfx-cal'"),
    Mistake("username without password_env", 'security = "none"',
            'security = "starttls"\nusername = "u"', "notifiers.email.password_env", "missing"),
    Mistake("password variable unset", 'security = "none"',
            'security = "starttls"\nusername = "u"\npassword_env = "MATRIX_NO_PASSWORD"',
            "notifiers.email.password_env", "MATRIX_NO_PASSWORD", SENDS,
            (("MATRIX_NO_PASSWORD", None),)),
    Mistake("token_env not a variable name", 'token_env = "MATRIX_SLACK_TOKEN"',
            'token_env = "xoxb-pasted-token"', "notifiers.slack.token_env", "'xoxb-pasted-token'"),
    Mistake("webhook variable not a URL", 'token_env = "MATRIX_SLACK_TOKEN"',
            'token_env = "MATRIX_SLACK_TOKEN"\nwebhook_env = "MATRIX_HOOK"',
            "notifiers.slack.webhook_env", "MATRIX_HOOK", SENDS, (("MATRIX_HOOK", "hooks"),)),
    Mistake("zone unknown", "[service]\n", '[service]\ntimezone = "Mars/Base"\n',
            "service.timezone", "'Mars/Base'"),
    Mistake("grace a number", "[service]\n", "[service]\nmisfire_grace = 5\n",
            "service.misfire_grace", "5"),
    Mistake("flag as text", 'role = "mentee"', 'role = "mentee"\nchanges = "yes"',
            "subscriptions[1].changes", "'yes'"),
    Mistake("toml syntax", "[service]\n", "[service\n", "toml", "line"),
    Mistake("unknown top-level key", "[service]\n", 'colour = "blue"\n[service]\n',
            "(top level).colour", "'colour'"),
]  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config" / "example-term.md", tmp_path / "term.md")
    (tmp_path / "state").mkdir()
    return tmp_path


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def serve(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("serve got past its checks and would have started")

    monkeypatch.setattr("lfx_cal.server.serve", serve)
    yield


def invoke(command: str, config: Path, env: dict[str, str | None]) -> Result:
    args = [command, "--config", str(config)]
    if command == "publish":
        args += ["--out", str(config.parent / "site")]
    return CliRunner(env=env).invoke(cli, args)


def write(folder: Path, text: str) -> Path:
    path = folder / "lfx.toml"
    path.write_text(text)
    return path


def test_the_base_configuration_passes_check_and_read_only_commands_create_nothing(
    folder: Path,
) -> None:
    config = write(folder, BASE.format(port=free_port()))
    for command in ("reminders", "publish"):
        result = invoke(command, config, dict(ENV))
        assert result.exit_code == 0, (command, result.output)
        assert not (folder / "state" / "lfx.db").exists(), command
    result = invoke("check", config, dict(ENV))
    assert result.exit_code == 0, result.output
    assert "config " in result.output and "ok" in result.output
    assert not (folder / "state" / "lfx.db").exists()  # check never creates it either
    result = invoke("serve", config, dict(ENV))
    assert isinstance(result.exception, AssertionError)  # the tripwire: serve would start


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_each_mistake_stops_every_command_that_needs_it(folder: Path, mistake: Mistake) -> None:
    port = free_port()
    base = BASE.format(port=port)
    old, new = mistake.old.format(port=port), mistake.new.format(port=port)
    assert old in base, "the mistake must edit the base configuration"
    config = write(folder, base.replace(old, new, 1))
    env: dict[str, str | None] = {**ENV, **dict(mistake.env)}
    for command in ALL:
        if command not in mistake.commands:
            if command in ("reminders", "publish"):  # read-only: they do not need it
                result = invoke(command, config, env)
                assert result.exit_code in (0, 1), (command, result.output)
            continue  # notify-test would really send
        result = invoke(command, config, env)
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert "Traceback" not in result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("lfx-cal: error: "), (command, lines)
        assert f"{config}: {mistake.key}: " in lines[0], (command, lines[0])
        assert mistake.echo in lines[0], (command, lines[0])
        assert "Pw5ecret" not in result.output, (command, result.output)
    assert not (folder / "state" / "lfx.db").exists()


def test_a_busy_port_stops_check_and_serve(folder: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write(folder, BASE.format(port=port))
        for command in RUNS:
            result = invoke(command, config, dict(ENV))
            assert result.exit_code == 2, result.output
            assert "service.listen" in result.stderr and f"127.0.0.1:{port}" in result.stderr


def test_a_relative_sqlite_path_is_relative_to_the_config_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from scheduler.config import load_config

    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_config(str(write(folder, BASE.format(port=free_port()))))
    assert config.service.database == f"sqlite:///{(folder / 'state' / 'lfx.db').resolve()}"


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--listen", "127.0.0.1:notaport"],
        ["serve", "--config", "{config}"],
        ["check", "--config", "{config}"],
    ],
)
def test_real_processes_print_one_line_and_no_traceback(folder: Path, args: list[str]) -> None:
    config = write(folder, BASE.format(port=free_port()).replace("host = ", "hots = "))
    argv = [a.format(config=config) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "lfx_cal", *argv],
        cwd=folder, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    if "--listen" in args:
        assert "Invalid value for '--listen'" in result.stderr and "notaport" in result.stderr
    else:
        assert result.stderr.count("\n") == 1 and "notifiers.email.hots" in result.stderr
