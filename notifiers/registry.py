"""Backend registry: a name in the configuration → the class that implements it.

The Slack backend is imported when it is first asked for, not with this module:
slack_sdk and its web client are 3 MB of memory that an e-mail-only daemon
(thousands of subscribers, a 100 MB budget) never uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from notifiers.base import Notifier
from notifiers.console import ConsoleNotifier
from notifiers.errors import ConfigError, UnknownBackendError
from notifiers.recorder import RecorderNotifier
from notifiers.settings import SETTINGS, TABLES, read_table
from notifiers.smtp import EmailNotifier

_LAZY = {"slack": ("notifiers.slack", "SlackNotifier")}
"""Backends imported on first use: name → (module, class)."""
_BACKENDS: dict[str, type[Notifier]] = {
    "email": EmailNotifier,
    "console": ConsoleNotifier,
    "recorder": RecorderNotifier,
}


def names() -> tuple[str, ...]:
    """Return the registered backend names, sorted."""
    return tuple(sorted({*_BACKENDS, *_LAZY}))


def backend_class(name: str) -> type[Notifier]:
    """Return the class registered as *name*; UnknownBackendError lists the valid names."""
    if name not in _BACKENDS and name in _LAZY:
        module, attribute = _LAZY[name]
        cls: type[Notifier] = getattr(importlib.import_module(module), attribute)
        _BACKENDS.setdefault(name, cls)
    try:
        return _BACKENDS[name]
    except KeyError:
        raise UnknownBackendError(name, names()) from None


def register(name: str, cls: type[Notifier]) -> None:
    """Register *cls* under *name* (a plugin backend); a taken name is a ConfigError."""
    if name in _LAZY:
        backend_class(name)  # a built-in backend keeps its name, loaded or not
    if name in _BACKENDS and _BACKENDS[name] is not cls:
        raise ConfigError("backend", f"{name!r} is already registered", "pick another name")
    _BACKENDS[name] = cls


def create(
    name: str, table: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> Notifier:
    """Build the backend *name* from its settings table; secrets come from *environ*."""
    return backend_class(name).from_config(table or {}, environ)


def check_table(
    name: str,
    table: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
    *,
    secrets: bool,
) -> None:
    """Validate the ``[notifiers.NAME]`` table; with *secrets*, its variables must be set.

    Nothing is connected or sent. Raises :class:`~notifiers.errors.ConfigError`
    (:class:`~notifiers.errors.UnknownBackendError` for an unregistered name).
    """
    cls = backend_class(name)
    if name in SETTINGS:
        SETTINGS[name].from_dict(table, environ, secrets=secrets)
    elif name in TABLES:
        read_table(name, table)
    elif secrets:
        cls.from_config(table, environ)  # a plugin backend validates its own table
