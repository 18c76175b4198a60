"""The state store contract: scoped JSON records with per-key expiry and atomic read-modify-write.

A backend keeps one JSON text per *scope* (``chat:<id>``, ``person:<handle>``, ``flow:<chat>:<handle>``) and
implements three primitives — read, atomic transact, drop. Expiry, JSON checks and the dict-like API live here, so
every backend behaves the same and a community backend only has to make `_transact` atomic.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

Clock = Callable[[], float]
"""Wall-clock seconds (``time.time`` by default): expiry moments are persisted, so they must survive restarts."""

Updater = Callable[[dict[str, Any]], Mapping[str, Any] | None]
Changes = Mapping[str, Any] | Updater
Write = tuple[str | None, float | None]
"""What a transaction stores: the new record text (None deletes the scope) and when all of it has expired."""

FLOW_KEY = "state"


class StateStoreError(RuntimeError):
    """A store cannot be used as configured (bad URL, unreachable server, unwritable file) or refused a command; the
    message says why."""


class StateStoreUnavailable(StateStoreError):
    """The store's server stayed unreachable past the store's patience, or the connection broke while a write was
    under way (whether it was applied is unknown, so it is not repeated)."""


class StateStore(ABC):
    """Per-scope JSON state with TTLs. Use it through `ScopedState` (``ctx.state``) or `chat` / `person`."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.clock = clock

    # -- what a backend implements -----------------------------------------------------------------------------------

    @abstractmethod
    async def _read(self, scope: str) -> str | None:
        """The stored record text of ``scope`` (expired keys are filtered by the caller)."""

    @abstractmethod
    async def _transact(self, scope: str, change: Callable[[str | None], Write]) -> None:
        """Atomically replace the record of ``scope`` with ``change(current)``.

        ``change`` is pure: a backend with optimistic concurrency (Redis) may call it again after a conflict.
        """

    @abstractmethod
    async def _drop(self, scope: str) -> None:
        """Delete the record of ``scope``."""

    async def open(self) -> None:  # noqa: B027 - optional for backends
        """Connect and check the backend is reachable (stores also connect lazily on first use)."""

    async def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections; a closed store reconnects if used again."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- the record format ------------------------------------------------------------------------------------------

    def _live(self, text: str | None) -> dict[str, list[Any]]:
        """Decode a record to ``{key: [value, expires_at]}`` without the entries that expired."""
        if text is None:
            return {}
        entries: dict[str, list[Any]] = json.loads(text)
        now = self.clock()
        return {key: entry for key, entry in entries.items() if entry[1] is None or entry[1] > now}

    @staticmethod
    def _encode(entries: dict[str, list[Any]]) -> Write:
        if not entries:
            return None, None
        try:
            text = json.dumps(entries, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            for key, (value, _) in entries.items():
                try:
                    json.dumps(value, allow_nan=False)
                except (TypeError, ValueError):
                    raise TypeError(f"state value for {key!r} is not JSON-serialisable: {exc}") from None
            raise
        moments = [entry[1] for entry in entries.values()]
        return text, (None if None in moments else max(moments))

    def _expiry(self, ttl: float | None) -> float | None:
        if ttl is None:
            return None
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
        return self.clock() + ttl

    # -- the API ----------------------------------------------------------------------------------------------------

    async def get(self, scope: str, key: str, default: Any = None) -> Any:
        entry = self._live(await self._read(scope)).get(_check_key(key))
        return default if entry is None else entry[0]

    async def items(self, scope: str) -> dict[str, Any]:
        """Every live key of ``scope`` and its value."""
        return {key: entry[0] for key, entry in self._live(await self._read(scope)).items()}

    async def set(self, scope: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``; it expires ``ttl`` seconds from now (``None``: never)."""
        _check_key(key)
        expires_at = self._expiry(ttl)

        def change(text: str | None) -> Write:
            entries = self._live(text)
            entries[key] = [value, expires_at]
            return self._encode(entries)

        await self._transact(scope, change)

    async def update(self, scope: str, changes: Changes, *, ttl: float | None = None) -> dict[str, Any]:
        """Atomic read-modify-write of the whole scope; returns the new contents.

        ``changes`` is a dict merged into the scope, or a function given a copy of the scope as a dict that mutates
        it (returning None) or returns the new dict — keys it leaves out are deleted. The function may run more
        than once under contention, so it must not have side effects. Keys added or changed get ``ttl``; the others
        keep their expiry.
        """
        expires_at = self._expiry(ttl)
        if not callable(changes) and not isinstance(changes, Mapping):
            raise TypeError(f"update() takes a dict or a function, got {type(changes).__name__}")
        result: dict[str, Any] = {}

        def change(text: str | None) -> Write:
            entries = self._live(text)
            current = {key: entry[0] for key, entry in entries.items()}
            wanted = _apply(changes, current)
            fresh = {
                key: entries[key] if key in entries and entries[key][0] == value else [value, expires_at]
                for key, value in wanted.items()
            }
            write = self._encode(fresh)
            result.clear()
            result.update(wanted)
            return write

        await self._transact(scope, change)
        return result

    async def delete(self, scope: str, key: str) -> bool:
        """Remove ``key``; True when it was there (and not expired)."""
        _check_key(key)
        found = False

        def change(text: str | None) -> Write:
            nonlocal found
            entries = self._live(text)
            found = entries.pop(key, None) is not None
            return self._encode(entries)

        await self._transact(scope, change)
        return found

    async def clear(self, scope: str) -> None:
        """Remove every key of ``scope``."""
        await self._drop(scope)

    # -- scopes ------------------------------------------------------------------------------------------------------

    def chat(self, chat_id: str) -> ScopedState:
        """The state shared by everyone in a chat (what ``ctx.state`` is)."""
        return ScopedState(self, f"chat:{chat_id}")

    def person(self, handle: str) -> ScopedState:
        """A person's state across every chat (what ``ctx.person_state`` is)."""
        return ScopedState(self, f"person:{handle}")

    async def get_flow(self, chat_id: str, handle: str) -> str | None:
        """The flow state of ``handle`` in ``chat_id`` (None: not in a flow)."""
        state = await self.get(_flow_scope(chat_id, handle), FLOW_KEY)
        return state if isinstance(state, str) else None

    async def set_flow(self, chat_id: str, handle: str, state: str, *, ttl: float | None = None) -> None:
        """Put ``handle`` into flow state ``state`` in ``chat_id``; with ``ttl`` the flow is abandoned after it."""
        if not isinstance(state, str) or not state or state == "*":
            raise ValueError(f"a flow state is a non-empty name other than '*', got {state!r}")
        await self.set(_flow_scope(chat_id, handle), FLOW_KEY, state, ttl=ttl)

    async def clear_flow(self, chat_id: str, handle: str) -> None:
        await self.clear(_flow_scope(chat_id, handle))


class ScopedState:
    """The state API bound to one scope: ``await ctx.state.get("lang", "en")``."""

    __slots__ = ("scope", "store")

    def __init__(self, store: StateStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    def __repr__(self) -> str:
        return f"<ScopedState {self.scope.partition(':')[0]}>"

    async def get(self, key: str, default: Any = None) -> Any:
        return await self.store.get(self.scope, key, default)

    async def items(self) -> dict[str, Any]:
        return await self.store.items(self.scope)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.store.set(self.scope, key, value, ttl=ttl)

    async def update(self, changes: Changes, *, ttl: float | None = None) -> dict[str, Any]:
        return await self.store.update(self.scope, changes, ttl=ttl)

    async def delete(self, key: str) -> bool:
        return await self.store.delete(self.scope, key)

    async def clear(self) -> None:
        await self.store.clear(self.scope)


def _flow_scope(chat_id: str, handle: str) -> str:
    return f"flow:{chat_id}:{handle}"


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"a state key is a non-empty string, got {key!r}")
    return key


def _apply(changes: Changes, current: dict[str, Any]) -> dict[str, Any]:
    if isinstance(changes, Mapping):
        return _checked({**current, **changes})
    else:
        returned = changes(current)
        merged: Mapping[str, Any] = current if returned is None else returned
        if not isinstance(merged, Mapping):
            raise TypeError(f"an update function returns a dict or None, got {type(merged).__name__}")
    return _checked(merged)


def _checked(merged: Mapping[str, Any]) -> dict[str, Any]:
    for key in merged:
        _check_key(key)
    return dict(merged)
