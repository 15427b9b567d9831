"""Finding timelines and naming terms: several per page, pinning, identity, merges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from feeds.errors import NoTimelineError
from feeds.load import load, load_all
from feeds.merge import distinct_uids
from feeds.model import endpoint_text
from feeds.timeline import parse_markdown, parse_markdown_all
from tests.conftest import FIXTURES, ROOT

FORMS = FIXTURES / "forms"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lfx_cal", *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_two_timelines_are_two_terms_each_named_by_its_own_heading() -> None:
    first, second = load_all(str(FORMS / "two-timelines.md"))
    assert (first.term.id, second.term.id) == ("lfx-2028-t1", "lfx-2027-t3")
    assert [endpoint_text(e.start) for e in first.events] == ["2028-01-10", "2028-01-27"]
    assert [e.line for e in second.events] == [14, 15, 16]
    assert all(e.uid.startswith("lfx-2027-t3-") for e in second.events)


def test_show_prints_every_timeline_and_term_pins_one() -> None:
    path = str(FORMS / "two-timelines.md")
    shown = json.loads(cli("show", "--format", "json", path).stdout)
    assert [t["term"]["id"] for t in shown] == ["lfx-2028-t1", "lfx-2027-t3"]
    pinned = json.loads(cli("show", "--format", "json", "--term", "lfx-2027-t3", path).stdout)
    assert pinned["term"]["id"] == "lfx-2027-t3" and len(pinned["events"]) == 3


def test_pinning_a_term_the_page_does_not_have_names_the_ones_it_has() -> None:
    with pytest.raises(NoTimelineError, match="lfx-2028-t1, lfx-2027-t3"):
        load(str(FORMS / "two-timelines.md"), term="lfx-2030-t2")


def test_a_pinned_source_keeps_its_term_as_the_page_gains_a_draft_above() -> None:
    current = (FORMS / "two-timelines.md").read_text().split("## Timeline\n")[1]
    before = parse_markdown("# Term 03 - 2027 Sept - Nov\n\n## Timeline\n" + current, "p.md")
    after = parse_markdown((FORMS / "two-timelines.md").read_text(), "p.md", term="lfx-2027-t3")
    assert [e.uid for e in before.events] == [e.uid for e in after.events]
    assert [e.start for e in before.events] == [e.start for e in after.events]


def test_term_supplies_year_and_number_to_every_row_read_from_stdin() -> None:
    text = "# Mentorship\n\n## Timeline\n\n| Activity | Date |\n| --- | --- |\n"
    text += "| Proposals | Mon, Jan 8 – Wed, Jan 24 |\n| Kickoff | Mon, Mar 4 |\n"
    result = cli("show", "--format", "json", "--term", "lfx-2024-t1", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["term"]["id"] == "lfx-2024-t1"
    assert [e["start"] for e in data["events"]] == ["2024-01-08", "2024-03-04"]
    assert result.stderr == ""


@pytest.mark.parametrize("bad", ["bogus", "lfx-25-t3", "lfx-2025-t", "2025"])
def test_a_malformed_term_is_a_usage_error(bad: str) -> None:
    result = cli("show", "--term", bad, str(FORMS / "two-timelines.md"))
    assert result.returncode == 2
    assert f"'{bad}' is not a term id" in result.stderr and "Traceback" not in result.stderr


def test_a_page_that_is_not_a_term_is_an_error_not_an_empty_calendar(tmp_path: Path) -> None:
    page = tmp_path / "overview.md"
    page.write_text(
        "# About the programme\n\nThree terms a year.\n\n## Schedule\n\n"
        "Each term publishes its own dates.\n\n- Spring: see its page\n- 2024\n- 2025\n"
    )
    result = cli("show", str(page))
    assert result.returncode == 2
    assert "overview.md: no timeline found" in result.stderr and result.stdout == ""


def test_the_term_id_is_never_a_bare_file_name(tmp_path: Path) -> None:
    page = tmp_path / "top.md"
    page.write_text("# Open source cohort\n\nKey dates for 2027:\n\n- March 2: apply\n")
    assert load(str(page)).term.id == "lfx-2027"
    page.write_text("# Open source cohort\n\n## Timeline\n\n- March 2, 2027: apply\n")
    assert load(str(page)).term.id == "lfx-open-source-cohort"
    from_stdin = cli("show", "--format", "json", "-", stdin=page.read_text())
    assert json.loads(from_stdin.stdout)["term"]["id"] == "lfx-open-source-cohort"


def test_the_title_skips_tables_of_contents_and_completed_projects() -> None:
    assert load(str(FORMS / "setext-and-toc.md")).term.title == "Term 02 - 2027 June - August"
    text = "# Completed Projects\n\n# Term 01 - 2029\n\n## Timeline\n\n- Jan 9: proposals\n"
    assert parse_markdown(text, "t.md").term.title == "Term 01 - 2029"


def test_term_span_lines_set_the_term_and_are_not_events() -> None:
    timeline = load(str(FORMS / "term-span-heading.md"))
    assert timeline.term.id == "lfx-2027-t3"
    assert (timeline.term.first_month, timeline.term.last_month) == (9, 11)
    assert "Term 3" not in {e.title for e in timeline.events}


def test_merged_sources_never_share_a_uid(tmp_path: Path) -> None:
    path = str(FORMS / "bold-label.md")
    merged = distinct_uids([load(path), load(path)])
    uids = [e.uid for t in merged for e in t.events]
    assert len(uids) == len(set(uids)) == 6
    assert merged[1].events[0].uid == "lfx-2027-t2-proposals-due-2@lfx-cal"
    assert all("also given by" in w.message for w in merged[1].warnings)
    out = tmp_path / "both.ics"
    result = cli("export", path, path, "-o", str(out))
    assert result.returncode == 0 and "also given by" in result.stderr
    text = out.read_text()
    assert text.count("UID:lfx-2027-t2-proposals-due@lfx-cal") == 1
    assert text.count("UID:lfx-2027-t2-proposals-due-2@lfx-cal") == 1


def test_nested_time_and_note_bullets_belong_to_their_parent() -> None:
    timeline = load(str(FORMS / "month-headings.md"))
    kickoff = timeline.events[0]
    assert (endpoint_text(kickoff.start), endpoint_text(kickoff.end)) == (  # type: ignore[arg-type]
        "2027-03-03T23:00:00Z",
        "2027-03-04T00:30:00Z",
    )
    assert kickoff.notes == ("Bring your questions",)
    assert [e.title for e in timeline.events] == [
        "Kickoff meeting", "Office hours", "Midterm check-in",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("item", "start", "end"),
    [
        ("- Applications: June 7, to June 18, 2027", "2027-06-07", "2027-06-18"),
        ("- Coding: June 21 through August 27, 2027", "2027-06-21", "2027-08-27"),
        ("- Review: June 1 – June 4, 2027", "2027-06-01", "2027-06-04"),
        ("- Review: June 1 to June 4, 2027", "2027-06-01", "2027-06-04"),
    ],
)
def test_range_separators(item: str, start: str, end: str) -> None:
    (event,) = parse_markdown(f"# Cohort 2027\n\n## Timeline\n\n{item}\n", "t.md").events
    assert (endpoint_text(event.start), endpoint_text(event.end)) == (start, end)  # type: ignore[arg-type]


def test_every_timeline_of_a_document_in_document_order() -> None:
    text = (
        "# Programme\n\n## Term 1 2030 schedule\n\n- Jan 7: proposals\n\n"
        "## Term 2 2030 schedule\n\n- Apr 7: proposals\n"
    )
    found = parse_markdown_all(text, "t.md")
    assert [t.term.id for t in found] == ["lfx-2030-t1", "lfx-2030-t2"]
    assert [endpoint_text(t.events[0].start) for t in found] == ["2030-01-07", "2030-04-07"]


def _poll_source(tmp_path: Path, text: str, pin: str = "") -> object:
    from scheduler.config import parse_config

    doc = tmp_path / "term.md"
    doc.write_text(text, encoding="utf-8")
    extra = f'term = "{pin}"\n' if pin else ""
    toml = f'[[sources]]\nname = "t"\npath = "{doc.as_posix()}"\n{extra}'
    return parse_config(toml, str(tmp_path / "c.toml")).sources[0]


def test_the_daemon_keeps_serving_its_term_when_a_draft_appears_above(tmp_path: Path) -> None:
    import datetime as dt

    from scheduler.poll import poll
    from scheduler.store import Store

    both = (FORMS / "two-timelines.md").read_text()
    current_only = "# Term 03 - 2027 Sept - Nov\n\n## Timeline\n" + both.split("## Timeline\n")[1]
    now = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    source = _poll_source(tmp_path, current_only)
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        first = poll(source, store, "America/Los_Angeles", now)  # type: ignore[arg-type]
        assert first.timeline is not None and first.timeline.term.id == "lfx-2027-t3"
        (tmp_path / "term.md").write_text(both, encoding="utf-8")  # the draft appears above
        second = poll(source, store, "America/Los_Angeles", now)  # type: ignore[arg-type]
        assert second.error is None and second.timeline is not None
        assert second.timeline.term.id == "lfx-2027-t3"
        assert not (second.diff.added or second.diff.removed or second.diff.moved)
        assert "also holds lfx-2028-t1" in second.timeline.warnings[0].message


def test_a_source_pinned_to_a_term_reads_that_term(tmp_path: Path) -> None:
    import datetime as dt

    from scheduler.poll import poll
    from scheduler.store import Store

    source = _poll_source(tmp_path, (FORMS / "two-timelines.md").read_text(), "lfx-2027-t3")
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        result = poll(source, store, "UTC", dt.datetime(2027, 6, 1, tzinfo=dt.UTC))  # type: ignore[arg-type]
    assert result.timeline is not None and result.timeline.term.id == "lfx-2027-t3"
    assert result.timeline.warnings == ()


def test_a_malformed_pinned_term_is_a_config_error(tmp_path: Path) -> None:
    from scheduler.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sources\[0\]\.term: 'next' is not a term id"):
        _poll_source(tmp_path, "# x\n", "next")


def test_check_flags_a_source_that_plans_nothing_or_doubts_its_years(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lfx_cal.cli import cli
    from tests._daemon import free_port

    (tmp_path / "past.md").write_text(
        "# Term 01 - 2024 March - May\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n"
        "| Mentee applications | Mon, Jan 29 - Tue, Feb 13, 2024 |\n"
    )
    (tmp_path / "c.toml").write_text(
        f'[service]\nlisten = "127.0.0.1:{free_port()}"\n'
        '[[sources]]\nname = "past"\npath = "past.md"\n'
        '[[subscriptions]]\nname = "all"\nnotifier = "console"\ntarget = "stdout"\n'
    )
    result = CliRunner().invoke(cli, ["check", "--config", str(tmp_path / "c.toml")])
    assert result.exit_code == 0, result.output
    assert "ATTENTION: all 1 events of term lfx-2024-t1 are in the past" in result.output
    assert "plan: 0 upcoming reminders" in result.output


def test_term_tables_under_their_own_headings_are_each_a_term() -> None:
    first, second = load_all(str(FORMS / "two-term-tables.md"))
    assert (first.term.id, second.term.id) == ("lfx-2028-t1", "lfx-2027-t3")
    assert [e.title for e in second.events] == ["Proposals", "Last day"]  # not the project table


def test_a_page_of_thousands_of_timeline_tables_reads_only_the_first_ones() -> None:
    table = "## Timeline\n\n| a | date |\n|---|---|\n| r{} | Mar 3 |\n\n"
    text = "".join(table.format(i) for i in range(3000))
    with pytest.raises(NoTimelineError):  # no year anywhere: an error, and a quick one
        parse_markdown_all(text, "t.md")
