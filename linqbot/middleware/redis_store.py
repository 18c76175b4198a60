"""`RedisSafeguardStore`: the safeguards' counters in Redis, so pacing, budgets and opt-outs hold across processes.

A bot whose inbox is on Redis uses it by default (see `install_safeguards`): three processes behind a load balancer
then share one 30-per-60 s window per (line, recipient) instead of granting 30 each.

* Sliding windows are sorted sets (score = the hit's timestamp, member = what the hit counts: a message id, an
  idempotency key), so a repeat of the same member adds nothing. ``acquire`` and ``hit`` prune, check and count in
  one Lua script, so two processes can never both take the last slot nor both count one message. A window key
  expires one window after its last hit (the store assumes the safeguards' clock is wall time, as `SystemClock` is).
* Values (opt-outs, health, pauses) are plain strings that never expire unless set with a ``ttl``, as in
  `MemoryStore`; ``get_many`` reads several in one MGET, ``delete`` drops values and windows in one DEL.

Redis unreachable (or restarting, or failing over: ``READONLY`` from a demoted primary): a call retries with
backoff for up to ``patience`` seconds (default 30: a Redis restart or failover takes a few), so a reply made during
a restart waits and then goes out instead of being lost. Past that, it raises `SafeguardStoreUnavailable`, a
`SafeguardHold`: a send fails closed — nothing goes out unpaced — and the handler (or scheduled job) sees an error
that says why. Redis refusing the command itself (``WRONGTYPE`` on a key another tool wrote, a script error, ``OOM``)
is no outage a retry rides out: it raises `SafeguardStoreRefused` at once, naming the command, the key and Redis'
message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from linqbot.middleware.errors import SafeguardHold
from linqbot.middleware.store import SafeguardStoreUnavailable
from linqbot.redis_client import connect, is_transient, masked_key, redis_said, ride_out

T = TypeVar("T")

log = logging.getLogger("linqbot.safeguards.redis")

DEFAULT_PREFIX = "linqbot:{safeguards}:"

_ACQUIRE = """
local key, limit, window, now, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZSCORE', key, member) then
    return 'counted'
end
local hits = redis.call('ZCARD', key)
if hits >= limit then
    if limit <= 0 then
        return 'inf'
    end
    local oldest = redis.call('ZRANGE', key, hits - limit, hits - limit, 'WITHSCORES')
    return tostring(math.max(tonumber(oldest[2]) + window - now, 0.001))
end
redis.call('ZADD', key, ARGV[3], member)
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return '0'
"""
_COUNTED = "counted"
"""What ``_ACQUIRE`` answers for a member already in the window."""

_HIT = """
local key, window, now = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZADD', key, 'NX', ARGV[2], ARGV[3]) == 1 then
    redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return redis.call('ZCARD', key)
"""

_INCR = """
local count = redis.call('INCR', KEYS[1])
if ARGV[1] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


DEFAULT_PATIENCE = 30.0


class SafeguardStoreRefused(SafeguardHold):
    """Redis answered a safeguard's command with an error a retry cannot fix (a key of the wrong type, a script
    error, out of memory): the send is held at once — nothing was sent — instead of after ``patience`` seconds of
    retries and an error blaming the network."""


class RedisSafeguardStore:
    """A `SafeguardStore` shared by every process pointing at the same Redis and ``prefix``."""

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = DEFAULT_PREFIX, patience: float = DEFAULT_PATIENCE
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.patience = patience
        """Seconds a call keeps retrying an unreachable Redis before raising `SafeguardStoreUnavailable`."""
        self.client: aioredis.Redis = connect(url, decode_responses=True)
        self._acquire = self.client.register_script(_ACQUIRE)
        self._hit = self.client.register_script(_HIT)
        self._incr = self.client.register_script(_INCR)

    async def _guard(self, command: str, key: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` (``command`` on ``key``), retrying while Redis is unreachable for up to ``patience`` seconds.

        A retried call reuses its arguments, so a window hit that landed before the connection dropped is the same
        sorted-set member on the retry and is not counted twice (``acquire`` then answers None: already counted).
        """
        try:
            return await ride_out(call, patience=self.patience, log=log, who="safeguards")
        except (RedisError, OSError) as exc:
            said = redis_said(exc)
            if not is_transient(exc):
                message = f"the safeguards' Redis refused {command} on {masked_key(key)}: {said}; nothing was sent"
                log.error("%s (%s: a retry cannot fix this)", message, type(exc).__name__)
                raise SafeguardStoreRefused(message) from None
            raise SafeguardStoreUnavailable(
                f"the safeguards' Redis is unreachable ({type(exc).__name__}: {said}); nothing was sent"
            ) from None

    def _window(self, key: str) -> str:
        return f"{self.prefix}w:{key}"

    def _value(self, key: str) -> str:
        return f"{self.prefix}v:{key}"

    async def aclose(self) -> None:
        await self.client.aclose()

    async def acquire(self, key: str, member: str, limit: int, window: float, now: float) -> float | None:
        name = self._window(key)
        args: list[Any] = [limit, repr(window), repr(now), member]
        answer = await self._guard("the acquire script", name, lambda: self._acquire(keys=[name], args=args))
        return None if answer == _COUNTED else float(answer)

    async def release(self, key: str, member: str) -> None:
        name = self._window(key)
        await self._guard("ZREM", name, lambda: self.client.zrem(name, member))

    async def hit(self, key: str, member: str, window: float, now: float) -> int:
        name = self._window(key)
        args: list[Any] = [repr(window), repr(now), member]
        return int(await self._guard("the hit script", name, lambda: self._hit(keys=[name], args=args)))

    async def count(self, key: str, window: float, now: float) -> int:
        name = self._window(key)
        return int(await self._guard("ZCOUNT", name, lambda: self.client.zcount(name, f"({now - window!r}", "+inf")))

    async def get(self, key: str) -> str | None:
        name = self._value(key)
        value = await self._guard("GET", name, lambda: self.client.get(name))
        return None if value is None else str(value)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        names = [self._value(key) for key in keys]
        values = await self._guard("MGET", " ".join(names), lambda: self.client.mget(names))
        return [None if value is None else str(value) for value in values]

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        name = self._value(key)
        await self._guard("SET", name, lambda: self.client.set(name, value, px=_milliseconds(ttl)))

    async def delete(self, *keys: str) -> None:
        names = [name for key in keys for name in (self._value(key), self._window(key))]
        await self._guard("DEL", " ".join(names), lambda: self.client.delete(*names))

    async def incr(self, key: str, ttl: float | None = None) -> int:
        name, expiry = self._value(key), _milliseconds(ttl)
        args = ["" if expiry is None else expiry]
        return int(await self._guard("the incr script", name, lambda: self._incr(keys=[name], args=args)))


def _milliseconds(ttl: float | None) -> int | None:
    return None if ttl is None else max(round(ttl * 1000), 1)
