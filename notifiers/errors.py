"""The one tree of errors raised by :mod:`notifiers`.

Catch :class:`NotifierError` for all of them. A failed delivery is either
:class:`TransientError` (try again later: rate limited, server busy, connection
lost) or :class:`PermanentError` (retrying will not help: bad token, unknown
channel, rejected address, untrusted certificate). Bad settings raise
:class:`ConfigError`, which names the key and says how to fix it.
"""

from __future__ import annotations


class NotifierError(Exception):
    """Base class of every error raised by the notifiers package."""

    def __init__(
        self, message: str, *, backend: str = "", target: str = "", detail: str = ""
    ) -> None:
        self.backend = backend
        self.target = target
        self.detail = detail
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class DeliveryError(NotifierError):
    """A message could not be delivered to one target."""


class TransientError(DeliveryError):
    """Delivery failed for now; the same message may succeed later.

    ``retry_after`` is the server's requested wait in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        backend: str = "",
        target: str = "",
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, backend=backend, target=target, detail=detail)


class PermanentError(DeliveryError):
    """Delivery failed and will fail again until someone fixes the cause."""


class ConfigError(NotifierError, ValueError):
    """A backend setting is missing or wrong; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str = "", *, backend: str = "") -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        where = f"[notifiers.{backend}] {key}" if backend else key
        text = f"{where}: {problem}" + (f" ({fix})" if fix else "")
        super().__init__(text, backend=backend)


class Problem(NotifierError, ValueError):
    """A value in a settings table is wrong, before the caller names its key.

    *problem* says why (echoing the value), *fix* how to put it right, *at* is a
    suffix for the key (``[0]`` for the first item of a list). The settings
    reader turns it into the caller's error naming the full key.
    """

    def __init__(self, problem: str, fix: str = "", at: str = "") -> None:
        self.problem = problem
        self.fix = fix
        self.at = at
        super().__init__(problem + (f" ({fix})" if fix else ""))


class UnknownBackendError(ConfigError, LookupError):
    """No backend is registered under the requested name."""

    def __init__(self, name: str, valid: tuple[str, ...]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(
            "backend", f"unknown notifier backend {name!r}", f"use one of: {', '.join(valid)}"
        )
