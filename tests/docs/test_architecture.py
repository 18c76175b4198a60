"""docs/architecture.md is the map of the code: every file it names exists, and every part of the package is on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = (ROOT / "docs" / "architecture.md").read_text()
NAMED = set(re.findall(r"\b((?:linqbot|plugins)/[\w/]*\w(?:\.py|/))", MAP))
SHORT = set(re.findall(r"(?<![\w/.])((?!linqbot/|plugins/)\w+/\w+\.py)", MAP))
"""Files named by their folder inside linqbot/ (``outbound/retry.py``)."""


def test_every_file_and_folder_the_map_names_exists() -> None:
    assert NAMED and SHORT, "the map names no paths"
    missing = sorted(path for path in NAMED if not (ROOT / path).exists())
    missing += sorted(path for path in SHORT if not (ROOT / "linqbot" / path).exists())
    assert not missing, f"docs/architecture.md names what is not there: {missing}"


def test_every_package_and_top_level_module_is_on_the_map() -> None:
    parts = [p for p in (ROOT / "linqbot").iterdir() if p.name != "__init__.py" and not p.name.startswith("__")]
    listed = {p for p in parts if p.is_dir() and (p / "__init__.py").exists()} | {p for p in parts if p.suffix == ".py"}
    absent = sorted(p.name for p in listed if f"linqbot/{p.name}{'/' if p.is_dir() else ''}" not in NAMED)
    assert not absent, f"linqbot/ parts missing from docs/architecture.md: {absent}"


def test_every_first_party_plugin_is_on_the_map() -> None:
    plugins = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())
    assert plugins, "no plugins found"
    absent = [name for name in plugins if f"`{name}`" not in MAP]
    assert not absent, f"plugins missing from docs/architecture.md: {absent}"
