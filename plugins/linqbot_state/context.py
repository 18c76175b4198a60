"""`StateContext`: the attributes the state plugin binds onto a Context, spelled out for type checkers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from linqbot.dispatch import Context

if TYPE_CHECKING:
    from linqbot.events import Message
    from linqbot_state.store import ScopedState


class SetState(Protocol):
    def __call__(self, state: str, *, ttl: float | None = None) -> Awaitable[None]: ...


class ClearState(Protocol):
    def __call__(self) -> Awaitable[None]: ...


class GetState(Protocol):
    def __call__(self) -> Awaitable[str | None]: ...


class Ask(Protocol):
    def __call__(self, question: Any = None, *, timeout: float | None = ..., **reply: Any) -> Awaitable[Message]: ...


class StateContext(Context):
    """Annotate a handler ``ctx: StateContext`` to type-check ``ctx.state`` and friends.

    Never instantiated: handlers receive the bot's ordinary `Context`, with these attributes bound by the plugin.
    """

    state: ScopedState
    """State shared by everyone in this chat."""
    person_state: ScopedState
    """The sender's state, shared across every chat with them."""
    current_state: str | None
    """The sender's flow state in this chat (preloaded when some handler uses ``state=``; else ``get_state``)."""
    set_state: SetState
    clear_state: ClearState
    get_state: GetState
    ask: Ask
