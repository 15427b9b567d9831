"""Replay every consecutive version pair of every term README through ``lfx-cal diff``.

A development tool, not a test: it reads a (bare) git repository of
cncf/mentoring, runs :func:`lfx_cal.diffcmd.compare` on each pair of
consecutive versions of ``programs/lfx-mentorship/YYYY/NN-*/README.md`` and
prints the counts of moved/added/removed (and renamed/split/merged) per pair,
then the totals. Check the non-empty pairs against ``git diff`` of the pair::

    python bench/replay_history.py /work/.mirror/cncf+mentoring/repo [--show]

``--show`` also prints each non-empty pair's changes as text.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

from feeds.errors import FeedError
from feeds.load import parse_document_all
from feeds.sources import Document
from lfx_cal.diffing import as_text, compare

README = re.compile(r"^programs/lfx-mentorship/\d{4}/\d{2}-[^/]+/README\.md$")


def git(repo: str, *args: str) -> str:
    """Run git on *repo* and return its standard output."""
    return subprocess.run(
        ["git", "--git-dir", repo, *args], capture_output=True, check=True, text=True, timeout=60
    ).stdout


def main(argv: list[str]) -> int:
    """Replay the history; print one line per changed pair and the totals."""
    repo, show = argv[0], "--show" in argv
    paths = [
        p for p in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() if README.match(p)
    ]
    totals: Counter[str] = Counter()
    for path in paths:
        log = git(repo, "log", "--follow", "--format=@%H", "--name-only", "--", path)
        versions = []  # (commit, path at that commit), newest first
        commit = ""
        for line in filter(None, log.splitlines()):
            if line.startswith("@"):
                commit = line[1:]
            elif commit:
                versions.append((commit, line))
                commit = ""
        versions.reverse()
        previous = None
        for commit, name in versions:
            try:
                text = git(repo, "show", f"{commit}:{name}")
                current = parse_document_all(Document(name, text))
            except (FeedError, subprocess.CalledProcessError) as error:
                print(f"{path} {commit[:8]}: unreadable: {str(error)[:100]}")
                totals["unreadable"] += 1
                continue
            if previous is not None:
                totals["pairs"] += 1
                changes = compare(previous[1], current)
                counts = {
                    "moved": len(changes.moved), "added": len(changes.added),
                    "removed": len(changes.removed), "renamed": len(changes.retitled),
                    "split": len(changes.split), "merged": len(changes.merged),
                }  # fmt: skip
                totals.update(counts)
                if any(counts.values()):
                    totals["changed pairs"] += 1 if changes else 0
                    shown = " ".join(f"{k}={v}" for k, v in counts.items() if v)
                    print(f"{path} {previous[0][:8]}..{commit[:8]}: {shown}")
                    if show:
                        print(
                            "    " + as_text(changes, "America/Los_Angeles").replace("\n", "\n    ")
                        )
            previous = (commit, current)
    print("totals:", " ".join(f"{k}={v}" for k, v in sorted(totals.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
