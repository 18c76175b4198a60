"""`linqbot new NAME`: the project it writes runs its own tests green, and it never overwrites anyone's work."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from linqbot.scaffold import TEMPLATE_FILES

REPO = Path(__file__).resolve().parents[2]


def linqbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linqbot.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def clean_env() -> dict[str, str]:
    """The developer's own Linq settings must not be what makes the new project's tests pass."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_", "PYTEST_"))}


def test_new_project_has_the_promised_files_and_its_tests_pass(tmp_path: Path) -> None:
    created = linqbot("new", "demo", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "demo"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == sorted(
        TEMPLATE_FILES.values()
    )
    env_example = (project / ".env.example").read_text()
    for setting in ("LINQ_API_KEY", "LINQ_WEBHOOK_SECRET", "LINQ_PHONE_NUMBER", "LINQ_BASE_URL"):
        assert f"\n{setting}=" in env_example
    readme = (project / "README.md").read_text()
    assert "linqbot dev bot.py" in readme and "pytest" in readme
    assert 'dependencies = ["linqbot"]' in (project / "pyproject.toml").read_text()
    assert "linq_sim" in (project / "tests" / "test_bot.py").read_text()

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def test_refuses_to_overwrite_a_non_empty_directory(tmp_path: Path) -> None:
    mine = tmp_path / "mybot"
    mine.mkdir()
    (mine / "bot.py").write_text("# my own work\n")
    refused = linqbot("new", "mybot", cwd=tmp_path)
    assert refused.returncode == 2
    assert "already exists and is not empty" in refused.stderr
    assert (mine / "bot.py").read_text() == "# my own work\n"
    assert [p.name for p in mine.iterdir()] == ["bot.py"]


def test_fills_an_empty_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert linqbot("new", "empty", cwd=tmp_path).returncode == 0
    assert (tmp_path / "empty" / "bot.py").is_file()


def test_rejects_a_name_that_cannot_be_a_project(tmp_path: Path) -> None:
    refused = linqbot("new", "9 lives", cwd=tmp_path)
    assert refused.returncode == 2
    assert "not a usable project name" in refused.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_wheel_ships_the_templates(tmp_path: Path) -> None:
    """Templates are package data: an installed linqbot (not just this checkout) can scaffold."""
    pytest.importorskip("hatchling", reason="hatchling (linqbot's build backend) is needed to build the wheel")
    built = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("linqbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"linqbot/scaffold/template/{source}" for source in TEMPLATE_FILES} <= names
