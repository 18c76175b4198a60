"""The shared inbox for scaled-out bots: several processes, one Redis.

Every step is one Lua script, so it is atomic across processes:

* ``add``: ``SET ev:<id> <body> NX PX <retention>`` (the dedup record *is* the stored body) and ``RPUSH`` the id
  onto its lane — a redelivery reaching any process is refused;
* ``claim``: a per-lane lock ``SET lock:<lane> <owner> NX PX <ttl>``, renewed by a heartbeat every ttl/3 while the
  worker runs, so a slow handler never loses its lane and a killed process frees it within ``lock_ttl``;
* ``head`` and ``finish`` are *fenced*: they act only while this process still holds the lane's lock (re-taking it
  if it lapsed and nobody took it). A process that stalled past ``lock_ttl`` (CPU starvation, a GC pause, SIGSTOP)
  and lost its lane to another process therefore cannot mark the other's event done nor start another of the
  lane's events: its worker stops, and only the handler that was running during the stall may have run twice;
* ``finish``: pop the lane's head and shrink the record to a done marker that lives for ``retention``;
* ``release``: drop the lock only when the lane is empty, so an event pushed meanwhile is never stranded.

``lock_ttl`` trades failover time for stall tolerance: a killed process's chats move on after at most ``lock_ttl``
plus a sweep (2 s); a process whose event loop stalls for less than two thirds of ``lock_ttl`` keeps its chats.

All keys share the hash tag in ``prefix`` so the scripts also run on Redis Cluster. Redis must persist (AOF with
``appendfsync always`` or ``everysec``): see docs/durability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from linqbot.inbox.store import DEFAULT_RETENTION, Clock, InboxStore, InboxUnavailable, Leadership, StoredEvent
from linqbot.redis_client import connect, is_transient, masked_key

log = logging.getLogger("linqbot.inbox")

T = TypeVar("T")

DEFAULT_LOCK_TTL = 10.0
DEFAULT_PREFIX = "linqbot:{inbox}:"
_CONFIRM_RETRY = 0.05
"""Seconds before asking Redis again whether this process leads (doubling, up to the renewal interval)."""

_ADD = """
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
local queued, err = pcall(function()
    redis.call('RPUSH', KEYS[2], ARGV[1])
    if not redis.call('ZSCORE', KEYS[3], ARGV[4]) then
        redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[4])
    end
end)
if not queued then
    redis.call('DEL', KEYS[1])
    return redis.error_reply(type(err) == 'table' and err.err or tostring(err))
end
return 1
"""
"""A script's writes before an error stay: should queueing fail (a key of the wrong type), the dedup record goes
again, or Linq's redelivery of the refused event would be taken for a duplicate and the event lost."""

_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return true
"""
"""Fencing, inlined at the top of `_HEAD` and `_FINISH`: renew our lock (or re-take it if it lapsed unclaimed:
then nobody worked the lane meanwhile), or report the lane lost to another process."""

_HEAD = f"""
local function hold() {_HOLD} end
if not hold() then return {{0}} end
while true do
    local id = redis.call('LINDEX', KEYS[2], 0)
    if not id then return {{1}} end
    local body = redis.call('GET', ARGV[3] .. id)
    if body and body ~= '' then return {{1, id, body}} end
    redis.call('LPOP', KEYS[2])
end
"""

_FINISH = f"""
local function hold() {_HOLD} end
if not hold() then return 0 end
if redis.call('LINDEX', KEYS[3], 0) == ARGV[3] then redis.call('LPOP', KEYS[3]) end
redis.call('SET', KEYS[2], '', 'PX', ARGV[5])
if redis.call('LLEN', KEYS[3]) == 0 then redis.call('ZREM', KEYS[4], ARGV[4]) end
return 1
"""

_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RENEW = """
local kept = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('PEXPIRE', key, ARGV[2])
        kept[i] = 1
    else
        kept[i] = 0
    end
end
return kept
"""

_RELEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 1 end
if redis.call('LLEN', KEYS[2]) > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 0
end
redis.call('DEL', KEYS[1])
return 1
"""

_RESIGN = """
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
"""


