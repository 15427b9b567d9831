"""Cold start: a command imports only what it needs (``bench/bench_cold.py`` times it).

``export`` and ``show`` of a local Markdown file need the timeline engine,
icalendar and click — never the network, the database, the scheduler or the
notifiers. Counting modules is exact where timing on a shared machine is not.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

NOT_NEEDED = (
    "aiohttp", "apscheduler", "asyncio", "concurrent", "httpx", "notifiers", "prometheus_client",
    "psycopg", "scheduler", "slack_sdk", "smtplib", "socket", "sqlalchemy", "ssl", "yaml",
)  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["export", "config/example-term.md", "-o", "/dev/null"],
        ["show", "--format", "json", "config/example-term.md"],
    ],
    ids=["export", "show"],
)
def test_reading_a_local_document_imports_no_network_database_or_service_code(
    args: list[str],
) -> None:
    code = (
        "import json, sys\n"
        "from lfx_cal.cli import cli\n"
        f"try: cli.main({args!r}, standalone_mode=False)\n"
        "except SystemExit: pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    assert sorted(loaded.intersection(NOT_NEEDED)) == []
