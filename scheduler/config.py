"""The TOML configuration of ``lfx-cal serve``, validated before anything starts.

Every key is declared once in :mod:`scheduler.settings` (backend tables in
:mod:`notifiers.settings`); this module reads a file with those declarations
into frozen dataclasses. Unknown keys, wrong types, bad durations, unknown
zones, malformed targets and bad notifier tables raise
:class:`~scheduler.errors.ConfigError` as ``file: key: problem (fix)``, echoing
the bad value. Whether the environment can run it (secrets set, database
reachable, port free) is :mod:`scheduler.preflight`'s job.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feeds import filters
from feeds.meaning import Rules
from feeds.zones import PROGRAM_ZONE
from notifiers.config import Problem, Table
from notifiers.message import Unsubscribe
from scheduler.errors import ConfigError
from scheduler.settings import DEFAULT_DATABASE, SERVICE, SOURCES, SUBSCRIPTIONS, header

MAX_FETCH_DEADLINE = dt.timedelta(minutes=10)
"""``fetch_deadline`` may exceed a short poll interval up to this (then polls just skip)."""

__all__ = [
    "DEFAULT_DATABASE",
    "Config",
    "Service",
    "Source",
    "Subscription",
    "load_config",
    "parse_config",
]


@dataclass(frozen=True)
class Service:
    """``[service]``: where state lives, the program zone, the HTTP listener.

    One field per key of :data:`scheduler.settings.SERVICE` (same name).
    """

    database: str = DEFAULT_DATABASE
    timezone: str = PROGRAM_ZONE
    listen: str = "127.0.0.1:8080"
    misfire_grace: dt.timedelta = dt.timedelta(hours=1)
    public_url: str | None = None
    """The address people reach the service at (links in messages); None: the listen address."""
    date_deadline_time: dt.time | None = None
    """Local time a date-only close means; None: the end of that day."""
    notice_hour: int = 9
    """Local hour (program zone) of morning notices: informational days, date-only openings."""
    signup: bool = False
    """Self-service e-mail sign-up on the page (see :mod:`scheduler.subscribers`)."""
    signup_secret_env: str = ""
    """The variable holding the key that signs confirm and manage links."""
    signup_leads: tuple[dt.timedelta, ...] = (dt.timedelta(days=7), dt.timedelta(days=1))
    """The lead times a subscriber may choose from."""
    signup_confirm_ttl: dt.timedelta = dt.timedelta(hours=48)
    """How long a confirmation link works (and an unconfirmed sign-up is kept)."""
    signup_max_pending: int = 1000
    """Unconfirmed sign-ups kept at once; more are refused until some expire."""
    signup_per_ip: int = 10
    """Sign-up requests one client address may make per hour."""
    signup_per_address: int = 3
    """Confirmation mails one e-mail address may receive per day."""

    @property
    def rules(self) -> Rules:
        """The meaning rules (:mod:`feeds.meaning`) these settings give."""
        return Rules(self.timezone, self.date_deadline_time, self.notice_hour)


@dataclass(frozen=True)
class Source:
    """``[[sources]]``: a term document to poll (``path`` or ``url``)."""

    name: str
    location: str
    poll: dt.timedelta = dt.timedelta(hours=6)
    fetch_deadline: dt.timedelta = dt.timedelta(seconds=30)
    """Total time one fetch of a URL may take (connect, headers, body)."""
    term: str | None = None
    """The term to read from a document that holds several timelines (``lfx-2027-t1``)."""


@dataclass(frozen=True)
class Subscription:
    """``[[subscriptions]]``: who gets which reminders, how early, through what."""

    name: str
    notifier: str
    targets: tuple[str, ...]
    categories: frozenset[str]
    leads: tuple[dt.timedelta, ...] = (dt.timedelta(days=7), dt.timedelta(days=1))
    changes: bool = False
    openings: bool = False
    term: str | None = None
    """Only this term's events (None: every term); self-service subscribers may pick one."""
    zone: str | None = None
    """A self-service subscriber's own zone for the times in messages (None: the program zone)."""
    unsubscribe: Unsubscribe | None = None
    """A self-service subscriber's unsubscribe and manage links (None for configured ones)."""
    personal: bool = False
    """A self-service subscriber: logs name the subscription, never the address."""


