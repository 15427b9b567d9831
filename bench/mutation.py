"""Mutation testing, one module at a time: run mutmut against that module's fast tests.

Usage (from the repository root, after ``pip install -e '.[test]'``)::

    .venv/bin/python bench/mutation.py feeds/resolve.py          # one module
    .venv/bin/python bench/mutation.py --list                    # the modules and their tests
    .venv/bin/python bench/mutation.py scheduler/plan.py --show  # also print surviving diffs

Each module is mutated in its own copy of the working tree
(``.mutation/<module>/``, git-ignored; the files git knows, as they are on disk),
whose ``pyproject.toml`` gets two more ``[tool.mutmut]`` keys: ``only_mutate``
(the module) and ``pytest_add_cli_args_test_selection`` (its fast test files,
from :data:`MODULES`). mutmut runs each mutant against only the tests that
executed the mutated function, forked from one warm process, with at most
``--children`` (default 2) at a time: the machine's cores are shared. Every run
starts over: mutmut's incremental mode was seen reporting every mutant killed
after the test selection changed (mutmut 3.8.1), so its cache is not trusted.

The score is what mutmut's badge computes: (killed + timeout) / (total −
skipped); a mutant no test reaches counts as survived. Mutants judged
equivalent (no observable behaviour changes) are listed in :data:`EQUIVALENT`
with the reason, and the score is printed without them too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"

PARSE = ["tests/test_documents.py", "tests/test_forms.py", "tests/test_dates_fast.py",
         "tests/test_years.py", "tests/test_policy.py", "tests/test_schedule.py",
         "tests/test_uids.py", "tests/test_resolve_exact.py"]  # fmt: skip
"""The reading tests (the hostile-input, hypothesis and `check` matrix files are left out:
seconds per mutant)."""
LEDGER = ["tests/test_store.py", "tests/test_retry_and_skip.py", "tests/test_upgrade_replan.py",
          "tests/test_fanout_lanes.py", "tests/test_ledger_marks.py",
          "tests/test_ledger_promises.py",
          "-k", "not postgresql and not urls_are_normalized and not grow"]  # fmt: skip
"""SQLite only: a PostgreSQL server per forked mutant would take seconds each."""
MODULES: dict[str, list[str]] = {
    "feeds/resolve.py": PARSE,
    "feeds/ical.py": ["tests/test_ical.py", "tests/test_golden_ics.py", "tests/test_publish.py"],
    "scheduler/plan.py": [
        "tests/test_meaning.py",
        "tests/test_plan_changes.py",
        "tests/test_retry_and_skip.py",
    ],
    "scheduler/changes.py": [
        "tests/test_plan_changes.py",
        "tests/test_retry_and_skip.py",
        "tests/test_changes_matching.py",
        "tests/test_change_alerts.py",
        "tests/test_changes_scoring.py",
    ],
    "scheduler/delivery.py": [
        "tests/test_retry_and_skip.py",
        "tests/test_poll_delivery.py",
        "tests/test_meaning.py",
        "tests/test_fanout_lanes.py",
        "tests/test_change_alerts.py",
        "tests/test_lease.py",
        "tests/test_delivery_promises.py",
        "-k",
        "not postgresql",
    ],
    "scheduler/ledger.py": LEDGER,
    "scheduler/ledger_postgres.py": [
        "tests/test_store.py",
        "tests/test_fanout_lanes.py",
        "-k",
        "postgresql",
    ],
    "scheduler/ledger_base.py": LEDGER,
    "scheduler/outcomes.py": ["tests/test_outcomes.py", *LEDGER],
}
"""Each mutated module and the fast test files that exercise it."""

EQUIVALENT: dict[str, str] = {
    "feeds.ical.x__human__mutmut_4": "`'T' in text or True`: a date's text has no T or :00Z, "
    "so the replacements change nothing",
    "feeds.ical.x__vevents__mutmut_145": "related_end=None instead of False: both are falsy",
    "scheduler.plan.x_jobs_for__mutmut_27": "leads in ascending order: the plan is sorted by "
    "(due, id) at the end, and ids differ by lead",
    "scheduler.plan.x_jobs_for__mutmut_28": "reverse=False: as mutmut_27",
    **dict.fromkeys(
        [f"feeds.resolve.x__date__mutmut_{n}" for n in (14, 15, 16, 17, 18, 19)],
        "the month name of a date that does not exist: prepare() already refused months outside "
        "1-12 and days over 31, and January and December have 31 days",
    ),
    **dict.fromkeys(
        [
            "feeds.resolve.x_year_row__mutmut_1",
            "feeds.resolve.x__date__mutmut_1",
            "feeds.resolve.x__date__mutmut_2",
        ],
        "a weakened assert (a type-checker guard prepare() already made true)",
    ),
    "feeds.resolve.x_prepare__mutmut_51": "`month or 1`: a missing month was refused just above",
    "feeds.resolve.x__instant__mutmut_76": "`day - shift` over shifts (-1, 0, 1): the same three "
    "candidates",
    "feeds.resolve.x_finish__mutmut_38": "`break` for `continue` on the last loop item (no end)",
    "feeds.resolve.x_finish__mutmut_24": "the shared zone of a cell without times is None anyway",
    "scheduler.delivery.x_backoff__mutmut_13": "exponent cap 17 for 16: 30 s x 2^16 is far past "
    "the one-hour cap either way",
    "scheduler.delivery.x_backoff__mutmut_25": "Retry-After of exactly 0 lengthens nothing "
    "(max with the schedule's 30 s or more)",
    "scheduler.delivery.x_backoff__mutmut_26": "Retry-After up to 1 s lengthens nothing either",
    "scheduler.delivery.x_time_left__mutmut_13": "`/` for `//` under int() of a positive value "
    "(a negative one is raised to the 1-minute floor both ways)",
    "scheduler.changes.x__same_word__mutmut_6": "`<` for `<=`: two different words of one "
    "length are never prefixes of each other, whichever is taken as the short one",
    "scheduler.changes.x__dice__mutmut_1": "`and` for `or`: with one side empty no word is "
    "common, 0.0 either way (both empty is tested: no division by zero)",
    "scheduler.changes.x__score__mutmut_18": "`or` in the no-category guard: without a category, "
    "a side with no words has title 0 and the next check refuses the pair anyway",
    "scheduler.changes.x__same_dates__mutmut_21": "`<=` for `<` 1e-9: places are i/(n-1); in "
    "tables under 30,000 rows two places differ by 0 or by more than 1e-9",
    "scheduler.ledger_base.xǁChangeKeyǁparse__mutmut_3": "rpartition for partition: a change "
    "key's text holds exactly one `|` (dates and `-` never contain one)",
    **dict.fromkeys(
        [
            "scheduler.delivery.xǁCourierǁ_failed__mutmut_17",
            "scheduler.delivery.xǁCourierǁ_failed__mutmut_47",
        ],
        "the error text _failed returns is only tested against None (a slow failure's "
        "message is its duration)",
    ),
    **dict.fromkeys(
        [
            "scheduler.delivery.xǁCourierǁ_send_run__mutmut_29",
            "scheduler.delivery.xǁCourierǁ_run_lane__mutmut_49",
        ],
        "`>=` for `>` SLOW_FAILURE: a measured monotonic duration of exactly 5.0 s",
    ),
    "scheduler.delivery.xǁCourierǁ_send_run__mutmut_8": "`>=` for `>` at the end of a run "
    "slice: a monotonic reading exactly at the end",
    **dict.fromkeys(
        [
            "scheduler.delivery.xǁCourierǁ_send_blocking__mutmut_35",
            "scheduler.delivery.xǁCourierǁ_send_blocking__mutmut_82",
        ],
        "`held = None` for False: the flag is only tested for truth",
    ),
    "scheduler.delivery.xǁCourierǁ_send_blocking__mutmut_38": "the _Unrecorded wrapper's text "
    "is never shown: it is unwrapped and its .error raised",
    **dict.fromkeys(
        [
            "scheduler.delivery.xǁCourierǁ_slots_of__mutmut_1",
            "scheduler.delivery.xǁCourierǁ_slots_of__mutmut_2",
        ],
        "a missed lookup falls through to setdefault, which returns the notifier's slots",
    ),
    **dict.fromkeys(
        [
            "scheduler.delivery.xǁ_Unrecordedǁ__init____mutmut_1",
            "scheduler.delivery.xǁ_Unrecordedǁ__init____mutmut_2",
        ],
        "the wrapper's own text is never shown: it is always unwrapped and .error raised",
    ),
    "scheduler.delivery.xǁCourierǁ_run_lane__mutmut_21": "`break` for `continue` once let "
    "in: an empty queue ends the loop either way, and on trouble the runner that set it "
    "marks the rest as not tried itself",
    "scheduler.delivery.xǁCourierǁ_send_group__mutmut_25": "runs from a thread also for a "
    "notifier with lanes of its own besides the shared one (none ships): the same outcomes, "
    "at most one unrecorded message per runner either way",
    "scheduler.delivery.xǁCourierǁ_send_blocking__mutmut_34": "`_Unrecorded(None)`: the "
    "TypeError of `raise None` is replaced by the ledger's own error, which the run's "
    "`finally: previous.wait()` raises again",
    "scheduler.delivery.xǁCourierǁ_send__mutmut_41": "a notifier with both kinds of target "
    "records a relay send from the loop and a channel's from its thread: each outcome is "
    "still committed before that lane's next send",
    **dict.fromkeys(
        [
            "scheduler.outcomes.xǁGroupCommitǁ__init____mutmut_5",
            "scheduler.outcomes.xǁGroupCommitǁ_write_some__mutmut_10",
        ],
        "`_writing = None` for False: the flag is only tested for truth",
    ),
    **dict.fromkeys(
        [
            "scheduler.outcomes.xǁGroupCommitǁ__init____mutmut_8",
            "scheduler.outcomes.xǁGroupCommitǁ__init____mutmut_9",
        ],
        "the first value of `_since`: every submit into an empty queue sets it before it is read",
    ),
    "scheduler.outcomes.xǁGroupCommitǁ_run__mutmut_8": "`>=` for `>` on the linger left: a "
    "monotonic reading exactly at the end of LINGER",
    "scheduler.outcomes.xǁGroupCommitǁ_run__mutmut_13": "`or` for `and` in the idle test: the "
    "writer thread may end sooner, and the next mark starts another; the same writes",
    **dict.fromkeys(
        [
            "scheduler.ledger.x__claimable__mutmut_3",
            "scheduler.ledger.x__claimable__mutmut_4",
            "scheduler.ledger.x__claimable__mutmut_26",
            "scheduler.ledger.x__claimable__mutmut_30",
            "scheduler.ledger.x_claim_statement__mutmut_15",
            "scheduler.ledger.x_claim_statement__mutmut_17",
        ],
        "the indexed form of the claimable test only guides the planner: `status` or "
        "`status || ''`, with or without the LIVE IN list, select the same rows",
    ),
    **dict.fromkeys(
        [f"scheduler.ledger.x__key_params__mutmut_{n}" for n in (4, 7, 8)],
        "zip's strict: a DeliveryKey has exactly the six key columns",
    ),
    **dict.fromkeys(
        [f"scheduler.ledger.x_ensure__mutmut_{n}" for n in (10, 11, 13, 14)]
        + [f"scheduler.ledger.x_carry_over__mutmut_{n}" for n in (77, 78, 80, 81)],
        "a misnamed value in an executemany INSERT is ignored, and the column's default is "
        "the same value (attempts 0, late false)",
    ),
    **dict.fromkeys(
        [f"scheduler.ledger.x_claim_statement__mutmut_{n}" for n in (3, 20, 21, 23)]
        + [f"scheduler.ledger.x_progress__mutmut_{n}" for n in (3, 11, 12)],
        "the spelling of a CTE or subquery name, or of a keyword, in the generated SQL",
    ),
    "scheduler.ledger.x_progress__mutmut_29": "the uid IN (live uids) term only leads the "
    "planner to the uid index; the row-value IN beside it selects the same rows",
    **dict.fromkeys(
        [
            "scheduler.ledger.x__claimable__mutmut_22",
            "scheduler.ledger.x_mark_skipped__mutmut_15",
            "scheduler.ledger.x_release__mutmut_18",
        ],
        "lease_until is read only together with status claimed, and every statement that "
        "leaves claimed clears it: each mutant drops one side of that pair",
    ),
    **dict.fromkeys(
        [f"scheduler.ledger.xǁ_Preparedǁexecute__mutmut_{n}" for n in (1, 2, 10)],
        "the compiled statement is not cached: compiled again per call, the same SQL",
    ),
    **dict.fromkeys(
        [f"scheduler.ledger.xǁ_Preparedǁexecute__mutmut_{n}" for n in (6, 7, 8)],
        "a weakened guard assert that holds (no statement here has an expanding IN)",
    ),
    **dict.fromkeys(
        [f"scheduler.ledger.x_mark__mutmut_{n}" for n in (7, 10, 11)],
        "zip's `strict` over a key's six columns and the six parameter names: always equal",
    ),
    "scheduler.outcomes.xǁGroupCommitǁsettle__mutmut_3": "`<=` for `<` at the end of "
    "settle's timeout: a monotonic reading exactly at the end",
    "scheduler.changes.x__pair_renames__mutmut_25": "`<=` for `<`: equal only when one removed "
    "row heads two of the added row's category queues, the same choice",
}
"""Surviving mutants that change no observable behaviour: mutant name → why."""


def _equivalent(name: str, diff: str) -> str | None:
    """Why the mutant *name* (its ``mutmut show`` *diff*) changes nothing, or None."""
    if name in EQUIVALENT:
        return EQUIVALENT[name]
    removed = [line[1:] for line in diff.splitlines() if line.startswith("- ")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+ ")]
    if len(removed) == len(added) == 1:
        old, new = removed[0].split('"'), added[0].split('"')
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
        if len(old) == len(new) and len(changed) == 1 and changed[0] % 2 == 1:
            i = changed[0]  # inside one string literal, which is a name: .add's first or a key
            is_name = (i == 1 and old[0].endswith(".add(")) or old[i + 1].startswith(":")
            if is_name and old[i].lower() == new[i].lower():
                return "icalendar upper-cases property and parameter names (case-insensitive)"
    return None


def _copy_tree(target: Path) -> None:
    """Copy the files git knows (tracked or new, as they are on disk) into *target*."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)


