"""The settings registry is the single source of the README key table and example.toml."""

from __future__ import annotations

import re
import tomllib

import pytest

from notifiers.config import Problem, Setting
from scheduler.settings import header, key_table_markdown, tables
from tests.conftest import ROOT

PAIRS = [(table, setting) for table in tables() for setting in table.settings]


def test_the_readme_key_table_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- keys:[^\n]*-->\n(.*?)\n<!-- /keys -->", readme, re.DOTALL)
    assert found is not None, "README.md lost its <!-- keys --> markers"
    assert found.group(1) == key_table_markdown(), "run: python -m scheduler.settings"


def example_keys() -> set[tuple[str, str]]:
    """(table header, key) for every key in config/example.toml, commented out or not."""
    keys, section = set(), ""
    for line in (ROOT / "config" / "example.toml").read_text().splitlines():
        text = line.lstrip("# ").rstrip()
        if re.fullmatch(r"\[\[?[\w.]+\]\]?", text):
            section = text
        elif (match := re.match(r"(\w+)\s*=", text)) and line.lstrip().startswith(
            ("#", match.group(1))
        ):
            keys.add((section, match.group(1)))
    return keys


def test_example_toml_shows_every_declared_key_and_only_those() -> None:
    declared = {(header(t), s.name) for t, s in PAIRS if t.name not in _NO_EXAMPLE}
    shown = example_keys()
    assert sorted(declared - shown) == [], "declared but missing from config/example.toml"
    assert sorted(shown - {(header(t), s.name) for t, s in PAIRS}) == [], "shown, not declared"


_NO_EXAMPLE = {"notifiers.recorder", "notifiers.console"}  # no keys, nothing to show


@pytest.mark.parametrize(
    ("table_name", "setting"), [(t.name, s) for t, s in PAIRS], ids=lambda v: getattr(v, "name", v)
)
def test_each_declaration_is_complete_and_its_default_and_example_parse(
    table_name: str, setting: Setting
) -> None:
    assert setting.help, f"{table_name}.{setting.name} has no help"
    if not setting.required and setting.default is not None:
        setting.type.parse(setting.default)
    if setting.example and "…" not in setting.example:
        setting.type.parse(tomllib.loads(f"x = {setting.example}")["x"])


def test_a_wrong_value_is_a_problem_that_echoes_it() -> None:
    for _table, setting in PAIRS:
        if setting.type.name in ("string", "string or list of strings"):
            continue  # any string is a string
        with pytest.raises(Problem) as caught:
            setting.type.parse({"nested": "table"})
        assert "nested" in str(caught.value), setting.name
