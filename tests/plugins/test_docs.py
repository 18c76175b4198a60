"""docs/plugins.md documents every hook with its exact signature, and each hook has a one-line docstring."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from linqbot.plugins import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HEADING = re.compile(r"^### `(linqbot_\w+)\((.*)\)(?: -> (.*))?`$", re.MULTILINE)


def _hooks() -> dict[str, Callable[..., Any]]:
    return {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "linqbot_spec")}


def signature_text(fn: Callable[..., Any]) -> str:
    """The signature as written in hookspecs.py (the module postpones annotations, so they are strings)."""
    params = [f"{p.name}: {p.annotation}" for p in inspect.signature(fn).parameters.values()]
    return f"{fn.__name__}({', '.join(params)}) -> {inspect.signature(fn).return_annotation}"


def documented() -> dict[str, str]:
    found = {}
    for match in HEADING.finditer(DOCS.read_text()):
        found[match.group(1)] = match.group(0).removeprefix("### `").removesuffix("`")
    return found


HOOKS = _hooks()


def test_the_hookspecs_are_found() -> None:
    assert {"linqbot_setup", "linqbot_startup", "linqbot_handle_error"} <= set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_documented_with_its_exact_signature(name: str) -> None:
    docs = documented()
    assert name in docs, f"{name} has no '### `{signature_text(HOOKS[name])}`' entry in docs/plugins.md"
    assert docs[name] == signature_text(HOOKS[name])


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_one_line_docstring_shown_in_the_docs(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert doc and "\n" not in doc, f"{name} needs a one-line docstring"
    entry = DOCS.read_text().split(f"### `{signature_text(HOOKS[name])}`", 1)[1]
    assert entry.lstrip().startswith(doc), f"docs/plugins.md should open {name}'s entry with its docstring"


def test_the_docs_describe_no_hook_that_does_not_exist() -> None:
    assert set(documented()) <= set(HOOKS)
