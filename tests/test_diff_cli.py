"""``lfx-cal diff`` and the pull-request workflow that runs it (examples/timeline-check.yml).

The workflow test runs the very shell script of the workflow's check step (read
from the YAML, so the test cannot drift from the file) with ``bash -eo
pipefail`` as GitHub does, in a real git repository with two commits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lfx_cal.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "timeline-check.yml"
README = "programs/lfx-mentorship/2031/02-Jun-Aug/README.md"

OLD = """# Term 2 of 2031

## Timeline

| Activity | Dates |
|---|---|
| Call for project ideas | Mon, Apr 7 – Mon, May 5, 5:00 PM PDT |
| Applicants apply | Tue, May 6 – Tue, May 20, 5:00 PM PDT |
| Mentor Review/Admission Calls | Wed, May 21 – Tue, Jun 3, 5:00 PM PDT |
| Results announced | Thu, Jun 5 |
| Coding period | Mon, Jun 9 – Fri, Aug 29 |
"""

NEW = (
    OLD.replace(
        "| Mentor Review/Admission Calls | Wed, May 21 – Tue, Jun 3, 5:00 PM PDT |",
        "| Mentor Review Period | Wed, May 21 – Tue, Jun 3, 11AM PDT (18:00 UTC) |",
    )
    .replace("Thu, Jun 5", "Fri, Jun 5")  # a weekday typo: a warning, not a change
    .replace("Coding period", "Mentees matching and coding")  # a rename: nothing
    + "| Wrap-up call | Fri, Sep 5 |\n"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repository whose second commit edits one term README and adds another."""
    repo = tmp_path / "mentoring"
    (repo / README).parent.mkdir(parents=True)
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / README).write_text(OLD)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "term 2")
    base = git(repo, "rev-parse", "HEAD")
    (repo / README).write_text(NEW)
    added = repo / "programs/lfx-mentorship/2031/03-Sep-Nov/README.md"
    added.parent.mkdir(parents=True)
    added.write_text(OLD.replace("Term 2", "Term 3").replace("Coding period", "Coding"))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "move a deadline")
    return repo, base


def test_the_workflow_script_annotates_and_reports_on_a_real_repository(
    repo: tuple[Path, str], tmp_path: Path
) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["timeline"]["steps"]
    step = next(s for s in steps if s.get("id") == "check")
    assert step["env"]["BASE"] == "${{ github.event.pull_request.base.sha }}"
    comment = next(s for s in steps if "sticky-pull-request-comment" in s.get("uses", ""))
    assert comment["with"]["path"] == "timeline-report.md"
    where, base = repo
    summary = tmp_path / "summary.md"
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "BASE": base, "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=where, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    weekday = [x for x in lines if x.startswith(f"::warning file={README},line=10::")]
    assert weekday and "Jun" in weekday[0]  # the typo's own line
    moved = [x for x in lines if "title=Deadline moved" in x]
    assert len(moved) == 1 and f"file={README},line=9," in moved[0]
    assert "Mentor Review/Admission Calls" in moved[0] and "Mentor Review Period" in moved[0]
    assert next(x for x in lines if "title=Deadline added" in x).endswith(
        "Wrap-up call: 2031-09-05"
    )
    report = (where / "timeline-report.md").read_text()
    assert summary.read_text() == report
    assert f"### Timeline changes in `{README}`" in report and "**Dates changed.**" in report
    assert "| moved | Mentor Review/Admission Calls → Mentor Review Period |" in report
    assert "| renamed | Coding period → Mentees matching and coding |" in report
    assert "New term document `programs/lfx-mentorship/2031/03-Sep-Nov/README.md`" in report


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_diff_exit_status_and_json_contract(tmp_path: Path) -> None:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text(OLD)
    new.write_text(NEW)
    assert run("diff", str(old), str(old))[:2] == (0, "no date changed\n")
    status, out, _ = run("diff", str(old), str(new), "--format", "json")
    assert status == 1
    data = json.loads(out)
    assert [{k: m[side][k] for side in ("old", "new") for k in ("title",)} for m in data["moved"]]
    [move] = data["moved"]
    assert {k: move["old"][k] for k in ("title", "start", "end")} == {
        "title": "Mentor Review/Admission Calls", "start": "2031-05-21",
        "end": "2031-06-04T00:00:00Z",
    }  # fmt: skip
    assert {k: move["new"][k] for k in ("title", "start", "end")} == {
        "title": "Mentor Review Period", "start": "2031-05-21", "end": "2031-06-03T18:00:00Z"
    }  # fmt: skip
    assert [{k: a[k] for k in ("title", "start", "end")} for a in data["added"]] == [
        {"title": "Wrap-up call", "start": "2031-09-05", "end": None}
    ]
    assert data["removed"] == []
    status, out, _ = run("diff", str(old), str(new))
    assert status == 1 and "Jun 03 11:00 PDT" in out  # the program-zone wall clock too


def test_diff_reads_git_revisions_and_trouble_is_one_line_exit_2(
    repo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    where, base = repo
    monkeypatch.chdir(where)
    status, out, _ = run("diff", f"git:{base}:{README}", README, "--format", "markdown")
    assert status == 1 and "| moved | Mentor Review/Admission Calls → Mentor Review Period |" in out
    for source, says in [
        (f"git:no-such-rev:{README}", "git:no-such-rev:"),
        (f"git:{base}:programs/missing.md", "programs/missing.md"),
        ("git:HEAD", "not git:REV:PATH"),
        ("nowhere.md", "nowhere.md: no such file"),
    ]:
        status, out, err = run("diff", source, README)
        assert status == 2 and out == "", source
        assert err.startswith("lfx-cal: error: ") and says in err and err.count("\n") == 1, err
    status, out, err = run("diff", "-", "-")
    assert status == 2 and "both read standard input" in err and err.count("\n") == 1, err


def test_a_pinned_term_is_not_read_into_a_page_of_another_term(tmp_path: Path) -> None:
    """--term naming the next term, whose draft only NEW holds: its rows are added, none moved."""
    draft = "# Term 3 of 2031\n\n## Timeline\n\n| Activity | Dates |\n|---|---|\n"
    draft += "| Call for project ideas | Mon, Jul 7 – Mon, Aug 4, 5:00 PM PDT |\n\n"
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text(OLD)
    new.write_text(draft + OLD)
    status, out, _ = run("diff", str(old), str(new), "--term", "lfx-2031-t3", "--format", "json")
    data = json.loads(out)
    assert status == 1 and data["moved"] == [] and data["removed"] == []
    assert [(r["title"], r["term"]) for r in data["added"]] == [
        ("Call for project ideas", "lfx-2031-t3")
    ]
    assert run("diff", str(old), str(new), "--term", "lfx-2031-t2")[:2] == (0, "no date changed\n")
