"""The settings registry: every key of the configuration file, declared once.

Each table is a :class:`~notifiers.config.Table` of
:class:`~notifiers.config.Setting` (name, type, default, help, example). The core
tables are declared here; each backend's ``[notifiers.NAME]`` table is declared
next to its settings class in :mod:`notifiers.settings`. :func:`tables` lists
them all: :mod:`scheduler.config` reads the file with them, the README's key
table is generated from them (``python -m scheduler.settings``) and a test checks
the README and ``config/example.toml`` against them.

Adding a key is one line here, e.g.::

    Setting("public_url", HTTP_URL, None, "address the feeds are reachable at",
            '"https://cal.example.org/"'),

plus, for ``[service]``, a field of the same name on
:class:`scheduler.config.Service`; then ``python -m scheduler.settings`` prints the
README table, and ``config/example.toml`` needs the key (tests check both).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from feeds.categories import ROLES
from feeds.model import CATEGORIES
from feeds.zones import PROGRAM_ZONE
from notifiers.config import (
    BOOL,
    DURATION,
    ENV,
    HTTP_URL,
    REQUIRED,
    TEXT,
    ZONE,
    Problem,
    Setting,
    Table,
    Type,
    choice,
    integer,
    list_of,
)
from notifiers.settings import TABLES as NOTIFIER_TABLES

DEFAULT_DATABASE = "sqlite:///lfx-cal.sqlite3"


def _database(value: Any) -> str:
    from scheduler.errors import ConfigError
    from scheduler.schema import parse_database_url

    text = TEXT.parse(value)
    try:
        parsed = parse_database_url(text)
    except ConfigError as error:
        raise Problem(f"{text!r}: {error.problem}", error.fix) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise Problem(
            f"{text!r} is an in-memory database: reminders sent would be forgotten on restart",
            "name a file, e.g. sqlite:///lfx-cal.sqlite3",
        )
    return str(text)


def parse_listen(value: Any) -> tuple[str, int]:
    """``host:port`` → (host, port); raises Problem echoing the value."""
    text = value if isinstance(value, str) else repr(value)
    host, _, port = text.rpartition(":")
    if not isinstance(value, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Problem(f"{text!r} is not host:port", 'e.g. "127.0.0.1:8080"')
    return host.strip("[]"), int(port)


def _listen(value: Any) -> str:
    parse_listen(value)
    return str(value)


_CLOCK = re.compile(r"\d{1,2}:\d{2}")


def _clock(value: Any) -> dt.time:
    fix = 'write "HH:MM" in the program zone, e.g. "17:00", or leave it out (end of day)'
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise Problem(f"{value!r} is not a time of day", fix)
    hour, minute = (int(part) for part in value.split(":"))
    if hour > 23 or minute > 59:
        raise Problem(f"{value!r} is not a time of day", fix)
    return dt.time(hour, minute)


def _term_id(value: Any) -> str:
    from feeds.errors import TermIdError
    from feeds.term import parse_term_id

    text = TEXT.parse(value)
    try:
        parse_term_id(text)
    except TermIdError as error:
        raise Problem(str(error), 'e.g. "lfx-2027-t1"') from None
    return str(text)


TERM_ID = Type("term id", _term_id)
"""``lfx-2027-t1`` or ``lfx-2027``: a term of a document with several timelines."""
TARGETS = Type("string or list of strings", lambda value: value)
"""Checked per backend by :func:`notifiers.settings.check_targets` once the notifier is known."""
DATABASE = Type("SQLAlchemy URL", _database)
"""``sqlite:///path`` (relative to the config file) or ``postgresql://…``."""
LISTEN = Type("host:port", _listen)
"""Where the HTTP listener binds."""
CLOCK = Type("time of day", _clock)
"""``"HH:MM"``, 24-hour: read as a :class:`datetime.time`."""