async def _keep_cancel(call: Awaitable[T]) -> T:
    """Await a Redis call without losing a cancel that arrives meanwhile.

    On Python 3.11, ``asyncio.wait_for`` — which redis-py wraps around every socket write — swallows a cancel that
    lands just as the write completes (CPython gh-86296, fixed in 3.12): the call returns normally and the task runs
    on, so whoever cancelled it and awaits it waits forever (a bot's shutdown hung this way). A cancel requested
    during the call that the call returned through is raised here.
    """
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    result = await call
    if task is not None and task.cancelling() > cancels:
        raise asyncio.CancelledError
    return result


class InboxStoreRefused(InboxUnavailable):
    """Redis refused an inbox command with an error a retry cannot fix (``WRONGTYPE`` on a key another tool wrote, a
    script error, ``OOM``): still answered 503, so Linq keeps the event until someone fixes Redis, but said as such
    rather than as an outage."""


async def _guard(step: str, keys: Sequence[str], call: Awaitable[T]) -> T:
    """Redis errors become `InboxUnavailable`, which the webhook answers with 503; a refusal, `InboxStoreRefused`."""
    try:
        return await _keep_cancel(call)
    except (RedisError, OSError) as exc:
        if is_transient(exc):
            raise InboxUnavailable(f"redis unreachable: {type(exc).__name__}: {exc}") from exc
        target = f" on {', '.join(masked_key(key) for key in keys)}" if keys else ""
        message = f"the inbox's Redis refused {step}{target}: {exc}"
        log.error("%s (%s: a retry cannot fix this)", message, type(exc).__name__)
        raise InboxStoreRefused(message) from exc


