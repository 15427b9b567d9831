"""The error tree of the scheduler package."""

from __future__ import annotations


class SchedulerError(Exception):
    """Base class of every error raised by the scheduler package."""


class ConfigError(SchedulerError, ValueError):
    """The configuration file is wrong; the message names the file, the key and the fix."""

    def __init__(self, path: str, key: str, problem: str, fix: str = "") -> None:
        self.path = path
        self.key = key
        self.problem = problem
        self.fix = fix
        text = f"{path}: {key}: {problem}" + (f" ({fix})" if fix else "")
        super().__init__(text)


class TokenError(SchedulerError, ValueError):
    """A sign-up link token that is malformed, forged, expired or already used."""


class SignupsFull(SchedulerError):
    """The cap on unconfirmed sign-ups is reached; new ones are refused for now."""
