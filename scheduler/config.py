"""The TOML configuration of ``lfx-cal serve``, validated before anything starts.

Every key below is documented in the README and in ``config/example.toml``.
Unknown keys, wrong types, bad durations and unknown zones raise
:class:`~scheduler.errors.ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feeds.categories import ROLES, expand
from feeds.durations import parse_duration
from feeds.errors import DurationError
from feeds.zones import valid_zone
from scheduler.errors import ConfigError

DEFAULT_DATABASE = "sqlite:///lfx-cal.sqlite3"
MAX_FETCH_DEADLINE = dt.timedelta(minutes=10)
"""``fetch_deadline`` may exceed a short poll interval up to this (then polls just skip)."""


@dataclass(frozen=True)
class Service:
    """``[service]``: where state lives, the program zone, the HTTP listener."""

    database: str = DEFAULT_DATABASE
    timezone: str = "America/Los_Angeles"
    listen: str = "127.0.0.1:8080"
    misfire_grace: dt.timedelta = dt.timedelta(hours=1)
    public_url: str = ""
    """The address people reach the service at (links in messages); empty: the listen address."""


@dataclass(frozen=True)
class Source:
    """``[[sources]]``: a term document to poll (``path`` or ``url``)."""

    name: str
    location: str
    poll: dt.timedelta = dt.timedelta(hours=6)
    fetch_deadline: dt.timedelta = dt.timedelta(seconds=30)
    """Total time one fetch of a URL may take (connect, headers, body)."""


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


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        # Equal category sets and lead tuples are shared: 10,000 subscriptions
        # with the same filter then hold one frozenset, not 10,000 copies.
        self.shared: dict[object, Any] = {}

    def fail(self, key: str, problem: str, fix: str = "") -> ConfigError:
        return ConfigError(self.path, key, problem, fix)

    def keys(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}", "unknown key", f"valid: {', '.join(sorted(allowed))}"
            )

    def text(
        self, table: Mapping[str, Any], where: str, key: str, default: str | None = None
    ) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", f"must be a non-empty string, not {value!r}")
        return value

    def duration(
        self, table: Mapping[str, Any], where: str, key: str, default: str
    ) -> dt.timedelta:
        try:
            return parse_duration(table.get(key, default))
        except DurationError as error:
            raise self.fail(f"{where}.{key}", str(error)) from None

    def service(self, table: Any) -> Service:
        if not isinstance(table, dict):
            raise self.fail("service", "must be a table", "write [service]")
        self.keys(
            table, "service", {"database", "timezone", "listen", "misfire_grace", "public_url"}
        )
        public_url = table.get("public_url", "")
        if not isinstance(public_url, str) or (
            public_url and not public_url.startswith(("http://", "https://"))
        ):
            raise self.fail(
                "service.public_url",
                f"{public_url!r} is not an http(s) address",
                'e.g. "https://cal.example.org/"',
            )
        zone = self.text(table, "service", "timezone", Service.timezone)
        if not valid_zone(zone):
            raise self.fail(
                "service.timezone",
                f"unknown time zone {zone!r}",
                "use an IANA name such as America/Los_Angeles",
            )
        listen = self.text(table, "service", "listen", Service.listen)
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise self.fail(
                "service.listen", f"{listen!r} is not host:port", 'e.g. "127.0.0.1:8080"'
            )
        return Service(
            database=self.text(table, "service", "database", DEFAULT_DATABASE),
            timezone=zone,
            listen=listen,
            misfire_grace=self.duration(table, "service", "misfire_grace", "1h"),
            public_url=public_url,
        )

    def source(self, index: int, table: Any) -> Source:
        where = f"sources[{index}]"
        if not isinstance(table, dict):
            raise self.fail(where, "must be a table", "write [[sources]]")
        self.keys(table, where, {"name", "path", "url", "poll", "fetch_deadline"})
        if ("path" in table) == ("url" in table):
            raise self.fail(where, "needs exactly one of path or url")
        location = self.text(table, where, "path" if "path" in table else "url")
        if "path" in table and not Path(location).is_absolute():
            location = str((Path(self.path).parent / location).resolve())
        poll = self.duration(table, where, "poll", "6h")
        default = min(dt.timedelta(seconds=30), max(poll / 2, dt.timedelta(seconds=1)))
        deadline = default
        if "fetch_deadline" in table:
            deadline = self.duration(table, where, "fetch_deadline", "")
        if deadline > max(poll, MAX_FETCH_DEADLINE):
            raise self.fail(
                f"{where}.fetch_deadline",
                f"{table['fetch_deadline']!r} is longer than the poll interval",
                "make it well under poll, e.g. 30s",
            )
        return Source(self.text(table, where, "name"), location, poll, deadline)

    def subscription(self, index: int, table: Any, notifiers: Mapping[str, Any]) -> Subscription:
        where = f"subscriptions[{index}]"
        if not isinstance(table, dict):
            raise self.fail(where, "must be a table", "write [[subscriptions]]")
        allowed = {
            "name",
            "notifier",
            "target",
            "categories",
            "role",
            "leads",
            "changes",
            "openings",
        }
        self.keys(table, where, allowed)
        notifier = self.text(table, where, "notifier")
        if notifier not in notifiers and notifier not in {"console", "recorder"}:
            raise self.fail(
                f"{where}.notifier",
                f"{notifier!r} has no [notifiers.{notifier}] table",
                "add it, or use console",
            )
        target = table.get("target", "")
        targets = (target,) if isinstance(target, str) else target
        if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
            raise self.fail(f"{where}.target", "must be a string or a list of strings")
        categories, role = table.get("categories", []), table.get("role")
        if not isinstance(categories, list) or (role is not None and role not in ROLES):
            raise self.fail(
                f"{where}.categories/role",
                "categories must be a list; role one of " + ", ".join(ROLES),
            )
        try:
            wanted = expand(categories, role) if categories or role else expand([], "admin")
        except ValueError as error:
            raise self.fail(f"{where}.categories", str(error)) from None
        leads = table.get("leads", ["7d", "1d"])
        if not isinstance(leads, list) or not leads:
            raise self.fail(f"{where}.leads", "must be a non-empty list", 'e.g. ["7d", "1d", "1h"]')
        parsed = tuple(self.duration({"lead": lead}, where, "lead", "") for lead in leads)
        flags = {key: table.get(key, False) for key in ("changes", "openings")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise self.fail(f"{where}.{key}", "must be true or false")
        wanted, parsed = (
            self.shared.setdefault(wanted, wanted),
            self.shared.setdefault(parsed, parsed),
        )
        return Subscription(
            self.text(table, where, "name"), notifier, tuple(targets), wanted, parsed, **flags
        )


def parse_config(text: str, path: str = "<config>") -> Config:
    """Validate TOML *text* into a Config; raises ConfigError naming the key and the fix."""
    reader = _Reader(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise reader.fail("toml", str(error), "fix the TOML syntax") from None
    reader.keys(data, "(top level)", {"service", "sources", "subscriptions", "notifiers"})
    notifiers = data.get("notifiers", {})
    if not isinstance(notifiers, dict) or not all(isinstance(v, dict) for v in notifiers.values()):
        raise reader.fail("notifiers", "must hold tables such as [notifiers.slack]")
    sources = data.get("sources", [])
    subscriptions = data.get("subscriptions", [])
    if not isinstance(sources, list) or not isinstance(subscriptions, list):
        raise reader.fail("sources/subscriptions", "must be arrays of tables", "write [[sources]]")
    config = Config(
        path=path,
        service=reader.service(data.get("service", {})),
        sources=tuple(reader.source(i, t) for i, t in enumerate(sources)),
        subscriptions=tuple(
            reader.subscription(i, t, notifiers) for i, t in enumerate(subscriptions)
        ),
        notifiers=notifiers,
    )
    names = [s.name for s in config.sources]
    if len(set(names)) != len(names):
        raise reader.fail("sources", "two sources share a name", "give each a unique name")
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
