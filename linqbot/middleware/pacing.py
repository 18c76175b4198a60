"""Pacing and volume budgets: keep every line under Linq's limits instead of bouncing off them.

* Linq allows 30 messages per 60 s per (line, recipient) pair and answers 429 beyond; hitting it "almost always
  indicates a loop" and hurts the line. Sends to one pair wait their turn, in order, instead of failing.
* Linq recommends at most 7,000 messages a day per line, inbound and outbound together, and flags lines that open
  too many brand-new conversations a day. Both are rolling-24 h budgets here; when one is used up the send raises a
  `BudgetExhausted` subclass rather than queueing for hours.
* A 429 that still reaches us (another process, another tool on the same line) pauses only its pair.
* A slot is taken when a send is let through, but Linq counts the request when it arrives: a send that takes longer
  to get there than a later one (a bubble's typing pause, a slow connection) would put that later one inside Linq's
  window. Each slot is therefore held ``pair_margin`` seconds longer than Linq's window.
* The budgets count a message once, as Linq does: a send is counted by its idempotency key, so re-running it with
  the same key (its event re-run after a crash; Linq deduplicates the send) does not spend the budget again. Pair
  slots are taken per attempt: every request reaching Linq counts against its rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from linqbot.middleware.chats import AT_RISK, Directory, Target, reputation_key
from linqbot.middleware.errors import DailyBudgetExhausted, NewChatBudgetExhausted, SafeguardHold
from linqbot.middleware.reads import Reads
from linqbot.middleware.tracking import DAY, budget_key, outbound_member
from linqbot.outbound import LinqAPIError, OutboundCall, RateLimited
from linqbot.outbound.pipeline import Next
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.safeguards.pacing")


@dataclass(frozen=True)
class Pacing:
    """Limits per line; ``None`` switches a budget off, 0 allows none (every send it covers is refused)."""

    per_pair: int = 30
    """Messages per ``pair_window`` seconds to one recipient from one line (Linq's limit is 30 / 60 s)."""
    pair_window: float = 60.0
    pair_margin: float = 3.0
    """Seconds each pair slot is held beyond ``pair_window``: covers a bubble's typing pause (at most 2 s by default)
    plus network jitter between taking a slot and reaching Linq. Costs ~5% of a pair's peak rate (30 per 63 s)."""
    daily_budget: int | None = 7_000
    """Messages per line per rolling 24 h, inbound (counted from webhooks) plus outbound."""
    new_chats_per_day: int | None = 50
    """Conversations the bot may open per line per rolling 24 h."""
    new_chats_per_day_at_risk: int | None = 10
    """The same budget while the line's reputation is AT_RISK (Linq: "open fewer new chats")."""

    def __post_init__(self) -> None:
        """Refuse a limit that cannot mean anything now, rather than fail on the first send."""
        for name in ("daily_budget", "new_chats_per_day", "new_chats_per_day_at_risk"):
            budget = getattr(self, name)
            if budget is not None and budget < 0:
                raise ValueError(f"Pacing.{name} must be 0 or more (0: no sends), not {budget}; None switches it off")
        if self.per_pair < 1:
            raise ValueError(f"Pacing.per_pair must be 1 or more (a send waits for a free slot), not {self.per_pair}")
        if self.pair_window <= 0:
            raise ValueError(f"Pacing.pair_window must be more than 0 seconds, not {self.pair_window}")
        if self.pair_margin < 0:
            raise ValueError(f"Pacing.pair_margin must be 0 or more seconds, not {self.pair_margin}")


class _PairLocks:
    """FIFO locks per pair key, dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        ordered = sorted(set(keys))
        for key in ordered:
            lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        async with contextlib.AsyncExitStack() as stack:
            try:
                for key in ordered:
                    await stack.enter_async_context(self._locks[key][0])
                yield
            finally:
                for key in ordered:
                    lock, users = self._locks[key]
                    if users == 1:
                        del self._locks[key]
                    else:
                        self._locks[key] = (lock, users - 1)


class Pacer:
    """Outbound middleware ``pacing``."""

    def __init__(self, settings: Pacing, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory
        self._locks = _PairLocks()

    async def __call__(self, call: OutboundCall, call_next: Next) -> Any:
        """Outermost: one send per pair at a time, so the gates inside see the previous send's effect (a burst of
        concurrent sends cannot all pass a non-responder check at once) and sends keep their order."""
        if not call.is_send:
            return await call_next(call)
        target = await self.directory.target(call)
        keys = self._pair_keys(target)
        async with self._locks.hold(keys):
            reads = await self.directory.send_reads(call)
            taken = await self._spend_budgets(target, outbound_member(call), reads)
            try:
                for key in keys:
                    taken.append((key, await self._reserve(key, reads)))
            except BaseException:  # cancelled while waiting for the pair's window, or the store failed: nothing sent
                with contextlib.suppress(Exception):  # a store that failed keeps the counts: too many, never too few
                    await self._give_back(taken)
                raise
            try:
                return await call_next(call)
            except RateLimited as exc:
                await self._give_back(taken)
                await self._pause(keys, exc.retry_after or self.settings.pair_window)
                raise
            except (SafeguardHold, LinqAPIError) as exc:
                if isinstance(exc, SafeguardHold) or exc.status == 403:
                    await self._give_back(taken)  # refused before queueing: nothing was sent
                raise

    async def _give_back(self, taken: list[tuple[str, str]]) -> None:
        for key, member in taken:
            await self.directory.store.release(key, member)

    @staticmethod
    def _pair_keys(target: Target) -> list[str]:
        recipients = target.handles or (target.chat_id or "unknown",)
        return [f"pair:{target.line}:{recipient}" for recipient in recipients]

    def reads(self, target: Target) -> list[str]:
        """Each pair's pause, and the line's reputation for a new conversation (its budget depends on it)."""
        paused = [_paused_key(key) for key in self._pair_keys(target)]
        return [*paused, reputation_key(target.line)] if target.is_new_chat else paused

    async def _spend_budgets(self, target: Target, member: str, reads: Reads) -> list[tuple[str, str]]:
        """Count the message against the line's budgets; returns what this call counted (a repeat counts nothing)."""
        settings, store, now = self.settings, self.directory.store, self.directory.clock.now()
        taken: list[tuple[str, str]] = []
        if settings.daily_budget is not None:
            wait = await store.acquire(budget_key(target.line), member, settings.daily_budget, DAY, now)
            if wait:
                raise DailyBudgetExhausted(
                    f"line {target.line} used its budget of {settings.daily_budget} messages in 24 h",
                    retry_at=_retry_at(now, wait),
                )
            if wait is not None:
                taken.append((budget_key(target.line), member))
        if target.is_new_chat:
            limit = settings.new_chats_per_day
            if await self.directory.line_reputation(target.line, reads) == AT_RISK:
                limit = settings.new_chats_per_day_at_risk
            if limit is not None:
                wait = await store.acquire(f"new_chats:{target.line}", member, limit, DAY, now)
                if wait:
                    await self._give_back(taken)
                    raise NewChatBudgetExhausted(
                        f"line {target.line} opened {limit} new conversations in 24 h", retry_at=_retry_at(now, wait)
                    )
                if wait is not None:
                    taken.append((f"new_chats:{target.line}", member))
        return taken

    async def _reserve(self, key: str, reads: Reads) -> str:
        """Wait until ``key`` has room, then take a slot (the pair lock keeps the order of waiting sends); returns
        the slot's member, for a give-back. After a wait the gates inside read the store afresh."""
        settings, clock, store = self.settings, self.directory.clock, self.directory.store
        window = settings.pair_window + settings.pair_margin
        paused = float(await reads.get(_paused_key(key)) or 0.0)
        if paused > clock.now():
            await clock.sleep(paused - clock.now())
            reads.refresh()
        slot = uuid.uuid4().hex  # None below means a retried acquire found this very slot taken
        while wait := await store.acquire(key, slot, settings.per_pair, window, clock.now()):
            self.directory.bot.metrics.gate("pacing", "delayed")
            log.debug("pacing %s: waiting %.1f s", mask_handle(key.rsplit(":", 1)[-1]), wait)
            await clock.sleep(wait)
            reads.refresh()
        return slot

    async def _pause(self, keys: list[str], seconds: float) -> None:
        """Pause the pairs until Linq's ``Retry-After`` is over; the pause is forgotten then (it lives that long)."""
        until = self.directory.clock.now() + seconds
        for key in keys:
            await self.directory.store.set(_paused_key(key), repr(until), ttl=seconds)
        log.warning("Linq rate-limited a pair; pausing it for %.0f s (other chats continue)", seconds)


def _retry_at(now: float, wait: float) -> float | None:
    """When a refused send could pass; None for a budget of 0, which never lets it through."""
    return None if math.isinf(wait) else now + wait


def _paused_key(pair_key: str) -> str:
    return f"paused:{pair_key}"