SERVICE = Table(
    "service",
    (
        Setting("database", DATABASE, DEFAULT_DATABASE,
                "SQLAlchemy URL; a relative SQLite path is relative to the config file; "
                "`postgresql://user:pw@host/db` for several processes"),
        Setting("timezone", ZONE, PROGRAM_ZONE,
                "program zone: times without a zone, date-only deadlines"),
        Setting("listen", LISTEN, "127.0.0.1:8080", "`host:port` of the HTTP listener"),
        Setting("misfire_grace", DURATION, "1h",
                "a reminder missed (downtime) by less than this is still sent, marked late; "
                "older ones are recorded as skipped"),
        Setting("public_url", HTTP_URL, None,
                "the address people reach the service at; every link in messages and the page "
                "uses it (default `http://{listen}/`, with a warning at start when that is a "
                "wildcard or loopback address)",
                '"https://cal.example.org/"'),
        Setting("date_deadline_time", CLOCK, None,
                "what a date-only close means: `\"HH:MM\"` on that day, program zone "
                "(default: the end of the day, so \"due Jan 20\" stays open all of Jan 20)",
                '"17:00"'),
        Setting("notice_hour", integer(0, 23), 9,
                "local hour (program zone) of \"Today:\" notices (informational days) and "
                "date-only \"now open\" notices",
                "9"),
        Setting("signup", BOOL, False,
                "self-service e-mail sign-up on the page (double opt-in; needs "
                "`[notifiers.email]`, `signup_secret_env` and `public_url`)", "false"),
        Setting("signup_secret_env", ENV, "",
                "variable holding the key (32+ characters) that signs confirm and manage "
                "links; changing it voids every link already sent", '"LFX_CAL_SIGNUP_SECRET"'),
        Setting("signup_leads", list_of(DURATION, empty=False), ["7d", "1d"],
                "the lead times a subscriber may choose from", '["7d", "1d", "1h"]'),
        Setting("signup_confirm_ttl", DURATION, "48h",
                "how long a confirmation link works; unconfirmed sign-ups are deleted after it"),
        Setting("signup_max_pending", integer(1, 1_000_000), 1000,
                "unconfirmed sign-ups kept at once; more are refused until some expire"),
        Setting("signup_per_ip", integer(1, 100_000), 10,
                "sign-up and manage requests one client address may make per hour"),
        Setting("signup_per_address", integer(1, 1000), 3,
                "confirmation mails one e-mail address may receive per day"),
    ),
    "where state lives, the program zone, the HTTP listener",
)  # fmt: skip
"""``[service]``."""

SOURCES = Table(
    "sources",
    (
        Setting("name", TEXT, REQUIRED, "unique name of the term document", '"example"'),
        Setting("path", TEXT, None,
                "a Markdown or YAML term document, relative to the config file",
                '"example-term.md"'),
        Setting("url", HTTP_URL, None, "or an http(s) address of one (exactly one of the two)",
                '"https://…/README.md"'),
        Setting("poll", DURATION, "6h", "how often to read it"),
        Setting("fetch_deadline", DURATION, None,
                "total time one fetch of a `url` may take (connecting, headers and body "
                "together: a server that drips its answer fails at this deadline); default "
                "`30s`, or half of `poll` when shorter; at most `poll` or 10 minutes",
                '"30s"'),
        Setting("term", TERM_ID, None,
                "in a document holding several timelines, the term to read (default: the one "
                "served so far, else the first, with a warning naming the others)",
                '"lfx-2027-t1"'),
    ),
    "term documents to poll",
    array=True,
)  # fmt: skip
"""``[[sources]]``."""

SUBSCRIPTIONS = Table(
    "subscriptions",
    (
        Setting("name", TEXT, REQUIRED, "unique name", '"console"'),
        Setting("notifier", TEXT, REQUIRED,
                "`console`, `slack`, `email` (needs its `[notifiers.NAME]` table)",
                '"console"'),
        Setting("target", TARGETS, None,
                "slack (required): channel name/ID or `webhook`; email (required): a list of "
                "addresses; console: anything (default `stdout`)",
                '"stdout"'),
        Setting("categories", list_of(choice(*CATEGORIES), name="list of categories"), [],
                "which rows (default: everything)", '["proposal", "review", "evaluation"]'),
        Setting("role", Type("role", choice(*ROLES).parse), None,
                "or a role preset: " + ", ".join(ROLES), '"admin"'),
        Setting("leads", list_of(DURATION, empty=False), ["7d", "1d"],
                "how long before each deadline", '["7d", "1d", "1h"]'),
        Setting("changes", BOOL, False, 'send "deadline moved" alerts', "true"),
        Setting("openings", BOOL, False, 'send "now open" notices when a period starts'),
    ),
    "who gets which reminders, how early, through what",
    array=True,
)  # fmt: skip
"""``[[subscriptions]]``."""


def tables() -> tuple[Table, ...]:
    """Every table of the configuration file: the core ones, then each backend's."""
    return (SERVICE, SOURCES, SUBSCRIPTIONS, *NOTIFIER_TABLES.values())


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def header(table: Table) -> str:
    """``[service]`` or ``[[sources]]``."""
    return f"[[{table.name}]]" if table.array else f"[{table.name}]"


def key_table_markdown() -> str:
    """The README's key table, generated from the declarations."""
    lines = ["| key | type | default | meaning |", "|-----|------|---------|---------|"]
    for table in tables():
        for setting in table.settings:
            if setting.required:
                default = "required"
            elif setting.default is None or setting.default in ("", []):
                default = "—"
            else:
                default = f"`{_toml(setting.default)}`"
            kind, help_text = (t.replace("|", "\\|") for t in (setting.type.name, setting.help))
            lines.append(f"| `{header(table)} {setting.name}` | {kind} | {default} | {help_text} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a maintainer's helper
    print(key_table_markdown())
