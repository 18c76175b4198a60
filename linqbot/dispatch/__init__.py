"""Routing an event to its handler: routers, filters, middleware chains and the handler's `Context`."""

from linqbot.dispatch.context import Context
from linqbot.dispatch.dispatcher import UNHANDLED, Dispatcher, SkipHandler
from linqbot.dispatch.filters import Filter, register_filter
from linqbot.dispatch.middleware import MiddlewareManager
from linqbot.dispatch.router import Handler, Router

__all__ = [
    "UNHANDLED",
    "Context",
    "Dispatcher",
    "Filter",
    "Handler",
    "MiddlewareManager",
    "Router",
    "SkipHandler",
    "register_filter",
]
