"""Observability: event-aware logs, Prometheus metrics (``bot.metrics``) and optional OpenTelemetry spans."""

from linqbot.observability.logs import EventContextFilter, JsonFormatter, configure_logging, current_event, log_handler
from linqbot.observability.metrics import Metrics

__all__ = ["EventContextFilter", "JsonFormatter", "Metrics", "configure_logging", "current_event", "log_handler"]
