"""Deliver deadline notifications: Slack, e-mail, console and an in-memory recorder.

Build the content once with :func:`build_message` (or :func:`sample_message`),
pick a backend with :func:`create` (``"slack"``, ``"email"``, ``"console"``,
``"recorder"``) and call ``send`` / ``send_many`` (blocking) or ``asend`` /
``asend_many`` (asyncio, never blocks the loop). Failures raise
:class:`TransientError` (retry later) or :class:`PermanentError` (fix first).
"""

from typing import TYPE_CHECKING, Any

from notifiers.base import Notifier, Outcome, Receipt, delivery_key
from notifiers.console import ConsoleNotifier
from notifiers.errors import (
    ConfigError,
    DeliveryError,
    NotifierError,
    PermanentError,
    TransientError,
    UnknownBackendError,
)
from notifiers.message import (
    Change,
    Kind,
    Message,
    Unsubscribe,
    build_message,
    changed_from,
    sample_message,
)
from notifiers.recorder import Record, RecorderNotifier
from notifiers.registry import backend_class, create, names, register
from notifiers.settings import EmailSettings, SlackSettings
from notifiers.smtp import EmailNotifier

if TYPE_CHECKING:
    from notifiers.slack import WEBHOOK, SlackNotifier

__all__ = [
    "WEBHOOK",
    "Change",
    "ConfigError",
    "ConsoleNotifier",
    "DeliveryError",
    "EmailNotifier",
    "EmailSettings",
    "Kind",
    "Message",
    "Notifier",
    "NotifierError",
    "Outcome",
    "PermanentError",
    "Receipt",
    "Record",
    "RecorderNotifier",
    "SlackNotifier",
    "SlackSettings",
    "TransientError",
    "UnknownBackendError",
    "Unsubscribe",
    "backend_class",
    "build_message",
    "changed_from",
    "create",
    "delivery_key",
    "names",
    "register",
    "sample_message",
]


def __getattr__(name: str) -> Any:
    """``SlackNotifier`` and ``WEBHOOK``, imported on first use (see :mod:`notifiers.registry`)."""
    if name in ("SlackNotifier", "WEBHOOK"):
        from notifiers import slack

        return getattr(slack, name)
    raise AttributeError(f"module 'notifiers' has no attribute {name!r}")
