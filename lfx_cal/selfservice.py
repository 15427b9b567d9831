"""Wiring the self-service parts into ``serve``: e-mail sign-up and the Slack command.

:func:`build` attaches the routes each enabled part needs and returns a
:class:`SelfService` whose :meth:`~SelfService.reload` hands the confirmed
subscribers (both channels) to the daemon as ordinary subscriptions. The server
calls :meth:`~SelfService.start` before the daemon starts and
:meth:`~SelfService.stop` after it stops. With neither part enabled nothing is
attached and no table is read.

The process that serves a sign-up, a change or an unsubscribe reloads at
once; every process also reloads every :data:`RELOAD` seconds, so replicas
sharing one PostgreSQL database pick up each other's subscribers (a removed
subscriber's ledger rows are already gone, so a stale replica has nothing of
theirs to send).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from lfx_cal.web.signup import SignupSite
from lfx_cal.web.signup_form import SignupForm
from lfx_cal.web.slack_commands import SlackCommands
from notifiers import EmailNotifier, Notifier
from notifiers.settings import SlackSettings
from scheduler.config import Config, Subscription
from scheduler.daemon import Daemon
from scheduler.subscribers import Links, State, Subscribers, subscriptions

log = logging.getLogger("lfx_cal.selfservice")
RELOAD = 60.0
"""Seconds between two reloads of the subscribers (other replicas' changes)."""
PARTS: web.AppKey[SelfService] = web.AppKey("selfservice")
"""Where :func:`build` leaves the application's :class:`SelfService`."""
"""Seconds between two reloads of the subscribers (other replicas' changes)."""


def backends(config: Config) -> set[str]:
    """The notifiers the self-service parts deliver through (beyond the configured ones)."""
    found = set()
    if config.service.signup:
        found.add("email")
    if signing_secret_env(config):
        found.add("slack")
    return found


def signing_secret_env(config: Config) -> str:
    """``[notifiers.slack] signing_secret_env`` ("" when the command is off)."""
    table = config.notifiers.get("slack", {})
    value = table.get("signing_secret_env", "")
    return value if isinstance(value, str) else ""


@dataclass
class SelfService:
    """The enabled self-service parts of one application."""

    daemon: Daemon
    rows: Subscribers | None = None
    signup: SignupSite | None = None
    slack: SlackCommands | None = None
    links: Links | None = None
    form: SignupForm | None = None
    _closed: bool = field(default=False, repr=False)
    _reloading: asyncio.Task[None] | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _asked: int = field(default=0, repr=False)
    _loaded: int = field(default=0, repr=False)

    async def reload(self) -> None:
        """Hand every confirmed subscriber to the daemon (it re-plans).

        Reloads coalesce: a caller whose change an already finished reload
        (one started after the call) has seen returns at once, so a burst of
        confirmations costs a few reloads, not one each.
        """
        if self.rows is None:
            return
        self._asked += 1
        ticket = self._asked
        async with self._lock:
            if self._loaded >= ticket:
                return
            start = self._asked
            await self._load(self.rows)
            self._loaded = start

    async def _load(self, rows: Subscribers) -> None:
        links = self.links

        def load() -> tuple[Subscription, ...]:
            return subscriptions(rows.listing(State.CONFIRMED), links)

        found = await asyncio.to_thread(load)  # reading and signing stay off the loop
        self.daemon.set_subscribers(found)

    async def start(self) -> None:
        """Load the subscribers before the daemon plans for the first time, then every minute."""
        await self.reload()
        if self.rows is not None:
            self._reloading = asyncio.create_task(self._every(RELOAD))

    async def _every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.reload()
            except Exception as error:  # the database may be away for a while; keep the last list
                log.warning("could not reload self-service subscribers: %s", type(error).__name__)

    async def stop(self) -> None:
        """Let queued confirmation mails and Slack answers finish (briefly), then close."""
        if self._reloading is not None:
            self._reloading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloading
        if self.signup is not None:
            await self.signup.drain(3.0)
        if self.slack is not None:
            await self.slack.drain(3.0)
        if self.rows is not None and not self._closed:
            self._closed = True
            self.rows.close()


def build(
    app: web.Application,
    config: Config,
    daemon: Daemon,
    notifiers: Mapping[str, Notifier],
    *,
    clock: Callable[[], dt.datetime],
    environ: Mapping[str, str] | None = None,
) -> SelfService:
    """Attach the enabled parts' routes to *app*; secrets come from *environ* (os.environ)."""
    env = os.environ if environ is None else environ
    service = config.service
    parts = SelfService(daemon)
    app[PARTS] = parts
    slack_env = signing_secret_env(config)
    if not service.signup and not slack_env:
        return parts
    parts.rows = Subscribers(service.database)

    if service.signup:
        if not (service.public_url or "").startswith("https://"):
            log.warning(
                "[service] public_url is not https: mailbox providers ignore one-click"
                " unsubscribe links that are not (RFC 8058)"
            )
        mailer = notifiers["email"]
        assert isinstance(mailer, EmailNotifier)
        site = SignupSite(
            service,
            parts.rows,
            mailer,
            env.get(service.signup_secret_env, ""),
            reload=parts.reload,
            snapshot=lambda: daemon.snapshot,
            clock=clock,
        )
        site.add_routes(app)
        parts.signup, parts.links, parts.form = site, site.links, site.form
    if slack_env:
        settings = SlackSettings.from_dict(config.notifiers["slack"], env)
        commands = SlackCommands(
            settings.signing_secret,
            service,
            parts.rows,
            reload=parts.reload,
            snapshot=lambda: daemon.snapshot,
            clock=clock,
        )
        commands.add_routes(app)
        parts.slack = commands
    return parts