@dataclass(frozen=True)
class Config:
    """A whole validated configuration file."""

    path: str
    service: Service = field(default_factory=Service)
    sources: tuple[Source, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    notifiers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def subscription(self, name: str) -> Subscription:
        """Return the subscription called *name*, or raise ConfigError listing the names."""
        for subscription in self.subscriptions:
            if subscription.name == name:
                return subscription
        known = ", ".join(s.name for s in self.subscriptions) or "none defined"
        raise ConfigError(self.path, "subscriptions", f"no subscription {name!r}", known)


_TOP_LEVEL = ("notifiers", "service", "sources", "subscriptions")
_BUILT_IN = ("console", "recorder")  # backends that need no [notifiers.NAME] table


class _Reader:
    """Reads one file with the registry's declarations; every error names *path*."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.base = Path(path).parent
        # Equal category sets and lead tuples are shared: 10,000 subscriptions
        # with the same filter then hold one frozenset, not 10,000 copies.
        self.shared: dict[object, Any] = {}

    def fail(self, key: str, problem: str, fix: str = "") -> ConfigError:
        return ConfigError(self.path, key, problem, fix)

    def read(self, table: Table, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, not {value!r}", f"write {header(table)}")
        return table.read(value, where, self.fail)

    def service(self, value: Any) -> Service:
        v = self.read(SERVICE, value, "service")
        from scheduler.schema import anchor_sqlite

        # Every declared key is a field of Service: a new key is one Setting and one field.
        return Service(**{**v, "database": anchor_sqlite(v["database"], self.base)})

    def source(self, index: int, value: Any) -> Source:
        where = f"sources[{index}]"
        v = self.read(SOURCES, value, where)
        if (v["path"] is None) == (v["url"] is None):
            raise self.fail(where, "needs exactly one of path or url", 'e.g. path = "term.md"')
        location = v["path"] or v["url"]
        if v["path"] is not None and not Path(location).is_absolute():
            location = str((self.base / location).resolve())
        poll, deadline = v["poll"], v["fetch_deadline"]
        if deadline is None:  # well under the poll interval
            deadline = min(dt.timedelta(seconds=30), max(poll / 2, dt.timedelta(seconds=1)))
        elif deadline > max(poll, MAX_FETCH_DEADLINE):
            raise self.fail(
                f"{where}.fetch_deadline",
                f"{value['fetch_deadline']!r} is longer than the poll interval",
                "make it well under poll, e.g. 30s",
            )
        return Source(v["name"], location, poll, deadline, v["term"])

    def subscription(self, index: int, value: Any, notifiers: Mapping[str, Any]) -> Subscription:
        from notifiers.settings import check_targets

        where = f"subscriptions[{index}]"
        v = self.read(SUBSCRIPTIONS, value, where)
        notifier = v["notifier"]
        if notifier not in notifiers and notifier not in _BUILT_IN:
            raise self.fail(
                f"{where}.notifier",
                f"{notifier!r} has no [notifiers.{notifier}] table",
                "add it, or use console",
            )
        try:
            targets = check_targets(notifier, v["target"], notifiers.get(notifier, {}))
        except Problem as problem:
            raise self.fail(f"{where}.target{problem.at}", problem.problem, problem.fix) from None
        categories, role = list(v["categories"]), v["role"]
        wanted = filters.wanted(categories, role) or filters.EVERYTHING
        leads = v["leads"]
        wanted, leads = self.shared.setdefault(wanted, wanted), self.shared.setdefault(leads, leads)
        return Subscription(
            v["name"], notifier, targets, wanted, leads, v["changes"], v["openings"]
        )

    def notifiers(self, value: Any) -> dict[str, Any]:
        from notifiers.errors import ConfigError as NotifierConfigError
        from notifiers.errors import UnknownBackendError
        from notifiers.registry import check_table

        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise self.fail("notifiers", "must hold tables such as [notifiers.slack]")
        for name, table in value.items():
            try:
                check_table(name, table, secrets=False)
            except UnknownBackendError as error:
                raise self.fail(f"notifiers.{name}", error.problem, error.fix) from None
            except NotifierConfigError as error:
                raise self.fail(f"notifiers.{name}.{error.key}", error.problem, error.fix) from None
        return value

    def unique(self, where: str, names: list[str]) -> None:
        seen: set[str] = set()  # a set, not names[:index]: 50,000 subscriptions took minutes
        for index, name in enumerate(names):
            if name in seen:
                raise self.fail(
                    f"{where}[{index}].name",
                    f"{name!r} is used twice",
                    "give each a unique name",
                )
            seen.add(name)


def parse_config(text: str, path: str = "<config>") -> Config:
    """Validate TOML *text* into a Config; raises ConfigError naming the key and the fix.

    Relative paths (sources, a SQLite database) are relative to *path*'s folder.
    """
    reader = _Reader(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise reader.fail("toml", str(error), "fix the TOML syntax") from None
    for key in data:
        if key not in _TOP_LEVEL:
            raise reader.fail(
                f"(top level).{key}",
                f"{key!r} is not one of the valid keys",
                f"valid: {', '.join(_TOP_LEVEL)}",
            )
    notifiers = reader.notifiers(data.get("notifiers", {}))
    sources, subscriptions = data.get("sources", []), data.get("subscriptions", [])
    for key, value in (("sources", sources), ("subscriptions", subscriptions)):
        if not isinstance(value, list):
            raise reader.fail(key, f"must be an array of tables, not {value!r}", f"write [[{key}]]")
    config = Config(
        path=path,
        service=reader.service(data.get("service", {})),
        sources=tuple(reader.source(i, t) for i, t in enumerate(sources)),
        subscriptions=tuple(
            reader.subscription(i, t, notifiers) for i, t in enumerate(subscriptions)
        ),
        notifiers=notifiers,
    )
    if config.service.signup:
        if "email" not in notifiers:
            raise reader.fail(
                "service.signup", "sign-up mails need a [notifiers.email] table", "add one"
            )
        if not config.service.public_url:
            raise reader.fail(
                "service.public_url",
                "missing: sign-up mails link to the confirm, manage and unsubscribe pages",
                'add public_url = "https://cal.example.org/" (https: RFC 8058 needs it)',
            )
        if not config.service.signup_secret_env:
            raise reader.fail(
                "service.signup_secret_env",
                "missing: sign-up links are signed with a key from the environment",
                'add signup_secret_env = "LFX_CAL_SIGNUP_SECRET" and export that variable',
            )
    reader.unique("sources", [s.name for s in config.sources])
    reader.unique("subscriptions", [s.name for s in config.subscriptions])
    return config


def load_config(path: str) -> Config:
    """Read and validate the configuration file at *path*."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            path, "file", f"cannot read: {error.strerror}", "check the path"
        ) from None
    return parse_config(text, path)
