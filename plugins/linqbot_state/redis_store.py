"""The Redis backend (redis-py's asyncio client): state shared by every replica of a bot.

Read-modify-write is optimistic: WATCH the record, compute, MULTI/EXEC, and recompute if another writer got there
first. Redis' own key expiry is set *relative* to the store's clock (``PEXPIRE``), so it only garbage-collects
records; whether a key is live is always decided by the store's clock, like on every backend.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from linqbot_state.store import Clock, StateStore, StateStoreError, Write

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_PREFIX = "linqbot:state:"


class RedisStore(StateStore):
    """State in Redis under ``prefix + scope`` keys, one JSON string per scope."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = 50,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock=clock)
        try:
            from redis.asyncio import BlockingConnectionPool, Redis
        except ImportError as exc:
            raise StateStoreError("the Redis state backend needs redis-py: pip install 'linqbot[redis]'") from exc
        self.url = url
        self.prefix = prefix
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

    async def _read(self, scope: str) -> str | None:
        text: Any = await self._redis.get(self._key(scope))
        return None if text is None else str(text)

    async def _transact(self, scope: str, change: Callable[[str | None], Write]) -> None:
        from redis.exceptions import WatchError

        key = self._key(scope)
        async with self._turn(key), self._redis.pipeline(transaction=True) as pipe:
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
                    await pipe.execute()
                    return
                except WatchError:
                    continue

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
        await self._redis.delete(self._key(scope))
