"""``linqbot new NAME``: a ready-to-run bot project whose tests pass straight away.

The files come from ``template/`` (package data, ``*.tmpl``), with ``${name}`` replaced by the project name.
They are stored under neutral names (``env.example.tmpl``, ``gitignore.tmpl``) so packaging keeps them and no
linter or test runner mistakes them for this package's own code.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import resources
from pathlib import Path
from string import Template

TEMPLATE_FILES: dict[str, str] = {
    "bot.py.tmpl": "bot.py",
    "tests/test_bot.py.tmpl": "tests/test_bot.py",
    "env.example.tmpl": ".env.example",
    "gitignore.tmpl": ".gitignore",
    "README.md.tmpl": "README.md",
    "pyproject.toml.tmpl": "pyproject.toml",
}
"""Template file (under template/) → path in the new project."""

PROJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class ScaffoldError(Exception):
    """The project cannot be created where asked; nothing was written."""


def create_project(target: Path) -> list[Path]:
    """Write a new project into ``target`` (created, or existing and empty); returns the files written."""
    name = target.name
    if not PROJECT_NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a usable project name: start with a letter, then letters, digits, '-' or '_'"
        )
    if target.exists():
        if not target.is_dir():
            raise ScaffoldError(f"{target} exists and is not a directory")
        if any(target.iterdir()):
            raise ScaffoldError(f"{target} already exists and is not empty; choose another name or empty it first")
    template = resources.files(__package__) / "template"
    rendered = {
        target / destination: Template((template / source).read_text(encoding="utf-8")).substitute(name=name)
        for source, destination in TEMPLATE_FILES.items()
    }
    written = []
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the project directory to create (its last part is the project name)")


def run(args: argparse.Namespace) -> int:
    target = Path(args.name)
    try:
        create_project(target)
    except ScaffoldError as exc:
        print(f"linqbot new: {exc}", file=sys.stderr)
        return 2
    print(f"Created {target}/ — next:\n  cd {target}\n  pip install -e '.[test]'\n  linqbot dev bot.py\n  pytest")
    return 0
