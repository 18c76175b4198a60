"""``bot.metrics``: the bot's Prometheus metrics, in a registry of its own (several bots never collide).

Off until `Metrics.enable`: each recording method then returns after one attribute check, so a bot that nobody
scrapes pays nothing. Safeguards and plugins report their decisions with ``bot.metrics.gate(name, decision)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters, a latency histogram and gauges for one bot, exposed in the Prometheus text format."""

    def __init__(self) -> None:
        self.enabled = False
        self.registry = CollectorRegistry()
        self._http: httpx.AsyncClient | None = None
        self._handler_series: dict[tuple[str, str], Histogram] = {}
        self._event_series: dict[tuple[str, str], Counter] = {}

    def enable(self, queue_depth: Callable[[], float]) -> None:
        """Create the metrics; ``queue_depth`` is read at scrape time only. Calling it again does nothing."""
        if self.enabled:
            return
        registry = self.registry
        self._events = Counter(
            "linqbot_webhook_events",
            "Verified webhook events by type and what the bot did with them (accepted, duplicate, echo, ignored)",
            ["event_type", "outcome"],
            registry=registry,
        )
        self._dedup = Counter(
            "linqbot_dedup_hits", "Redeliveries of an event already accepted (dropped)", registry=registry
        )
        self._handlers = Histogram(
            "linqbot_handler_seconds",
            "Time in a handler (with its inner middleware), by handler and outcome (ok, error)",
            ["handler", "outcome"],
            buckets=HANDLER_BUCKETS,
            registry=registry,
        )
        self._pending = Gauge(
            "linqbot_inbox_pending", "Accepted events not finished yet (the queue depth)", registry=registry
        )
        self._pending.set_function(queue_depth)
        self._rate_limited = Counter(
            "linqbot_api_rate_limited",
            "HTTP 429 answers from the Linq API (each retried attempt counts)",
            registry=registry,
        )
        self._gates = Counter(
            "linqbot_gate_decisions",
            "Decisions of the deliverability gates (pacing, health, opt-out, …) on outgoing messages",
            ["gate", "decision"],
            registry=registry,
        )
        self.enabled = True
        if self._http is not None:
            self._hook(self._http)

    # -- recording (cheap no-ops while disabled) -------------------------------------------------------------

    def webhook(self, event_type: str, outcome: str) -> None:
        if not self.enabled:
            return
        series = self._event_series.get((event_type, outcome))
        if series is None:
            series = self._event_series[(event_type, outcome)] = self._events.labels(event_type, outcome)
        series.inc()
        if outcome == "duplicate":
            self._dedup.inc()

    def handler(self, name: str, seconds: float, outcome: str) -> None:
        if not self.enabled:
            return
        series = self._handler_series.get((name, outcome))
        if series is None:  # labels() takes a lock and builds a key: once per handler and outcome, not per event
            series = self._handler_series[(name, outcome)] = self._handlers.labels(name, outcome)
        series.observe(seconds)

    def gate(self, name: str, decision: str) -> None:
        """Count one decision of gate ``name`` (e.g. ``gate("pacing", "delayed")``)."""
        if self.enabled:
            self._gates.labels(name, decision).inc()

    # -- the API client --------------------------------------------------------------------------------------

    def watch_http(self, http: httpx.AsyncClient) -> None:
        """Count the 429s on the HTTP client under the SDK (retries happen below middleware, so only here are they
        all visible); hooked now when enabled, else on `enable`."""
        self._http = http
        if self.enabled:
            self._hook(http)

    def _hook(self, http: httpx.AsyncClient) -> None:
        async def count_rate_limits(response: httpx.Response) -> None:
            if response.status_code == 429:
                self._rate_limited.inc()

        hooks = http.event_hooks
        hooks.setdefault("response", []).append(count_rate_limits)
        http.event_hooks = hooks

    # -- exposition ------------------------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def sample(self, name: str, **labels: str) -> float:
        """One current value (``0.0`` when never recorded), for dashboards and tests."""
        value: Any = self.registry.get_sample_value(name, labels)
        return float(value or 0.0)
