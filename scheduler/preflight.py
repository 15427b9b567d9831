"""Can this configuration run here? What ``check`` verifies and ``serve`` needs first.

:func:`~scheduler.config.load_config` checks the file on its own; the checks
below look at the machine: the environment variables the used notifiers name,
the database (reachable, or creatable for SQLite), the listen address (free)
and that there is something to read. Each failure is a
:class:`~scheduler.errors.ConfigError` naming the key. Nothing is created:
a missing SQLite file is only checked to be creatable.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path

from scheduler.config import Config
from scheduler.errors import ConfigError
from scheduler.settings import parse_listen

_DB_FIX = "start the server, or fix host, port, user and password in [service] database"


def check_sources(config: Config) -> None:
    """At least one ``[[sources]]`` table."""
    if not config.sources:
        raise ConfigError(
            config.path, "sources", "no [[sources]] table: nothing to read or serve",
            'add [[sources]] with name = "…" and path = "…" or url = "…"',
        )  # fmt: skip


def check_secrets(
    config: Config, environ: Mapping[str, str] | None = None, *, only: set[str] | None = None
) -> None:
    """Every environment variable the used notifiers name is set and non-empty."""
    from notifiers.errors import ConfigError as NotifierConfigError
    from notifiers.registry import check_table

    used = {s.notifier for s in config.subscriptions} if only is None else only
    for name in sorted(used):
        try:
            check_table(name, config.notifiers.get(name, {}), environ, secrets=True)
        except NotifierConfigError as error:
            raise ConfigError(
                config.path, f"notifiers.{name}.{error.key}", error.problem, error.fix
            ) from None


def check_self_service(config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Sign-up's signing key is set and long enough; the backends it sends through can be built."""
    from scheduler.subscribers import MIN_SECRET

    used = set()
    if config.service.signup:
        used.add("email")
        variable = config.service.signup_secret_env
        value = (os.environ if environ is None else environ).get(variable, "")
        if len(value) < MIN_SECRET:
            raise ConfigError(
                config.path,
                "service.signup_secret_env",
                f"environment variable {variable} is unset or shorter than {MIN_SECRET} characters",
                f"export {variable}=$(openssl rand -base64 48)",
            )
    if config.notifiers.get("slack", {}).get("signing_secret_env"):
        used.add("slack")
    check_secrets(config, environ, only=used)


SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""


def check_sqlite_file(config: Config, path: Path, *, writable: bool = True) -> None:
    """An existing SQLite *path* is a (writable) file that is empty or a SQLite database."""
    key = "service.database"
    mode, what = (os.R_OK | os.W_OK, "writable") if writable else (os.R_OK, "readable")
    if not path.is_file() or not os.access(path, mode):
        raise ConfigError(config.path, key, f"{str(path)!r} is not a {what} file", "fix the path")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise ConfigError(
            config.path, key, f"cannot read {str(path)!r}: {error.strerror}", "fix permissions"
        ) from None
    if head and head != SQLITE_HEADER:
        raise ConfigError(
            config.path, key, f"{str(path)!r} is not a SQLite database",
            "name a new file or an lfx-cal database; is this another file?",
        )  # fmt: skip


def _check_sqlite_folder(config: Config, path: Path) -> None:
    """A new SQLite file could be created beside *path* (probed, then removed)."""
    key, folder = "service.database", path.parent
    if not folder.is_dir():
        raise ConfigError(
            config.path, key, f"folder {str(folder)!r} does not exist",
            "create it, or fix the path (relative to the config file)",
        )  # fmt: skip
    reason = "permission denied"
    if os.access(folder, os.W_OK | os.X_OK):
        try:  # root passes os.access everywhere; /proc and read-only mounts still refuse
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".lfx-cal-probe-"):
                return
        except OSError as error:
            reason = error.strerror or str(error)
    raise ConfigError(
        config.path, key, f"cannot create a file in {str(folder)!r}: {reason}",
        "fix permissions, or choose a writable folder",
    )  # fmt: skip


def check_database(config: Config) -> None:
    """The database is reachable (PostgreSQL) or exists or can be created (SQLite)."""
    from scheduler.schema import sqlite_path

    url, key = config.service.database, "service.database"
    path = sqlite_path(url)
    if path is not None:
        if path.exists():
            check_sqlite_file(config, path)
        else:
            _check_sqlite_folder(config, path)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from scheduler.schema import parse_database_url, shown_database

    parsed = parse_database_url(url)
    shown = shown_database(url)
    engine = create_engine(parsed, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise ConfigError(
            config.path, key, f"cannot connect to {shown}: {reason[0] if reason else error}",
            _DB_FIX,
        ) from None  # fmt: skip
    finally:
        engine.dispose()


def check_listen(config: Config) -> None:
    """``[service] listen`` resolves and its port is free."""
    key, listen = "service.listen", config.service.listen
    host, port = parse_listen(listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigError(
            config.path, key, f"{listen!r}: cannot resolve {host!r}: {error.strerror}",
            'use an address such as "127.0.0.1:8080" or "0.0.0.0:8080"',
        ) from None  # fmt: skip
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            try:
                probe.bind(address)
            except OSError as error:
                raise ConfigError(
                    config.path, key, f"cannot listen on {listen!r}: {error.strerror}",
                    "choose another with --listen or [service] listen",
                ) from None  # fmt: skip


def preflight(
    config: Config,
    environ: Mapping[str, str] | None = None,
    *,
    database: bool = True,
    listen: bool = True,
) -> None:
    """Everything ``serve`` needs: sources, secrets, the database and the listen address."""
    check_sources(config)
    check_secrets(config, environ)
    check_self_service(config, environ)
    if database:
        check_database(config)
    if listen:
        check_listen(config)
