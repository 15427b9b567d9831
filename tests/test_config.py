"""The serve configuration: validated up front, errors name the key and the fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lfx_cal.bundled import config_dir
from scheduler.config import load_config, parse_config
from scheduler.errors import ConfigError


def test_the_example_config_is_valid() -> None:
    config = load_config(str(config_dir() / "example.toml"))
    assert config.service.timezone == "America/Los_Angeles"
    assert config.service.misfire_grace == dt.timedelta(hours=1)
    assert config.sources[0].location == str((config_dir() / "example-term.md").resolve())
    console = config.subscription("console")
    assert console.leads == (dt.timedelta(days=7), dt.timedelta(days=1), dt.timedelta(hours=1))
    assert "stipend" in console.categories and console.changes is True


def test_defaults_when_nearly_empty() -> None:
    config = parse_config('[[sources]]\nname = "a"\nurl = "https://x/README.md"\n')
    assert config.service.database.startswith("sqlite:///")
    assert config.sources[0].poll == dt.timedelta(hours=6)


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[service]\ntimezone = 'Mars/Base'\n", "service.timezone", "IANA"),
        ("[service]\nmisfire_grace = 'soon'\n", "service.misfire_grace", "'15m'"),
        ("[service]\nlisten = 'localhost'\n", "service.listen", "host:port"),
        ("[service]\ndatabse = 'x'\n", "service.databse", "valid: database"),
        ("colour = 1\n", "(top level).colour", "valid"),
        ("[[sources]]\nname = 'a'\n", "sources[0]", "path or url"),
        ("[[sources]]\nname = 'a'\npath = 'x'\npoll = 5\n", "sources[0].poll", "duration"),
        (
            "[[subscriptions]]\nname = 's'\nnotifier = 'slack'\ntarget = '#x'\n",
            "subscriptions[0].notifier",
            "[notifiers.slack]",
        ),
        (
            "[[subscriptions]]\nname = 's'\nnotifier = 'console'\nrole = 'wizard'\n",
            "subscriptions[0].role",  # was "categories/role"; issue 12: name the key
            "mentee",
        ),
        (
            "[[subscriptions]]\nname = 's'\nnotifier = 'console'\nleads = ['1x']\n",
            "subscriptions[0].leads[0]",  # was ".lead"; issue 12: name the key and item
            "duration",
        ),
        (
            "[[subscriptions]]\nname = 's'\nnotifier = 'console'\nchanges = 'yes'\n",
            "subscriptions[0].changes",
            "true or false",
        ),
        ("[service\n", "toml", "TOML"),
    ],
)
def test_bad_configs_name_the_key_and_the_fix(text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "lfx.toml")
    assert caught.value.key == key
    assert str(caught.value).startswith("lfx.toml: ") and hint in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "none.toml"))
