"""Settings of each backend: the ``[notifiers.NAME]`` tables, declared once, read once.

Each table is a :class:`~notifiers.config.Table` of declared keys (name, type,
default, help, example); :data:`TABLES` maps a backend name to its table, and
:func:`check_table` / :func:`check_targets` validate a table and a subscription's
targets when the configuration file is loaded, before anything is sent.

Secrets are never in the tables: ``token_env``, ``webhook_env`` and
``password_env`` name environment variables, which are read when the settings
are built with ``secrets=True``. The resolved secrets are fields with
``repr=False``, so printing or logging a settings object never shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from notifiers.config import (
    ENV,
    HTTP_URL,
    OPTIONAL_TEXT,
    REQUIRED,
    STRINGS,
    TEXT,
    Problem,
    Setting,
    Table,
    choice,
    integer,
    list_of,
    number,
)
from notifiers.errors import ConfigError
from notifiers.mailbuild import parse_address
from notifiers.message import Kind
from notifiers.slack_blocks import valid_mention

_KINDS = tuple(k.value for k in Kind)
_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

SLACK = Table(
    "notifiers.slack",
    (
        Setting("token_env", ENV, "", "variable holding a bot token with chat:write",
                '"LFX_CAL_SLACK_TOKEN"'),
        Setting("webhook_env", ENV, "", "variable holding an incoming-webhook URL",
                '"LFX_CAL_SLACK_WEBHOOK"'),
        Setting("base_url", HTTP_URL, "https://slack.com/api/", "Web API address"),
        Setting("timeout", number(minimum=1), 10.0, "seconds for each request", "10"),
        Setting("mentions", STRINGS, [], "who to mention: here, channel, U… users, S… groups",
                '["here"]'),
        Setting("mention_on", list_of(choice(*_KINDS), single=True), list(_KINDS),
                "message kinds that carry the mentions", '["reminder"]'),
        Setting("min_interval", number(), 1.0, "seconds between two messages to one channel",
                "1"),
        Setting("max_retries", integer(maximum=10), 2, "retries of a rate-limited request"),
        Setting("retry_backoff", number(), 0.5, "seconds before the first retry"),
        Setting("max_retry_after", number(), 60.0, "longest Retry-After honoured, seconds"),
        Setting("signing_secret_env", ENV, "",
                "variable holding the app's signing secret: enables `/deadlines` "
                "(POST /slack/commands, /slack/interactions; needs token_env for DMs)",
                '"LFX_CAL_SLACK_SIGNING_SECRET"'),
    ),
    "Slack: a bot token (channels) and/or an incoming webhook (target \"webhook\")",
)  # fmt: skip
"""``[notifiers.slack]``."""

EMAIL = Table(
    "notifiers.email",
    (
        Setting("host", TEXT, REQUIRED, "SMTP server", '"smtp.example.org"'),
        Setting("port", integer(minimum=1), None,
                "SMTP port (default by security: 587, 465, 25)", "587"),
        Setting("security", choice(*_PORTS), "starttls", "how the connection is encrypted"),
        Setting("from", TEXT, REQUIRED, "sender address", '"lfx-cal@example.org"'),
        Setting("username", OPTIONAL_TEXT, "", "AUTH user (needs password_env)", '"lfx-cal"'),
        Setting("password_env", ENV, "", "variable holding the AUTH password",
                '"LFX_CAL_SMTP_PASSWORD"'),
        Setting("ca_file", OPTIONAL_TEXT, "", "trust only this CA (a self-signed server)",
                '"/etc/ssl/private-ca.pem"'),
        Setting("timeout", number(minimum=0.1), 10.0,
                "seconds, for every connection and reply", "10"),
        Setting("reconnects", integer(maximum=10), 2,
                "retries of one recipient when the server drops us"),
        Setting("max_per_connection", integer(maximum=1_000_000), 0,
                "messages per connection (0: no limit)"),
        Setting("connections", integer(minimum=1, maximum=32), 4,
                "SMTP connections used side by side for a fan-out", "4"),
        Setting("in_flight", integer(minimum=1, maximum=32), 2,
                "messages at once past the end of DATA without their outcome on record:"
                " what a kill -9 may repeat", "2"),
        Setting("message_id_domain", OPTIONAL_TEXT, "",
                "domain of Message-IDs (default: the sender's)", '"lfx-cal.example.org"'),
    ),
    "E-mail over SMTP, certificates always verified; target is a list of addresses",
)  # fmt: skip
"""``[notifiers.email]``."""

CONSOLE = Table("notifiers.console", (), "prints to stdout; no settings")
"""``[notifiers.console]`` (no keys)."""
RECORDER = Table("notifiers.recorder", (), "keeps messages in memory (tests); no settings")
"""``[notifiers.recorder]`` (no keys)."""

TABLES: dict[str, Table] = {"slack": SLACK, "email": EMAIL, "console": CONSOLE,
                            "recorder": RECORDER}  # fmt: skip
"""Backend name → its declared settings table."""


def _reader(backend: str) -> Any:
    def fail(key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(key, problem, fix, backend=backend)

    return fail


def read_table(backend: str, table: Mapping[str, object]) -> dict[str, Any]:
    """Check the ``[notifiers.BACKEND]`` table against its declaration; its parsed values."""
    return TABLES[backend].read(table, "", _reader(backend))


def _secret(
    backend: str, key: str, variable: str, environ: Mapping[str, str] | None, required: bool
) -> str:
    """The value of the environment variable *variable* (never put in a message)."""
    if not variable:
        if required:
            raise ConfigError(
                key, "missing", f"set {key} to the name of an environment variable", backend=backend
            )
        return ""
    value = (os.environ if environ is None else environ).get(variable, "")
    if not value.strip() and required:
        raise ConfigError(
            key,
            f"environment variable {variable} is not set or empty",
            f"export {variable}=…",
            backend=backend,
        )
    return value


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Settings of the ``[notifiers.slack]`` table; secrets are resolved but never shown."""

    token_env: str = ""
    webhook_env: str = ""
    base_url: str = "https://slack.com/api/"
    timeout: float = 10.0
    mentions: tuple[str, ...] = ()
    mention_on: tuple[str, ...] = _KINDS
    min_interval: float = 1.0
    max_retries: int = 2
    retry_backoff: float = 0.5
    max_retry_after: float = 60.0
    signing_secret_env: str = ""
    token: str = field(default="", repr=False)
    webhook_url: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)

    @classmethod
    def from_dict(
        cls,
        table: Mapping[str, object],
        environ: Mapping[str, str] | None = None,
        *,
        secrets: bool = True,
    ) -> SlackSettings:
        """Read and check the table; read the secrets from *environ* (default os.environ).

        With ``secrets=False`` the variables are only named, not read (loading a file).
        """
        v = read_table("slack", table)
        if not v["token_env"] and not v["webhook_env"]:
            raise ConfigError(
                "token_env",
                "neither token_env nor webhook_env is set",
                "name the environment variable holding a bot token or a webhook URL",
                backend="slack",
            )
        for item in v["mentions"]:
            if not valid_mention(item):
                raise ConfigError(
                    "mentions",
                    f"{item!r} is not a mention",
                    "use 'here', 'channel', a user ID (U…) or a group ID (S…)",
                    backend="slack",
                )
        token = webhook = signing = ""
        if secrets:
            token = _secret("slack", "token_env", v["token_env"], environ, bool(v["token_env"]))
            webhook = _secret(
                "slack", "webhook_env", v["webhook_env"], environ, bool(v["webhook_env"])
            )
            if v["signing_secret_env"] and not v["token_env"]:
                raise ConfigError(
                    "signing_secret_env",
                    "the /deadlines command needs token_env to send DMs",
                    "set token_env to the variable holding a bot token",
                    backend="slack",
                )
            signing = _secret(
                "slack", "signing_secret_env", v["signing_secret_env"], environ,
                bool(v["signing_secret_env"]),
            )  # fmt: skip
            if webhook and not webhook.startswith(("https://", "http://")):
                raise ConfigError(
                    "webhook_env",
                    f"{v['webhook_env']} does not hold an http(s) URL",
                    backend="slack",
                )
        base_url = v["base_url"]
        return cls(
            token_env=v["token_env"],
            webhook_env=v["webhook_env"],
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=v["timeout"],
            mentions=v["mentions"],
            mention_on=v["mention_on"],
            min_interval=v["min_interval"],
            max_retries=v["max_retries"],
            retry_backoff=v["retry_backoff"],
            max_retry_after=v["max_retry_after"],
            signing_secret_env=v["signing_secret_env"],
            token=token,
            webhook_url=webhook,
            signing_secret=signing,
        )


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """Settings of the ``[notifiers.email]`` table; the password is never shown."""

    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = ""
    ca_file: str = ""
    timeout: float = 10.0
    reconnects: int = 2
    max_per_connection: int = 0
    connections: int = 4
    in_flight: int = 2
    message_id_domain: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_dict(
        cls,
        table: Mapping[str, object],
        environ: Mapping[str, str] | None = None,
        *,
        secrets: bool = True,
    ) -> EmailSettings:
        """Read and check the table (``from`` is the sender); read the password from *environ*.

        With ``secrets=False`` the password variable is only named, not read.
        """
        v = read_table("email", table)

        def fail(key: str, problem: str, fix: str = "") -> ConfigError:
            return ConfigError(key, problem, fix, backend="email")

        try:
            address = parse_address(v["from"])
        except ValueError as error:
            raise fail("from", str(error), "e.g. 'LFX Reminders <lfx@example.org>'") from None
        username, password_env = v["username"], v["password_env"]
        if password_env and not username:
            raise fail("username", "password_env is set but username is not", "set username")
        if username and not password_env:
            raise fail("password_env", "missing", "set password_env to the name of a variable")
        if username and v["security"] == "none":
            raise fail(
                "security",
                "AUTH over an unencrypted connection would leak the password",
                'use security = "starttls" or "ssl"',
            )
        ca_file = v["ca_file"]
        if ca_file and not os.path.isfile(ca_file):
            raise fail(
                "ca_file", f"{ca_file!r} is not a file", "give a PEM file of CA certificates"
            )
        password = ""
        if secrets:
            password = _secret("email", "password_env", password_env, environ, bool(username))
        return cls(
            host=v["host"],
            sender=str(address),
            port=v["port"] if v["port"] is not None else _PORTS[v["security"]],
            security=v["security"],
            username=username,
            password_env=password_env,
            ca_file=ca_file,
            timeout=v["timeout"],
            reconnects=v["reconnects"],
            max_per_connection=v["max_per_connection"],
            connections=v["connections"],
            in_flight=v["in_flight"],
            message_id_domain=v["message_id_domain"] or address.domain,
            password=password,
        )


