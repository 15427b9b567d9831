"""``lfx-cal notify-test``: one sample message per subscription, and exactly what happened."""

from __future__ import annotations

import click

from notifiers import DeliveryError, NotifierError, create, sample_message
from scheduler.config import load_config
from scheduler.errors import ConfigError


def notify_test(config_path: str, only: str | None) -> int:
    """Send the sample; return the exit status (0 all delivered, 1 a failure, 2 bad config)."""
    try:
        config = load_config(config_path)
        chosen = [config.subscription(only)] if only else list(config.subscriptions)
        if not chosen:
            raise ConfigError(config_path, "subscriptions", "none defined", "add [[subscriptions]]")
        backends = {
            name: create(name, config.notifiers.get(name, {}))
            for name in {subscription.notifier for subscription in chosen}
        }
    except (ConfigError, NotifierError) as error:
        click.echo(f"lfx-cal: error: {error}", err=True)
        return 2
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
