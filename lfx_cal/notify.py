"""``lfx-cal notify-test``: one sample message per subscription, and exactly what happened."""

from __future__ import annotations

import click

from lfx_cal.errors import CliError
from lfx_cal.operate import config_from
from notifiers import DeliveryError, NotifierError, create, sample_message
from scheduler.errors import ConfigError
from scheduler.preflight import check_secrets


def notify_test(config_path: str, only: str | None) -> int:
    """Send the sample; return the exit status (0 all delivered, 1 a failure).

    A bad configuration or an unset secret raises CliError (exit 2).
    """
    config = config_from(config_path)
    try:
        chosen = [config.subscription(only)] if only else list(config.subscriptions)
        if not chosen:
            raise ConfigError(config_path, "subscriptions", "none defined", "add [[subscriptions]]")
        names = {subscription.notifier for subscription in chosen}
        check_secrets(config, only=names)
        backends = {name: create(name, config.notifiers.get(name, {})) for name in names}
    except (ConfigError, NotifierError) as error:
        raise CliError.of(error) from None
    message = sample_message(zone=config.service.timezone)
    status = 0
    for subscription in chosen:
        for target in subscription.targets:
            try:
                receipt = backends[subscription.notifier].send(message, target)
            except DeliveryError as error:
                status = 1
                kind = type(error).__name__
                click.echo(f"{subscription.name} -> {target}: FAILED ({kind}): {error}")
                continue
            ident = f" id={receipt.id}" if receipt.id else ""
            click.echo(f"{subscription.name} -> {target}: sent: {receipt.detail}{ident}")
    return status
