"""Stable, low-cardinality names for metric labels and span names."""

from __future__ import annotations

import functools

from linqbot.dispatch.router import Handler


def handler_name(handler: Handler | None) -> str:
    """``module.function`` of a handler: bounded by the code, so safe as a metric label."""
    callback = getattr(handler, "callback", None)
    return "unknown" if callback is None else _callback_name(callback)


@functools.lru_cache(maxsize=1024)
def _callback_name(callback: object) -> str:
    return f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__qualname__', '?')}"
