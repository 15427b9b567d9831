"""Settings of each backend, read from plain dicts (the TOML ``[notifiers.NAME]`` tables).

Secrets are never in the tables: ``token_env``, ``webhook_env`` and
``password_env`` name environment variables, which are read when the settings
are built. The resolved secrets are fields with ``repr=False``, so printing or
logging a settings object never shows them.

``[notifiers.slack]``: ``token_env`` and/or ``webhook_env``, ``base_url``,
``timeout``, ``mentions`` (``here``, ``channel``, user IDs ``U…``, group IDs
``S…``), ``mention_on`` (message kinds), ``min_interval`` (seconds between two
messages to one channel), ``max_retries``, ``retry_backoff``, ``max_retry_after``.

``[notifiers.email]``: ``host``, ``port``, ``security`` (starttls | ssl | none),
``from``, ``username``, ``password_env``, ``ca_file``, ``timeout``,
``reconnects``, ``max_per_connection`` (0: unlimited), ``message_id_domain``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from notifiers.config import Table
from notifiers.mailbuild import parse_address
from notifiers.message import Kind
from notifiers.slack_blocks import valid_mention

_SLACK_KEYS = (
    "token_env",
    "webhook_env",
    "base_url",
    "timeout",
    "mentions",
    "mention_on",
    "min_interval",
    "max_retries",
    "retry_backoff",
    "max_retry_after",
)
_EMAIL_KEYS = (
    "host",
    "port",
    "security",
    "from",
    "username",
    "password_env",
    "ca_file",
    "timeout",
    "reconnects",
    "max_per_connection",
    "message_id_domain",
)
_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Settings of the ``[notifiers.slack]`` table; secrets are resolved but never shown."""

    token_env: str = ""
    webhook_env: str = ""
    base_url: str = "https://slack.com/api/"
    timeout: float = 10.0
    mentions: tuple[str, ...] = ()
    mention_on: tuple[str, ...] = tuple(k.value for k in Kind)
    min_interval: float = 1.0
    max_retries: int = 2
    retry_backoff: float = 0.5
    max_retry_after: float = 60.0
    token: str = field(default="", repr=False)
    webhook_url: str = field(default="", repr=False)

    @classmethod
    def from_dict(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> SlackSettings:
        """Read and check the table; read the secrets from *environ* (default os.environ)."""
        t = Table("slack", table, _SLACK_KEYS, environ)
        d = cls()
        token_env, token = t.secret("token_env", required=False)
        webhook_env, webhook = t.secret("webhook_env", required=False)
        if not token_env and not webhook_env:
            raise t.error(
                "token_env",
                "neither token_env nor webhook_env is set",
                "name the environment variable holding a bot token or a webhook URL",
            )
        for key, variable, value in (
            ("token_env", token_env, token),
            ("webhook_env", webhook_env, webhook),
        ):
            if variable and not value:
                raise t.error(
                    key,
                    f"environment variable {variable} is not set or empty",
                    f"export {variable}=…",
                )
        if webhook and not webhook.startswith(("https://", "http://")):
            raise t.error("webhook_env", f"{webhook_env} does not hold an http(s) URL")
        base_url = t.text("base_url", d.base_url)
        if not base_url.startswith(("https://", "http://")):
            raise t.error(
                "base_url", f"{base_url!r} is not an http(s) URL", "e.g. 'https://slack.com/api/'"
            )
        mentions = t.strings("mentions")
        for item in mentions:
            if not valid_mention(item):
                raise t.error(
                    "mentions",
                    f"{item!r} is not a mention",
                    "use 'here', 'channel', a user ID (U…) or a group ID (S…)",
                )
        mention_on = t.strings("mention_on") if "mention_on" in table else d.mention_on
        for item in mention_on:
            if item not in {k.value for k in Kind}:
                raise t.error(
                    "mention_on",
                    f"{item!r} is not a message kind",
                    f"use any of: {', '.join(k.value for k in Kind)}",
                )
        return cls(
            token_env=token_env,
            webhook_env=webhook_env,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=t.number("timeout", d.timeout, minimum=1),
            mentions=mentions,
            mention_on=mention_on,
            min_interval=t.number("min_interval", d.min_interval),
            max_retries=t.integer("max_retries", d.max_retries, maximum=10),
            retry_backoff=t.number("retry_backoff", d.retry_backoff),
            max_retry_after=t.number("max_retry_after", d.max_retry_after),
            token=token,
            webhook_url=webhook,
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
    message_id_domain: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_dict(
        cls, table: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> EmailSettings:
        """Read and check the table (``from`` is the sender); read the password from *environ*."""
        t = Table("email", table, _EMAIL_KEYS, environ)
        security = t.choice("security", "starttls", tuple(_PORTS))
        sender = t.text("from")
        try:
            address = parse_address(sender)
        except ValueError as error:
            raise t.error("from", str(error), "e.g. 'LFX Reminders <lfx@example.org>'") from None
        username = t.text("username", "")
        password_env, password = t.secret("password_env", required=bool(username))
        if password_env and not username:
            raise t.error("username", "password_env is set but username is not", "set username")
        if username and security == "none":
            raise t.error(
                "security",
                "AUTH over an unencrypted connection would leak the password",
                'use security = "starttls" or "ssl"',
            )
        ca_file = t.text("ca_file", "")
        if ca_file and not os.path.isfile(ca_file):
            raise t.error(
                "ca_file", f"{ca_file!r} is not a file", "give a PEM file of CA certificates"
            )
        return cls(
            host=t.text("host"),
            sender=str(address),
            port=t.integer("port", _PORTS[security], minimum=1),
            security=security,
            username=username,
            password_env=password_env,
            ca_file=ca_file,
            timeout=t.number("timeout", 10.0, minimum=0.1),
            reconnects=t.integer("reconnects", 2, maximum=10),
            max_per_connection=t.integer("max_per_connection", 0, maximum=1_000_000),
            message_id_domain=t.text("message_id_domain", "") or address.domain,
            password=password,
        )
