"""The Redis backend (redis-py's asyncio client): state shared by every replica of a bot.

Read-modify-write is optimistic: WATCH the record, compute, MULTI/EXEC, and recompute if another writer got there
first. Redis' own key expiry is set *relative* to the store's clock (``PEXPIRE``), so it only garbage-collects
records; whether a key is live is always decided by the store's clock, like on every backend.

Redis unreachable, restarting or failing over: a call waits and retries for up to ``patience`` seconds (default 30),
as linqbot's own Redis users do, so a handler using state during a restart answers late instead of failing; past
that it raises `StateStoreUnavailable`. A connection lost during the EXEC of a write also raises it at once: the write
may have been applied, and an update like a counter must not be applied twice. Redis refusing a command (``WRONGTYPE``
on a key another tool wrote, ``OOM``) raises `StateStoreError` at once, naming the key (handles masked).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from linqbot_state.store import Clock, StateStore, StateStoreError, StateStoreUnavailable, Write

if TYPE_CHECKING:
    from redis.asyncio import Redis

T = TypeVar("T")

log = logging.getLogger("linqbot.state")

DEFAULT_PREFIX = "linqbot:state:"
DEFAULT_PATIENCE = 30.0


class RedisStore(StateStore):
    """State in Redis under ``prefix + scope`` keys, one JSON string per scope."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = 50,
        patience: float = DEFAULT_PATIENCE,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock=clock)
        try:
            from redis.asyncio import BlockingConnectionPool, Redis
        except ImportError as exc:
            raise StateStoreError("the Redis state backend needs redis-py: pip install 'linqbot[redis]'") from exc
        self.url = url
        self.prefix = prefix
        self.patience = patience
        """Seconds a call keeps retrying an unreachable Redis before raising `StateStoreUnavailable`."""
        self._owns_client = client is None
        if client is None:
            # Blocking: a burst of updates waits for a free connection instead of failing with "Too many connections".
            pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, decode_responses=True)
            client = Redis.from_pool(pool)
        self._redis: Redis = client
        self._queues: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = time.time) -> RedisStore:
        """``redis://host:port/db`` (or ``rediss://`` for TLS, ``unix:///path/redis.sock``), as redis-py parses it."""
        return cls(url, clock=clock)

    def _key(self, scope: str) -> str:
        return self.prefix + scope

    async def open(self) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.ping()
        except RedisError as exc:
            raise StateStoreError(f"cannot reach the Redis state store: {exc}") from exc

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()

    async def _call(self, command: str, key: str, call: Callable[[], Awaitable[T]], patience: float | None = None) -> T:
        """Run ``call`` (``command`` on ``key``), riding out an unreachable Redis for up to ``patience`` seconds (the
        store's by default)."""
        from redis.exceptions import RedisError

        from linqbot.redis_client import is_transient, masked_key, redis_said, ride_out

        patience = self.patience if patience is None else patience
        try:
            return await ride_out(call, patience=patience, log=log, who="state")
        except (RedisError, OSError) as exc:
            said = redis_said(exc)
            if not is_transient(exc):
                message = f"the state store's Redis refused {command} on {masked_key(key)}: {said}"
                raise StateStoreError(message) from None
            raise StateStoreUnavailable(
                f"the state store's Redis is unreachable ({type(exc).__name__}: {said}) after {self.patience:g} s"
            ) from None

    async def _read(self, scope: str) -> str | None:
        key = self._key(scope)
        text: Any = await self._call("GET", key, lambda: self._redis.get(key))
        return None if text is None else str(text)

    async def _transact(self, scope: str, change: Callable[[str | None], Write]) -> None:
        key = self._key(scope)
        deadline = time.monotonic() + self.patience  # writers queued behind an outage give up together
        async with self._turn(key):
            left = max(0.0, deadline - time.monotonic())
            await self._call("a write", key, lambda: self._write(key, change), left)

    async def _write(self, key: str, change: Callable[[str | None], Write]) -> None:
        """WATCH, compute, MULTI/EXEC until no other writer got in between.

        A connection lost before the EXEC is raised for `ride_out` to retry (nothing was written); one lost during
        the EXEC raises `StateStoreUnavailable`, not retried: the write may have been applied, and an update like a
        counter must not be applied twice. Redis refusing the EXEC (``READONLY`` from a demoted primary) applied
        nothing either, and is retried like any transient error.
        """
        from redis.exceptions import WatchError

        from linqbot.redis_client import masked_key

        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    current: Any = await pipe.get(key)
                    text, expires_at = change(None if current is None else str(current))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if text is None:
                        pipe.delete(key)
                    elif expires_at is None:
                        pipe.set(key, text)
                    else:
                        pipe.set(key, text, px=max(1, math.ceil((expires_at - self.clock()) * 1000)))
                    try:
                        await pipe.execute()
                    except Exception as exc:
                        lost = _connection_lost(exc)
                        if lost is None:
                            raise
                        raise StateStoreUnavailable(
                            f"the state store's Redis connection broke while writing {masked_key(key)} "
                            f"({type(lost).__name__}): the write may or may not have been applied"
                        ) from None
                    return
                except WatchError as conflict:
                    lost = _connection_lost(conflict)
                    if lost is not None:
                        raise lost from None  # before the EXEC: nothing written, so ride_out may retry
                    continue  # another writer got in first: compute again from what it wrote

    @asynccontextmanager
    async def _turn(self, key: str) -> AsyncIterator[None]:
        """This process's writers of ``key`` take turns (the lock lives only while someone uses it)."""
        entry = self._queues.get(key)
        if entry is None:
            entry = self._queues[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._queues[key]

    async def _drop(self, scope: str) -> None:
        key = self._key(scope)
        await self._call("DEL", key, lambda: self._redis.delete(key))


def _connection_lost(error: BaseException) -> BaseException | None:
    """The connection failure behind ``error``, if any: ``error`` itself, or the one redis-py reports as a
    WatchError raised while handling it (as if another writer had got in first). A real conflict's WatchError is
    raised ``from None``."""
    from redis.exceptions import ConnectionError, TimeoutError, WatchError

    if isinstance(error, WatchError):
        context = None if error.__suppress_context__ else error.__context__
        return context if isinstance(context, ConnectionError | TimeoutError | OSError) else None
    return error if isinstance(error, ConnectionError | TimeoutError | OSError) else None