class _Heartbeat:
    """Renews a set of owned keys every ``ttl/3``; keys found lapsed or owned by someone else are dropped and
    reported (a fenced step re-adds a lapsed one it could re-take)."""

    def __init__(
        self,
        client: aioredis.Redis,
        owner: str,
        ttl: float,
        on_lapsed: Callable[[str], None],
    ) -> None:
        self.keys: set[str] = set()
        self._renew = client.register_script(_RENEW)
        self._resign = client.register_script(_RESIGN)
        self._owner = owner
        self._ttl_ms = int(ttl * 1000)
        self._interval = ttl / 3
        self._on_lapsed = on_lapsed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._beat())

    async def stop(self) -> None:
        """Stop renewing and hand back every key still held, so other processes need not wait for them to lapse."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.keys:
            with contextlib.suppress(RedisError, OSError):
                await _keep_cancel(self._resign(keys=sorted(self.keys), args=[self._owner]))
            self.keys.clear()

    async def renew_now(self) -> None:
        keys = sorted(self.keys)
        if not keys:
            return
        kept = await _keep_cancel(self._renew(keys=keys, args=[self._owner, self._ttl_ms]))
        for key, still_ours in zip(keys, kept, strict=True):
            if not still_ours and key in self.keys:
                self.keys.discard(key)
                self._on_lapsed(key)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.renew_now()
            except (RedisError, OSError) as exc:
                if is_transient(exc):
                    log.warning("inbox: lease heartbeat failed (%s); retrying", type(exc).__name__)
                else:
                    log.error("inbox: Redis refused the lease heartbeat (%s: %s); retrying", type(exc).__name__, exc)


class RedisLeadership(Leadership):
    """One leader among all processes sharing a Redis: a lease key renewed every ttl/3, re-contested on loss.

    ``is_leader`` also checks the lease against this process's monotonic clock: a process that stalled past the
    lease (measured from when its last renewal was *sent*, so never later than Redis lets it lapse) stops claiming
    leadership at once, before its next campaign tells it whether another process took over meanwhile. The same clock
    lets a leader ride out a Redis restart or failover that spans a renewal: after a restart nobody else can lead
    before its lease ends, so it keeps leading and retries the renewal until then. (A promoted replica may lack the
    lease key, so after a failover another process may lead early; `confirm`, which reads the key from the new
    primary, still refuses this one's calls.)
    """

    def __init__(
        self, client: aioredis.Redis, key: str, *, ttl: float = DEFAULT_LOCK_TTL, clock: Clock = time.monotonic
    ) -> None:
        self._client = client
        self.key = key
        self.owner = uuid.uuid4().hex
        self._ttl = ttl
        self._ttl_ms = int(ttl * 1000)
        self._interval = ttl / 3
        self._clock = clock
        self._claim = client.register_script(_CLAIM)
        self._resign = client.register_script(_RESIGN)
        self._leader = False
        self._lease_ends = 0.0
        self._next_campaign = self._interval
        """Seconds until the next campaign: the renewal interval, or sooner while a failed renewal is retried."""
        self._retry = _CONFIRM_RETRY
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader and self._clock() < self._lease_ends

    async def confirm(self) -> bool:
        """The lease key in Redis still names this process (a laptop sleep can outlast the lease unnoticed by the
        monotonic clock). Redis not answering (a restart, a failover) is asked again while the lease lasts by this
        process's clock, and only then is it a no; a promoted replica without the key is a no at once."""
        pause = _CONFIRM_RETRY
        while self.is_leader:
            try:
                holder = await self._client.get(self.key)
            except (RedisError, OSError) as exc:
                if not is_transient(exc):
                    log.error("leadership %s: Redis refused GET (%s: %s)", self.key, type(exc).__name__, exc)
                    return False
                await asyncio.sleep(min(pause, max(self._lease_ends - self._clock(), 0.0)))
                pause = min(pause * 2, self._interval)
                continue
            return holder is not None and (holder.decode() if isinstance(holder, bytes) else str(holder)) == self.owner
        return False

    async def campaign(self) -> bool:
        """Take or renew the lease once; True while this process leads.

        Redis unreachable during a renewal: the lease still holds by this process's clock, so it keeps leading and
        the next campaign comes sooner (doubling from 50 ms, never later than the lease's end); once the lease may
        have lapsed — or Redis refuses the command outright — it steps down.
        """
        was_leader, sent = self.is_leader, self._clock()
        self._next_campaign = self._interval
        try:
            won = bool(await _keep_cancel(self._claim(keys=[self.key], args=[self.owner, self._ttl_ms])))
        except (RedisError, OSError) as exc:
            won = self._ride_out(exc, was_leader)
        else:
            if won:
                self._lease_ends = sent + self._ttl
            self._retry = _CONFIRM_RETRY
        self._leader = won
        leading = self.is_leader  # a lease ridden out to its last moment may have ended meanwhile
        if leading != was_leader:
            self._changed.set()
            self._changed = asyncio.Event()
            log.info("leadership %s: %s", self.key, "acquired" if leading else "lost")
        return leading

    def _ride_out(self, error: BaseException, was_leader: bool) -> bool:
        """Whether this process still leads after a failed renewal (and when to try again)."""
        left = self._lease_ends - self._clock()
        if was_leader and left > 0 and is_transient(error):
            log.warning(
                "leadership %s: redis unreachable (%s); still leading for %.1f s while the renewal is retried",
                self.key,
                type(error).__name__,
                left,
            )
            self._next_campaign = min(self._retry, self._interval, left)
            self._retry = min(self._retry * 2, self._interval)
            return True
        if is_transient(error):
            log.warning("leadership %s: redis unreachable (%s); not leading", self.key, type(error).__name__)
        else:
            log.error(
                "leadership %s: Redis refused the lease (%s: %s); not leading", self.key, type(error).__name__, error
            )
        return False

    async def wait_until_leader(self) -> None:
        while not self.is_leader:
            await self._changed.wait()

    async def start(self) -> None:
        if self._task is None:
            await self.campaign()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._next_campaign)
            await self.campaign()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._leader:
            with contextlib.suppress(RedisError, OSError):
                await _keep_cancel(self._resign(keys=[self.key], args=[self.owner]))
            self._leader = False


