"""Flows: a person's named state in a chat, and the ``state=`` keyword filter that binds handlers to it.

``@bot.on_message(state="ask_name")`` runs only while the sender's flow state is ``ask_name``; ``state="*"`` while
they are in any flow; ``state=NO_STATE`` while they are in none; ``state=[...]`` in any of several. A handler without
``state=`` runs whatever the state (first match wins, so register flow handlers before catch-alls).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from linqbot.dispatch import register_filter

if TYPE_CHECKING:
    from linqbot.dispatch import Context

ANY_STATE = "*"
"""``state=ANY_STATE``: the sender is in some flow, whichever."""
NO_STATE = ""
"""``state=NO_STATE``: the sender is in no flow."""


class StateFilter:
    """The predicate ``state=`` builds; it reads ``ctx.current_state``, loaded before routing by the state plugin."""

    __slots__ = ("any_state", "names")

    def __init__(self, value: str | Iterable[str]) -> None:
        values = (value,) if isinstance(value, str) else tuple(value)
        if not values or not all(isinstance(v, str) for v in values):
            raise TypeError("state= takes a state name, '*', NO_STATE, or a list of them")
        self.any_state = ANY_STATE in values
        self.names = frozenset(values) - {ANY_STATE}

    def __repr__(self) -> str:
        shown = sorted(self.names | ({ANY_STATE} if self.any_state else set()))
        return f"StateFilter({shown})"

    def __call__(self, ctx: Context) -> bool:
        current: str | None = getattr(ctx, "current_state", None)
        if current is None:
            return NO_STATE in self.names
        return self.any_state or current in self.names


register_filter("state", StateFilter)
