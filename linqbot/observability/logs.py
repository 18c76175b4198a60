"""Log lines that say which event they belong to: trace_id, event_id and chat on every record emitted while an
event is handled, as text or JSON (``LINQBOT_LOG_FORMAT=json``), with the sender's handle masked."""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from linqbot.events import Event
from linqbot.redact import mask_handle

current_event: ContextVar[Event | None] = ContextVar("linqbot_current_event", default=None)
"""The event being handled in this task; the dispatcher sets it, so reading it costs nothing until a line is logged."""

CONTEXT_FIELDS = ("trace_id", "event_id", "chat", "sender")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(event_context)s: %(message)s"


def _sender(event: Event) -> str | None:
    message = getattr(event, "message", None)
    handle = getattr(message, "sender_handle", None)
    return handle if isinstance(handle, str) else None


class EventContextFilter(logging.Filter):
    """Adds the current event's ids to each record (``-`` outside an event); attach it to handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        event = current_event.get()
        if event is None:
            record.trace_id = record.event_id = record.chat = record.sender = "-"
            record.event_context = ""
            return True
        trace_id, chat = event.trace_id or "-", event.chat_id or "-"
        record.trace_id, record.event_id, record.chat = trace_id, event.event_id, chat
        record.sender = mask_handle(_sender(event))
        record.event_context = f" [event={event.event_id} chat={chat} trace={trace_id}]"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers; needs `EventContextFilter` on the same handler."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, "-")
            if value != "-":
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_handler(fmt: str | None = None, stream: IO[str] | None = None) -> logging.Handler:
    """A handler with the event context; ``fmt`` is "text" or "json" (default: ``LINQBOT_LOG_FORMAT``, else text)."""
    chosen = (fmt or os.environ.get("LINQBOT_LOG_FORMAT") or "text").lower()
    if chosen not in ("text", "json"):
        raise ValueError(f"LINQBOT_LOG_FORMAT must be text or json, got {chosen!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(EventContextFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


QUIET_LOGGERS = ("httpx",)
"""Libraries that log every API call at INFO: their lines would drown the bot's own."""


def configure_logging(level: int = logging.INFO, fmt: str | None = None, stream: IO[str] | None = None) -> None:
    """Log to stderr with the event context, unless the application configured logging itself."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(log_handler(fmt, stream))
    root.setLevel(level)
    quiet_chatty_libraries(level)


def quiet_chatty_libraries(level: int = logging.INFO) -> None:
    """Keep `QUIET_LOGGERS` at WARNING (or ``level`` if higher), unless the user set their level."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # a level the user set is theirs
            logger.setLevel(max(level, logging.WARNING))
