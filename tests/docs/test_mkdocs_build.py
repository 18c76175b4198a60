"""The documentation site builds with ``mkdocs build --strict``: no broken link, no missing page, no docstring the
API reference cannot render."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None,
    reason="the docs extra is not installed: pip install -e '.[docs]'",
)


@needs_mkdocs
def test_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    reference = (site / "reference" / "dispatch" / "index.html").read_text()
    assert "on_participant_added" in reference  # the API reference is generated from the code
    assert (site / "compliance" / "index.html").is_file()
