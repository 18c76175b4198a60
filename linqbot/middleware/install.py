"""`Safeguards` (the settings) and `install_safeguards`, which adds each safeguard to a bot as named middleware."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linqbot.middleware.chats import Directory
from linqbot.middleware.clock import Clock, SystemClock
from linqbot.middleware.flood import Flood, FloodControl
from linqbot.middleware.health import Health, HealthGate
from linqbot.middleware.loop_breaker import LoopBreaker, LoopGuard
from linqbot.middleware.non_responders import NonResponderGate, NonResponders
from linqbot.middleware.optout import OptOut, OptOutGuard
from linqbot.middleware.pacing import Pacer, Pacing
from linqbot.middleware.store import MemoryStore, SafeguardStore
from linqbot.middleware.tracking import Tracking
from linqbot.middleware.typing import Typing, TypingIndicator

if TYPE_CHECKING:
    from linqbot.bot import Bot
    from linqbot.middleware.redis_store import RedisSafeguardStore


@dataclass(frozen=True)
class Safeguards:
    """Which deliverability safeguards a bot runs, and their limits; ``None`` switches one off.

    ``Bot(safeguards=Safeguards(flood=None))`` keeps all but flood control; ``Safeguards.off()`` runs none.
    Each is also removable after the fact by its middleware name (see docs/deliverability.md).
    """

    pacing: Pacing | None = field(default_factory=Pacing)
    typing: Typing | None = field(default_factory=Typing)
    health: Health | None = field(default_factory=Health)
    opt_out: OptOut | None = field(default_factory=OptOut)
    non_responders: NonResponders | None = field(default_factory=NonResponders)
    flood: Flood | None = field(default_factory=Flood)
    loop_breaker: LoopBreaker | None = field(default_factory=LoopBreaker)
    store: SafeguardStore | None = None
    """Shared counters. When None: Redis when the bot's inbox is on Redis (every process sharing it shares the
    limits), else an in-memory store (this process only)."""
    clock: Clock | None = None
    """Wall-clock time when None; tests pass a `ManualClock`. A `MemoryStore` passed as ``store`` runs on it too
    (one built with another clock is refused); a Redis store's key lifetimes always run on Redis' own time."""
    redis_patience: float = 30.0
    """With the Redis store: how long a safeguard check waits for an unreachable Redis (a restart, a failover)
    before the send is held with `SafeguardStoreUnavailable`."""

    @classmethod
    def off(cls) -> Safeguards:
        return cls(None, None, None, None, None, None, None)


class SafeguardRuntime:
    """The installed safeguards of one bot (``bot.safeguards``): the shared state and the opt-out list."""

    def __init__(self, bot: Bot, settings: Safeguards) -> None:
        self.bot = bot
        self.settings = settings
        self.clock: Clock = settings.clock if settings.clock is not None else SystemClock()
        self.store: SafeguardStore = settings.store if settings.store is not None else MemoryStore(self.clock)
        if isinstance(self.store, MemoryStore):
            self.store.use_clock(self.clock)
        self.directory = Directory(bot, self.store, self.clock)
        self.health = HealthGate(settings.health, self.directory) if settings.health else None
        self.opt_out = OptOutGuard(settings.opt_out or OptOut(), self.directory)
        self._startup_task: asyncio.Task[None] | None = None
        self._redis_store: RedisSafeguardStore | None = None

    def _share_redis_with_inbox(self) -> None:
        """No ``store=`` given and the inbox is on Redis: keep the counters there too, beside the inbox's keys.

        The inbox store is chosen at start-up (``LINQBOT_INBOX_URL``), hence this runs then, not in ``__init__``.
        """
        inbox_store = self.bot.inbox.store
        redis_inbox = sys.modules.get("linqbot.inbox.redis_store")  # a RedisStore exists only once this is imported
        if self.settings.store is not None or redis_inbox is None:
            return
        if not isinstance(inbox_store, redis_inbox.RedisStore):
            return
        prefix = f"{inbox_store.prefix}safeguards:"
        shared = self._redis_store
        if shared is None or (shared.url, shared.prefix) != (inbox_store.url, prefix):
            from linqbot.middleware.redis_store import RedisSafeguardStore

            shared = self._redis_store = RedisSafeguardStore(
                inbox_store.url, prefix=prefix, patience=self.settings.redis_patience
            )
        self.store = self.directory.store = shared

    async def startup(self) -> None:
        """Pick the shared store; read line reputation in the background (a slow API must not delay webhooks)."""
        self._share_redis_with_inbox()
        if self.health is not None and self._startup_task is None:
            self._startup_task = asyncio.get_running_loop().create_task(self.health.startup())

    async def started(self) -> None:
        """Wait until the start-up reads (line reputation) are done."""
        if self._startup_task is not None:
            await asyncio.shield(self._startup_task)

    async def shutdown(self) -> None:
        task, self._startup_task = self._startup_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._redis_store is not None:
            await self._redis_store.aclose()

    async def is_opted_out(self, handle: str) -> bool:
        """Whether ``handle`` sent an opt-out keyword (or Linq answered 2024) and has not written since."""
        return await self.opt_out.is_opted_out(handle)


def install_safeguards(bot: Bot, settings: Safeguards) -> SafeguardRuntime:
    """Add the enabled safeguards to ``bot`` in their working order (outermost first)."""
    runtime = SafeguardRuntime(bot, settings)
    directory = runtime.directory
    loops = settings.loop_breaker
    tracking = Tracking(directory, sent_at_ttl=loops.remember if loops is not None else None)
    bot.outer_middleware.add(tracking.inbound, name="safeguard_tracking")
    if settings.opt_out is not None:
        bot.outer_middleware.add(runtime.opt_out.inbound, name="opt_out")
        directory.event_keys.append(runtime.opt_out.event_reads)
    if settings.flood is not None:
        bot.outer_middleware.add(FloodControl(settings.flood, directory), name="flood_control")
    if loops is not None:
        bot.outer_middleware.add(LoopGuard(loops, directory), name="loop_breaker")
        directory.event_keys.append(LoopGuard.event_reads)
    if settings.pacing is not None:
        pacer = Pacer(settings.pacing, directory)
        bot.outbound_middleware.add(pacer, name="pacing")
        directory.send_keys.append(pacer.reads)
    if settings.opt_out is not None:
        bot.outbound_middleware.add(runtime.opt_out.outbound, name="opt_out")
        directory.send_keys.append(runtime.opt_out.send_reads)
    if runtime.health is not None:
        bot.outbound_middleware.add(runtime.health, name="chat_health")
        directory.send_keys.append(runtime.health.reads)
    if settings.non_responders is not None:
        bot.outbound_middleware.add(NonResponderGate(settings.non_responders, directory), name="non_responders")
    if settings.typing is not None:
        indicator = TypingIndicator(settings.typing, directory)
        bot.middleware.add(indicator.around_handler, name="typing")
        bot.outbound_middleware.add(indicator.around_send, name="typing")
    bot.outbound_middleware.add(tracking.outbound, name="safeguard_tracking")
    return runtime
