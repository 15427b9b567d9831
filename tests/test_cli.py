"""The command line, run as a user would (subprocess) and through click's runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import icalendar
from click.testing import CliRunner

from lfx_cal.cli import cli
from tests.conftest import FIXTURES

UTC_DOC = str(FIXTURES / "table-utc.md")
NO_YEAR = str(FIXTURES / "table-no-year.md")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_show_json_contract_single_source() -> None:
    code, out, _ = run("show", "--format", "json", UTC_DOC)
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"source", "term", "events", "warnings"}
    assert data["term"]["id"] == "lfx-2032-t3"
    first = data["events"][0]
    assert set(first) == {"uid", "title", "categories", "start", "end", "notes", "line"}
    assert (first["title"], first["start"], first["end"]) == (
        "Project Proposals Open", "2032-07-07", "2032-07-27T18:00:00Z",
    )  # fmt: skip
    assert data["warnings"] == [
        {
            "line": 13,
            "message": "UTC equivalent 19:00 UTC disagrees with 11:00 PDT (18:00 UTC); "
            "the UTC time wins",
        }
    ]


def test_show_json_several_sources_is_a_list() -> None:
    code, out, _ = run("show", "--format", "json", UTC_DOC, NO_YEAR)
    assert code == 0 and [d["term"]["id"] for d in json.loads(out)] == [
        "lfx-2032-t3",
        "lfx-2031-t1",
    ]


def test_show_table_flags_doubtful_rows_and_warns_on_stderr() -> None:
    code, out, err = run("show", NO_YEAR)
    assert code == 0
    assert "!   9  2031-01-09" in out
    assert f"{NO_YEAR}:16: warning: cannot read date 'Thursday, Feb 30'" in err


def test_strict_turns_warnings_into_exit_1() -> None:
    assert run("show", "--strict", NO_YEAR)[0] == 1
    assert run("show", "--strict", str(FIXTURES / "dst.md"))[0] == 1


def test_unreadable_source_exits_2_naming_it() -> None:
    code, _, err = run("export", "nowhere.md")
    assert code == 2 and "nowhere.md: no such file" in err


def test_no_timeline_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("# Term 01 - 2031\n\nnothing dated\n")
    code, _, err = run("show", str(empty))
    assert code == 2 and "empty.md: no timeline found" in err


def test_export_filters_and_merges(tmp_path: Path) -> None:
    target = tmp_path / "out.ics"
    code, _, _ = run(
        "export",
        UTC_DOC,
        NO_YEAR,
        "-o",
        str(target),
        "--category",
        "evaluation",
        "--name",
        "Evals",
        "--alarms",
        "7d,1d",
    )
    assert code == 0
    calendar = icalendar.Calendar.from_ical(target.read_bytes())
    summaries = sorted(str(c["SUMMARY"]) for c in calendar.walk("VEVENT"))
    assert summaries == [  # two terms merged: each title says which
        "LFX 2031 T1 · Final evaluations",
        "LFX 2031 T1 · Midterm evaluations and first stipend payments",
        "LFX 2032 T3 · Final Mentee Evaluations", "LFX 2032 T3 · Midterm Mentee Evaluations",
    ]  # fmt: skip
    assert str(calendar["X-WR-CALNAME"]) == "Evals"
    assert len(calendar.walk("VALARM")) == 8


def test_export_role_and_window(tmp_path: Path) -> None:
    code, out, _ = run(
        "export", UTC_DOC, "--role", "mentor", "--from", "2032-08-01", "--until", "2032-09-30"
    )
    calendar = icalendar.Calendar.from_ical(out.encode())
    summaries = [str(c["SUMMARY"]) for c in calendar.walk("VEVENT")]
    assert code == 0
    assert summaries == [
        "Application Review Period (2 weeks)", "Closes: Application review period (2 weeks)",
        "Selection Notifications", "Mentorship Kick Off Call",
    ]  # fmt: skip


def test_bad_options_are_usage_errors() -> None:
    code, _, err = run("export", UTC_DOC, "--alarms", "soon")
    assert code == 2 and "--alarms" in err and "'7d'" in err
    code, _, err = run("show", "--zone", "Mars/Olympus", UTC_DOC)
    assert code == 2 and "IANA" in err
    code, _, err = run("export", UTC_DOC, "--role", "wizard")
    assert code == 2 and "mentee" in err


def test_module_entry_point_reads_stdin() -> None:
    text = Path(UTC_DOC).read_text()
    result = subprocess.run(
        [sys.executable, "-m", "lfx_cal", "export", "-", "-o", "-"],
        input=text.encode(), capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"BEGIN:VCALENDAR\r\n")
    assert b"<stdin>:13: warning" in result.stderr


def test_no_source_uses_the_bundled_example() -> None:
    code, out, _ = run("show", "--format", "json")
    assert code == 0 and json.loads(out)["events"]
