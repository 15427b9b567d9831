"""Files shipped with lfx-cal: the example term document and the example config."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The folder holding the bundled ``config/`` files (wheel or source checkout)."""
    for candidate in (_HERE / "config", _HERE.parent / "config"):
        if (candidate / "example-term.md").is_file():
            return candidate
    raise FileNotFoundError("lfx-cal's bundled config/ folder is missing; reinstall lfx-cal")


def example_term() -> Path:
    """Path of the bundled example term document."""
    return config_dir() / "example-term.md"