class RedisStore(InboxStore):
    """The inbox shared by every process pointing at the same Redis and ``prefix``."""

    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        retention: float = DEFAULT_RETENTION,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        prefix: str = DEFAULT_PREFIX,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(retention=retention, clock=clock)
        if lock_ttl <= 0:
            raise ValueError("lock_ttl must be positive (seconds a silent process keeps a chat)")
        self.url = url
        self.lock_ttl = lock_ttl
        self.prefix = prefix
        self.owner = uuid.uuid4().hex
        self.client: aioredis.Redis = connect(url)
        self._retention_ms = int(retention * 1000)
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._add = self.client.register_script(_ADD)
        self._head = self.client.register_script(_HEAD)
        self._finish = self.client.register_script(_FINISH)
        self._claim = self.client.register_script(_CLAIM)
        self._release = self.client.register_script(_RELEASE)
        self._heartbeat = _Heartbeat(self.client, self.owner, lock_ttl, self._lapsed)

    def _key(self, kind: str, name: str = "") -> str:
        return f"{self.prefix}{kind}{name}"

    def _lock(self, lane: str) -> str:
        return self._key("lock:", lane)

    @staticmethod
    def _lapsed(key: str) -> None:
        log.warning(
            "inbox: a chat lane's lease lapsed (this process stalled for longer than lock_ttl); it is re-taken if "
            "no other process took it meanwhile"
        )

    def _fenced(self, lock: str, held: bool) -> bool:
        """Track the outcome of a fenced step: a lane lost to another process leaves this one's heartbeat."""
        if held:
            self._heartbeat.keys.add(lock)
        elif lock in self._heartbeat.keys:
            self._heartbeat.keys.discard(lock)
            log.warning(
                "inbox: another process took over a chat lane after this one stalled for longer than lock_ttl; "
                "this process stops working it (the handler that ran during the stall may have run twice)"
            )
        return held

    @property
    def backlog(self) -> int:
        return len(self._heartbeat.keys)

    async def open(self) -> None:
        await _guard("PING", [], self.client.ping())
        self._heartbeat.start()

    async def close(self) -> None:
        await self._heartbeat.stop()
        await self.client.aclose()

    async def add(self, event: StoredEvent) -> bool:
        keys = [
            self._key("ev:", event.event_id),
            self._key("lane:", event.lane),
            self._key("lanes"),
            self._key("seq"),
        ]
        args: list[Any] = [event.event_id, event.body, self._retention_ms, event.lane]
        return bool(await _guard("the add script", keys, self._add(keys=keys, args=args)))

    async def claim(self, lane: str) -> bool:
        lock = self._lock(lane)
        won = bool(
            await _guard("the claim script", [lock], self._claim(keys=[lock], args=[self.owner, self._lock_ttl_ms]))
        )
        if won:
            self._heartbeat.keys.add(lock)
        return won

    async def head(self, lane: str) -> StoredEvent | None:
        """The lane's oldest unfinished event, or None also when another process took the lane over."""
        lock = self._lock(lane)
        keys = [lock, self._key("lane:", lane)]
        head = self._head(keys=keys, args=[self.owner, self._lock_ttl_ms, self._key("ev:")])
        found = await _guard("the head script", keys, head)
        if not self._fenced(lock, bool(found[0])) or len(found) == 1:
            return None
        _, event_id, body = found
        return StoredEvent(event_id.decode(), lane, bytes(body))

    async def finish(self, event: StoredEvent) -> None:
        """Mark the head done, unless the lane passed to another process (which then runs it: at-least-once)."""
        lock = self._lock(event.lane)
        keys = [lock, self._key("ev:", event.event_id), self._key("lane:", event.lane), self._key("lanes")]
        args: list[Any] = [self.owner, self._lock_ttl_ms, event.event_id, event.lane, self._retention_ms]
        self._fenced(lock, bool(await _guard("the finish script", keys, self._finish(keys=keys, args=args))))

    async def release(self, lane: str) -> bool:
        lock = self._lock(lane)
        keys = [lock, self._key("lane:", lane)]
        release = self._release(keys=keys, args=[self.owner, self._lock_ttl_ms])
        released = bool(await _guard("the release script", keys, release))
        if released:
            self._heartbeat.keys.discard(lock)
        return released

    async def lanes(self) -> list[str]:
        lanes = self._key("lanes")
        names = await _guard("ZRANGE", [lanes], self.client.zrange(lanes, 0, -1))
        return [name.decode() if isinstance(name, bytes) else str(name) for name in names]

    def leadership(self, name: str) -> Leadership:
        return RedisLeadership(self.client, self._key("leader:", name), ttl=self.lock_ttl)
