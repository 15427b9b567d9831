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
