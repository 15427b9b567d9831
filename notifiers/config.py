"""Reading a backend's settings table (``[notifiers.NAME]`` in TOML) safely.

Values are checked one by one and every problem raises
:class:`~notifiers.errors.ConfigError` naming the key and the fix. Secrets are
never in the table: the table names an environment variable (``token_env``,
``password_env``…) and :func:`secret` reads it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from notifiers.errors import ConfigError


class Table:
    """A settings table for one backend, with typed getters that explain bad values."""

    def __init__(
        self,
        backend: str,
        table: Mapping[str, object],
        allowed: Collection[str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.backend = backend
        self.table = table
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            raise ConfigError(
                unknown[0],
                "unknown setting",
                f"valid keys: {', '.join(sorted(allowed))}",
                backend=backend,
            )

    def error(self, key: str, problem: str, fix: str = "") -> ConfigError:
        """Return a ConfigError about *key* of this table."""
        return ConfigError(key, problem, fix, backend=self.backend)

    def text(self, key: str, default: str | None = None) -> str:
        """Return a string setting; required when *default* is None."""
        value = self.table.get(key, default)
        if value is None:
            raise self.error(key, "missing", f'set {key} = "…"')
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {type(value).__name__}")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        """Return a non-negative number (int or float) setting."""
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, not {value!r}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value!r}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int = 0, maximum: int = 65535) -> int:
        """Return an integer setting within [minimum, maximum]."""
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, not {value!r}")
        if not minimum <= value <= maximum:
            raise self.error(key, f"must be between {minimum} and {maximum}, not {value}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        """One of *choices*."""
        value = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"{value!r} is not valid", f"use one of: {', '.join(choices)}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """Return a list of strings (a single string counts as a list of one)."""
        value = self.table.get(key, ())
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return tuple(value)

    def secret(self, key: str, *, required: bool) -> tuple[str, str]:
        """Read the secret whose environment variable is named by *key*: (variable, value).

        The value is never put in an error message; only the variable's name is.
        """
        variable = self.table.get(key)
        if variable is None or variable == "":
            if required:
                raise self.error(
                    key, "missing", f"set {key} to the name of an environment variable"
                )
            return "", ""
        if not isinstance(variable, str) or not variable.replace("_", "").isalnum():
            raise self.error(
                key,
                "must name an environment variable (letters, digits, '_')",
                "put the secret in the environment, never in the file",
            )
        value = self.environ.get(variable, "")
        if not value and required:
            raise self.error(
                key, f"environment variable {variable} is not set or empty", f"export {variable}=…"
            )
        return variable, value
