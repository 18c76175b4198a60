"""The guide keeps up with the code: every public name, decorator, filter and Context member is documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import linqbot
from linqbot import Bot, Context, Router
from linqbot.dispatch import filters

DOCS = Path(__file__).resolve().parents[2] / "docs"
HANDLERS = (DOCS / "handlers.md").read_text()
REFERENCE = "\n".join(p.read_text() for p in sorted((DOCS / "reference").glob("*.md")))


def decorators(cls: type) -> list[str]:
    """Methods that return a decorator: their return annotation is ``Callable[[F], F]`` (or ``[[E], E]``)."""
    found = []
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        returns = str(inspect.signature(member).return_annotation)
        if not name.startswith("_") and re.search(r"Callable\[\[(\w)\], \1\]", returns):
            found.append(name)
    return found


def test_the_decorator_list_is_found() -> None:
    """Guards the test below against finding nothing to check."""
    assert {"on_message", "on_reaction", "on_event", "command", "on_error", "on_read"} <= set(decorators(Router))
    assert {"on_opt_out", "on_opt_in"} <= set(decorators(Bot))


@pytest.mark.parametrize("name", sorted(set(decorators(Bot))))
def test_every_decorator_is_in_the_handlers_guide(name: str) -> None:
    assert f"@bot.{name}(" in HANDLERS


@pytest.mark.parametrize("name", linqbot.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    in_reference = f"linqbot.{name}" in REFERENCE or re.search(rf"`{name}`", REFERENCE) is not None
    assert f"`{name}`" in HANDLERS or in_reference, f"{name} is in linqbot.__all__ but not in the docs"


def test_every_filter_keyword_is_in_the_handlers_guide() -> None:
    Bot(env_file=None)  # loads the plugins, which register their own keyword filters (state=)
    keywords = set(filters._FACTORIES) | {"reconciled"}
    missing = [k for k in sorted(keywords) if f"`{k}=" not in HANDLERS]
    assert not missing, f"filters not described in docs/handlers.md: {missing}"


def context_members() -> list[str]:
    public = {name for name in dir(Context) if not name.startswith("_")}
    attributes = set(inspect.signature(Context.__init__).parameters) - {"self"}
    assigned = set(re.findall(r"self\.(\w+)(?::[^=]+)? = ", inspect.getsource(Context.__init__)))
    return sorted(public | attributes | {a for a in assigned if not a.startswith("_")})


def test_the_context_member_list_is_found() -> None:
    assert {"reply", "react", "typing", "mark_read", "text", "message", "data", "sender"} <= set(context_members())


@pytest.mark.parametrize("name", context_members())
def test_every_context_member_is_in_the_handlers_guide(name: str) -> None:
    mentioned = re.search(rf"`(await |async with )?ctx\.{name}\b", HANDLERS)
    assert mentioned, f"ctx.{name} is not described in docs/handlers.md"
