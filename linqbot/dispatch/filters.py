"""Filters decide whether a handler wants an event.

A filter is any callable taking the `Context` and returning a bool, or an awaitable bool. Sync filters run inline
(never in a thread: a thread hop costs far more than any filter), so the common keyword filters cost a few hundred
nanoseconds. Plugins add keyword filters (``state=`` comes from the state plugin) with `register_filter`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linqbot.dispatch.context import Context

Predicate = Callable[["Context"], "bool | Awaitable[bool]"]
FilterFactory = Callable[[Any], Predicate]


@dataclass(frozen=True, slots=True)
class Filter:
    """A predicate plus whether it must be awaited (decided once, at registration)."""

    check: Predicate
    is_async: bool
    sets_match: bool = False
    """Leaves ``ctx.match`` for its handler (``regex=``); the dispatcher clears it for handlers without one."""

    @classmethod
    def of(cls, predicate: Predicate, *, sets_match: bool = False) -> Filter:
        if not callable(predicate):
            raise TypeError(f"a filter must be callable, got {predicate!r}")
        call = getattr(predicate, "__call__", None)  # noqa: B004 - async callable objects
        is_async = inspect.iscoroutinefunction(predicate) or inspect.iscoroutinefunction(call)
        return cls(predicate, is_async, sets_match)


def _strings(value: str | Iterable[str], name: str) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name}= takes a string or a list of strings")
    return values


def text_equals(value: str | Iterable[str]) -> Predicate:
    """The whole message, trimmed, equals one of the values (case-insensitive)."""
    wanted = frozenset(v.strip().casefold() for v in _strings(value, "text"))
    return lambda ctx: ctx.text_folded.strip() in wanted


def contains(value: str | Iterable[str]) -> Predicate:
    """The message contains one of the values (case-insensitive)."""
    needles = tuple(v.casefold() for v in _strings(value, "contains"))
    if len(needles) == 1:
        needle = needles[0]
        return lambda ctx: needle in ctx.text_folded

    def check(ctx: Context) -> bool:
        text = ctx.text_folded
        for needle in needles:
            if needle in text:
                return True
        return False

    return check


def startswith(value: str | Iterable[str]) -> Predicate:
    """The trimmed message starts with one of the values (case-insensitive)."""
    prefixes = tuple(v.casefold() for v in _strings(value, "startswith"))
    return lambda ctx: ctx.text_folded.lstrip().startswith(prefixes)


def regex(pattern: str | re.Pattern[str]) -> Predicate:
    """``re.search`` over the message text; the match is left on ``ctx.match``."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern

    def check(ctx: Context) -> bool:
        ctx.match = found = compiled.search(ctx.text)
        return found is not None

    return check


def sender(value: str | Iterable[str]) -> Predicate:
    """The sender's handle (E.164 or email) is one of the values."""
    handles = frozenset(_strings(value, "sender"))
    return lambda ctx: ctx.sender in handles


def group(value: bool) -> Predicate:
    """True: group chats only; False: direct chats only."""
    wanted = bool(value)
    return lambda ctx: ctx.is_group is wanted


def service(value: str | Iterable[str]) -> Predicate:
    """The service that carried the message: iMessage, RCS or SMS (case-insensitive)."""
    services = frozenset(v.casefold() for v in _strings(value, "service"))

    def check(ctx: Context) -> bool:
        message = ctx.message
        return message is not None and (message.service or "").casefold() in services

    return check


def has_media(value: bool) -> Predicate:
    """True: the message carries at least one media part; False: none."""
    wanted = bool(value)

    def check(ctx: Context) -> bool:
        message = ctx.message
        return (message is not None and bool(message.media)) is wanted

    return check


_FACTORIES: dict[str, FilterFactory] = {
    "text": text_equals,
    "contains": contains,
    "startswith": startswith,
    "regex": regex,
    "sender": sender,
    "group": group,
    "service": service,
    "has_media": has_media,
}


def register_filter(name: str, factory: FilterFactory) -> None:
    """Let ``on_message(name=value)`` build a predicate with ``factory(value)``; for plugins."""
    if name in _FACTORIES and _FACTORIES[name] is not factory:
        raise ValueError(f"a filter named {name!r} is already registered")
    _FACTORIES[name] = factory


def all_of(checks: Sequence[Predicate]) -> Callable[[Context], Any]:
    """One sync predicate that passes when every one of ``checks`` (all sync) does; dispatch calls it per handler."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda ctx: first(ctx) and second(ctx)
    if len(checks) == 3:
        first, second, third = checks
        return lambda ctx: first(ctx) and second(ctx) and third(ctx)

    def check(ctx: Context) -> bool:
        return all(c(ctx) for c in checks)

    return check


def all_of_async(checks: Sequence[Predicate]) -> Callable[[Context], Awaitable[Any]]:
    """One awaitable predicate that passes when every one of ``checks`` (all async) does, awaited in order."""
    if len(checks) == 1:
        return checks[0]  # type: ignore[return-value]

    async def check(ctx: Context) -> bool:
        for one in checks:
            if not await one(ctx):  # type: ignore[misc]
                return False
        return True

    return check


def build_filters(predicates: Iterable[Predicate], keywords: dict[str, Any]) -> tuple[Filter, ...]:
    """Turn decorator arguments into filters; unknown keywords fail at registration, not at dispatch."""
    built = [Filter.of(p) for p in predicates]
    for name, value in keywords.items():
        if value is None:
            continue
        factory = _FACTORIES.get(name)
        if factory is None:
            known = ", ".join(sorted(_FACTORIES))
            raise TypeError(f"unknown filter {name}=; known filters: {known}")
        built.append(Filter.of(factory(value), sets_match=factory is regex))
    # Cheap sync checks first, so async ones only run for plausible matches.
    return tuple(sorted(built, key=lambda f: f.is_async))