SETTINGS: dict[str, type[SlackSettings] | type[EmailSettings]] = {
    "slack": SlackSettings,
    "email": EmailSettings,
}
"""Backend name → the settings class that reads its table and its secrets."""


_CHANNEL = re.compile(r"#?[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{6,}")


def _target_problem(backend: str, target: str, table: Mapping[str, object]) -> Problem | None:
    if backend == "email":
        try:
            parse_address(target)
        except ValueError as error:
            return Problem(str(error), "write addresses like user@example.org")
    elif backend == "slack":
        if target == "webhook":
            if not table.get("webhook_env"):
                return Problem(
                    "target 'webhook' needs [notifiers.slack] webhook_env",
                    "set webhook_env to the variable holding the webhook URL",
                )
        elif not _CHANNEL.fullmatch(target):
            return Problem(
                f"{target!r} is not a Slack channel",
                'use "#channel-name", a channel ID such as "C0123456789", or "webhook"',
            )
        elif not table.get("token_env"):
            return Problem(
                f"channel {target!r} needs [notifiers.slack] token_env",
                'set token_env, or use target = "webhook"',
            )
    return None


def check_targets(backend: str, value: object, table: Mapping[str, object]) -> tuple[str, ...]:
    """A subscription's ``target`` for *backend*, checked; raises Problem naming the item.

    E-mail needs a list of addresses (parsed with :mod:`email.headerregistry`);
    Slack takes a channel (``#name`` or an ID) or ``webhook``, one or a list;
    other backends take any string or list of strings (None: ``stdout``).
    """
    if value is None:
        examples = {"email": '["mentors@example.org"]', "slack": '"#channel"'}
        if backend in examples:
            raise Problem("missing", f"add target = {examples[backend]}")
        return ("stdout",)
    if backend == "email":
        if not isinstance(value, list | tuple):
            raise Problem(
                f"must be a list of addresses, not {value!r}",
                f"write [{value!r}]".replace("'", '"'),
            )
        targets = list_of(TEXT, empty=False).parse(value)
    else:
        targets = STRINGS.parse(value)
    for index, target in enumerate(targets):
        problem = _target_problem(backend, target, table)
        if problem is not None:
            raise Problem(problem.problem, problem.fix, f"[{index}]")
    return tuple(targets)
