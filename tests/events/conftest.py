"""Helpers for the event-model tests: where the Linq reference fixtures live and how to load them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_DEFAULT_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "linq-api" / "fixtures"


def fixtures_dir() -> Path:
    """The fixtures folder: ``$LINQ_FIXTURES_DIR`` or ``shared/linq-api/fixtures`` beside the repo."""
    return Path(os.environ.get("LINQ_FIXTURES_DIR", _DEFAULT_FIXTURES))


@pytest.fixture
def linq_fixtures_dir() -> Path:
    path = fixtures_dir()
    if not path.is_dir():
        pytest.skip(f"Linq fixtures not found at {path} (set LINQ_FIXTURES_DIR)")
    return path


@pytest.fixture
def load_payload(linq_fixtures_dir: Path) -> Callable[[str], dict[str, Any]]:
    """Load a fixture as a fresh dict that the test may mutate."""

    def load(stem: str) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads((linq_fixtures_dir / f"{stem}.json").read_text())
        return payload

    return load
