"""Stable, low-cardinality names for metric labels and span names."""

from __future__ import annotations

from linqbot.dispatch.router import Handler


def handler_name(handler: Handler | None) -> str:
    """``module.function`` of a handler: bounded by the code, so safe as a metric label."""
    callback = getattr(handler, "callback", None)
    if callback is None:
        return "unknown"
    return f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__qualname__', '?')}"
