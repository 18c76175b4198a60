"""Helpers for the deliverability scenarios: bots with a manual safeguard clock, and a recorder of real API calls."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from linqbot import Bot, Context
from linqbot.middleware import ManualClock, Safeguards
from linqbot.outbound import OutboundCall, RetryPolicy
from linqbot.outbound.pipeline import Next
from linqbot.testing import Simulation

pytestmark = pytest.mark.usefixtures("linq_env")

EVERYONE = Safeguards()


@dataclass
class Harness:
    """A bot whose safeguards run on ``clock``; ``calls`` lists every API call that reached the network."""

    bot: Bot
    clock: ManualClock
    calls: list[OutboundCall] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    def ops(self, op: str | None = None) -> list[OutboundCall]:
        return [c for c in self.calls if op is None or c.op == op]

    def chat_ops(self) -> list[str]:
        """The ops of calls into chats (start-up reads of the line left out), in order."""
        return [c.op for c in self.calls if c.chat_id is not None]

    async def advance(self, sim: Simulation, seconds: float) -> None:
        """Move the emulator's clock and the safeguards' clock together (Linq's windows and ours)."""
        await sim.advance(seconds)
        self.clock.advance(seconds)


def harness(safeguards: Safeguards = EVERYONE, *, retry: RetryPolicy | None = None, **overrides: Any) -> Harness:
    """A bot with ``safeguards`` (all on by default, ``overrides`` replace single settings) on a manual clock.

    Retries are off by default: a 429 or refusal must reach the handler, not be absorbed by a retry.
    """
    clock = ManualClock()
    settings = replace(safeguards, clock=clock, **overrides)
    bot = Bot(env_file=None, safeguards=settings, retry=retry or RetryPolicy(max_attempts=1))
    h = Harness(bot, clock)

    async def record(call: OutboundCall, call_next: Next) -> Any:
        h.calls.append(call)
        return await call_next(call)

    bot.outbound_middleware.add(record, name="test_recorder")

    @bot.on_error()
    async def keep(ctx: Context, error: Exception) -> None:
        h.errors.append(error)

    return h
