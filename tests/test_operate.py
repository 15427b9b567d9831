"""``lfx-cal check`` and ``lfx-cal reminders`` in-process, on real files and SQLite."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lfx_cal.cli import cli
from tests._daemon import free_port
from tests.conftest import ROOT

CONFIG = """
[service]
database = "sqlite:///{db}"
listen = "127.0.0.1:{port}"
[[sources]]
name = "example"
path = "{doc}"
[[sources]]
name = "missing"
path = "{missing}"
[[subscriptions]]
name = "mentees"
notifier = "console"
target = "stdout"
role = "mentee"
leads = ["7d"]
"""


def write(tmp_path: Path, **extra: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        CONFIG.format(
            db=(tmp_path / "s.db").as_posix(),
            doc=(ROOT / "config" / "example-term.md").as_posix(),
            missing=(tmp_path / "nope.md").as_posix(),
            port=free_port(),  # check verifies the port is free: never a shared one
        )
        + "".join(f"{k} = {v}\n" for k, v in extra.items())
    )
    return path


def test_check_prints_the_plan_and_fails_on_an_unreadable_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--config", str(write(tmp_path))])
    assert result.exit_code == 1
    assert "source example: 12 events (lfx-2027-t2)" in result.output
    assert "source missing: FAILED" in result.output and "no such file" in result.output
    assert "reminder 1w before  Mentee Applications Open  -> mentees(1)" in result.output
    assert "Project Proposals" not in result.output  # mentors' row, not the mentees'


def test_bad_config_names_the_key_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[service]\nmisfire_grace = "soon"\n')
    for command in ("check", "reminders", "serve"):
        result = CliRunner().invoke(cli, [command, "--config", str(path)])
        assert result.exit_code == 2, command
        assert "service.misfire_grace" in result.output and "'soon'" in result.output


def test_reminders_lists_the_plan_before_anything_was_stored(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["reminders", "--config", str(write(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "(no version stored yet" in result.output
    assert "Mentee Applications Open  -> mentees(1)" in result.output
    assert "ledger ():" in result.output


def test_publish_takes_sequence_from_an_existing_database(tmp_path: Path) -> None:
    import datetime as dt

    from scheduler.store import ChangeRecord, Store

    config = tmp_path / "c.toml"
    doc = (ROOT / "config" / "example-term.md").as_posix()
    db = (tmp_path / "s.db").as_posix()
    config.write_text(
        f'[service]\ndatabase = "sqlite:///{db}"\n[[sources]]\nname = "x"\npath = "{doc}"\n'
    )
    out = tmp_path / "site"

    def published() -> str:
        result = CliRunner().invoke(cli, ["publish", "--config", str(config), "--out", str(out)])
        assert result.exit_code == 0, result.output
        return (out / "feeds" / "all.ics").read_bytes().decode().replace("\r\n ", "")

    assert "SEQUENCE:1" not in published()
    assert not (tmp_path / "s.db").exists()  # publishing never creates a database
    uid = "lfx-2027-t2-mentee-applications-open@lfx-cal"
    with Store(f"sqlite:///{db}") as store:
        store.record_changes([ChangeRecord("x", uid, "moved", "a", "b", "2027-05-01T00:00:00Z")])
        assert store.revisions()[uid].modified == dt.datetime(2027, 5, 1, tzinfo=dt.UTC)
    block = published().split(f"UID:{uid}\r\n", 1)[1].split("END:VEVENT", 1)[0]
    assert "SEQUENCE:1" in block and "LAST-MODIFIED:20270501T000000Z" in block
