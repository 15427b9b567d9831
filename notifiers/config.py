"""The settings registry's building blocks: declared keys and the one reader.

Every table of the configuration file is a :class:`Table` of :class:`Setting`
declarations — name, type, default, help and an example — modelled on
Datasette's settings registry. :meth:`Table.read` is the only code that turns a
TOML table into values: an unknown key, a missing required key or a bad value
raises the caller's error, naming the key, echoing the value and saying the fix.

The core tables (``[service]``, ``[[sources]]``, ``[[subscriptions]]``) are
declared in :mod:`scheduler.settings`, each backend's ``[notifiers.NAME]`` table
next to its settings class in :mod:`notifiers.settings`. Adding a key is one
``Setting(...)`` line in its table; the README's key table and
``config/example.toml`` are checked against the declarations by a test.

Secrets are never in a table: a setting of type :data:`ENV` names an environment
variable, which the backend reads when it is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from notifiers.errors import Problem

__all__ = [
    "BOOL",
    "DURATION",
    "ENV",
    "HTTP_URL",
    "OPTIONAL_TEXT",
    "REQUIRED",
    "STRINGS",
    "TEXT",
    "ZONE",
    "Problem",
    "Setting",
    "Table",
    "Type",
    "choice",
    "integer",
    "list_of",
    "number",
]


@dataclass(frozen=True)
class Type:
    """A setting's type: its name in the documentation and a parser that raises Problem."""

    name: str
    parse: Callable[[Any], Any]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a setting that must be given."""


@dataclass(frozen=True)
class Setting:
    """One key of a table: declared once, read by :meth:`Table.read`, documented from here.

    *default* is the TOML value used when the key is absent (parsed like a
    given value), :data:`REQUIRED`, or None for "not set". *example* is the
    TOML text ``config/example.toml`` may show for it (default: the default).
    """

    name: str
    type: Type
    default: Any
    help: str
    example: str = ""

    @property
    def required(self) -> bool:
        """True when the key has no default and must be written."""
        return self.default is REQUIRED


Fail = Callable[[str, str, str], Exception]
"""Builds the caller's error from (key, problem, fix)."""


@dataclass(frozen=True)
class Table:
    """A table of the configuration file: its TOML name, its settings and what it is for."""

    name: str
    settings: tuple[Setting, ...]
    help: str = ""
    array: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """The declared key names, in declaration order."""
        return tuple(s.name for s in self.settings)

    def __getitem__(self, name: str) -> Setting:
        for setting in self.settings:
            if setting.name == name:
                return setting
        raise KeyError(name)

    def read(self, table: Mapping[str, Any], where: str, fail: Fail) -> dict[str, Any]:
        """Check *table* against the declarations; return every key's parsed value.

        Keys in errors are ``where.key`` (just ``key`` when *where* is empty). An
        absent optional key without a default reads as None.
        """
        prefix = f"{where}." if where else ""
        for key in table:
            if key not in self.keys:
                close = difflib.get_close_matches(key, self.keys, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                valid = ", ".join(sorted(self.keys)) or "none: leave the table empty"
                raise fail(
                    f"{prefix}{key}",
                    f"{key!r} is not one of the valid keys",
                    f"{hint}valid: {valid}",
                )
        values: dict[str, Any] = {}
        for setting in self.settings:
            given = setting.name in table
            if not given and setting.required:
                raise fail(
                    f"{prefix}{setting.name}",
                    "missing",
                    f"add {setting.name} = {setting.example or '…'}",
                )
            raw = table[setting.name] if given else setting.default
            if raw is None:
                values[setting.name] = None
                continue
            try:
                values[setting.name] = setting.type.parse(raw)
            except Problem as problem:
                key = f"{prefix}{setting.name}{problem.at}"
                raise fail(key, problem.problem, problem.fix) from None
        return values


# --- types -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Problem(f"must be a non-empty string, not {value!r}")
    return value


def _optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Problem(f"must be a string, not {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Problem(f"must be true or false, not {value!r}")
    return value


def integer(minimum: int = 0, maximum: int = 65535) -> Type:
    """A whole number in [minimum, maximum]."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Problem(f"must be a whole number, not {value!r}")
        if not minimum <= value <= maximum:
            raise Problem(f"must be between {minimum} and {maximum}, not {value!r}")
        return value

    return Type("integer", parse)


def number(minimum: float = 0.0) -> Type:
    """A number (int or float) of at least *minimum*, read as a float."""

    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Problem(f"must be a number, not {value!r}")
        if value < minimum:
            raise Problem(f"must be at least {minimum}, not {value!r}")
        return float(value)

    return Type("number", parse)


def choice(*choices: str) -> Type:
    """One of *choices* (the error lists them)."""

    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise Problem(f"{value!r} is not valid", f"use one of: {', '.join(choices)}")
        return value

    return Type(" | ".join(choices), parse)


def list_of(item: Type, *, empty: bool = True, single: bool = False, name: str = "") -> Type:
    """A list whose items are *item* (errors name the index: ``leads[0]``).

    *single*: a lone value counts as a list of one; *empty*: an empty list is allowed;
    *name*: the type's name in the documentation (default ``list of <item>``).
    """

    def parse(value: Any) -> tuple[Any, ...]:
        if single and not isinstance(value, list | tuple):
            value = [value]
        if not isinstance(value, list | tuple):
            raise Problem(f"must be a list, not {value!r}", f"write [{value!r}]".replace("'", '"'))
        if not value and not empty:
            raise Problem("must not be empty")
        parsed = []
        for index, element in enumerate(value):
            try:
                parsed.append(item.parse(element))
            except Problem as problem:
                raise Problem(problem.problem, problem.fix, f"[{index}]") from None
        return tuple(parsed)

    return Type(name or f"list of {item.name}", parse)


def _duration(value: Any) -> Any:
    from feeds.durations import parse_duration
    from feeds.errors import DurationError

    try:
        return parse_duration(value)
    except DurationError as error:
        raise Problem(str(error)) from None


def _zone(value: Any) -> str:
    from feeds.zones import valid_zone

    if not isinstance(value, str) or not valid_zone(value):
        raise Problem(
            f"unknown time zone {value!r}", "use an IANA name such as America/Los_Angeles"
        )
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env(value: Any) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise Problem(
            f"{value!r} must name an environment variable (letters, digits, '_')",
            "put the secret in the environment, never in the file",
        )
    return value


def _http_url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise Problem(f"{value!r} is not an http(s) URL", "e.g. 'https://example.org/path'")
    return value


TEXT = Type("string", _text)
"""A non-empty string."""
OPTIONAL_TEXT = Type("string", _optional_text)
"""A string, possibly empty."""
BOOL = Type("true | false", _bool)
"""true or false."""
DURATION = Type("duration", _duration)
"""``30s``, ``15m``, ``6h``, ``7d``, ``1d12h``: read as a timedelta."""
ZONE = Type("IANA time zone", _zone)
"""An IANA time-zone name this machine (or tzdata) knows."""
ENV = Type("environment variable name", _env)
"""The name of an environment variable holding a secret (empty: not set)."""
HTTP_URL = Type("http(s) URL", _http_url)
"""An http:// or https:// URL."""
STRINGS = list_of(TEXT, single=True)
"""A string or a list of strings."""