def _configure(target: Path, module: str, tests: list[str]) -> None:
    """Add this module's keys to the copied ``[tool.mutmut]`` table (the file's last table)."""
    path = target / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    if text.rfind("\n[tool.mutmut]") < text.rfind("\n["):
        raise SystemExit("pyproject.toml: [tool.mutmut] must be the last table (keys are appended)")
    text += f"only_mutate = {json.dumps([module])}\n"
    text += f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
    path.write_text(text, encoding="utf-8")
    tomllib.loads(text)  # still valid TOML


def _mutmut(work: Path, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mutmut", *args], cwd=work, text=True,
        capture_output=capture, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result.stdout or ""


def run(module: str, *, children: int, show: bool) -> float:
    """Mutation-test *module*; print the counts, survivors and score; return the score (%)."""
    work = WORK / module.replace("/", "__").removesuffix(".py")
    if work.exists():
        shutil.rmtree(work)
    _copy_tree(work)
    _configure(work, module, MODULES[module])
    _mutmut(work, "run", "--max-children", str(children))
    _mutmut(work, "export-cicd-stats", capture=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    survivors = [
        name.strip()
        for name, _, status in (
            line.partition(":") for line in _mutmut(work, "results", capture=True).splitlines()
        )
        if status.strip() not in ("", "killed", "timeout", "skipped")
    ]
    # Only the iCalendar writer has the case-only rule; other modules need no diff per survivor.
    reasons = {
        name: _equivalent(name, _mutmut(work, "show", name, capture=True))
        if module == "feeds/ical.py" and name not in EQUIVALENT
        else EQUIVALENT.get(name)
        for name in survivors
    }
    tested = int(stats["total"]) - int(stats.get("skipped", 0))
    caught = int(stats["killed"]) + int(stats.get("timeout", 0))
    score = 100.0 * caught / tested if tested else 0.0
    equivalent = [name for name in survivors if reasons[name]]
    print(f"\n{module}: {json.dumps(stats)}")
    for name in survivors:
        why = f"  (equivalent: {reasons[name]})" if reasons[name] else ""
        print(f"  not killed: {name}{why}")
        if show and not reasons[name]:
            print(_mutmut(work, "show", name, capture=True))
    print(f"{module}: mutation score {score:.1f}% ({caught} of {tested} caught)")
    if equivalent:
        rest = tested - len(equivalent)
        print(f"{module}: without {len(equivalent)} equivalent: {100.0 * caught / rest:.1f}%")
    return score


def main() -> None:
    """Parse the command line and run one module (or list them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", nargs="?", choices=sorted(MODULES), help="the module to mutate")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once (2)")
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    options = parser.parse_args()
    if options.list or options.module is None:
        for module, tests in MODULES.items():
            print(f"{module}: {' '.join(tests)}")
        return
    run(options.module, children=options.children, show=options.show)


if __name__ == "__main__":
    main()
