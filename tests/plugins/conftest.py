"""Helpers for plugin tests: throwaway plugin modules, and the sample community plugin installed for real."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMUNITY_PLUGIN = REPO / "examples" / "community_plugin"


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], str]]:
    """Write a module into an importable temp dir: ``plugin_module(name, source) -> name``; unimported afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample community plugin pip-installed (wheel built by hatchling) into a private site directory."""
    site = tmp_path_factory.mktemp("hello-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(COMMUNITY_PLUGIN),
        ],
        check=True,
        capture_output=True,
    )
    return site


@pytest.fixture
def hello_installed(hello_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process sees the installed plugin (its dist-info, so its entry point) until the test ends."""
    monkeypatch.syspath_prepend(str(hello_site))
    yield hello_site
    sys.modules.pop("linqbot_hello", None)
