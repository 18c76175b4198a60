"""Webhook delivery: build envelopes (current or legacy payload version), sign with both header sets, retry.

Deliveries to one subscription run concurrently across chats (at most ``webhook_concurrency`` first attempts in
flight), but each chat is a lane whose first attempts go one at a time in emission order (unless the out-of-order
fault says otherwise); events without a chat share one lane. With ``webhook_concurrency=1`` the whole subscription
is a single lane, as a strictly sequential sender would be. Retries run beside the lanes on a compressed
exponential schedule.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
from yarl import URL

from linqbot.emulator.clock import Clock, iso
from linqbot.emulator.config import EmulatorConfig
from linqbot.emulator.errors import new_trace_id
from linqbot.emulator.faults import Faults
from linqbot.emulator.state import Subscription, new_id

Json = dict[str, Any]
CURRENT_VERSION = "2026-02-03"
LEGACY_VERSION = "2025-01-01"
MESSAGE_EVENTS = frozenset({"message.sent", "message.received", "message.delivered", "message.read"})
CURRENT_ONLY_EVENTS = frozenset({"message.edited"})
HOLD_TIMEOUT = 1.0


def _wants(sub: Subscription, event_type: str, line: str | None) -> bool:
    if not sub.is_active or event_type not in sub.subscribed_events:
        return False
    return not sub.phone_numbers or line in sub.phone_numbers


@lru_cache(maxsize=256)
def _target(url: str) -> URL:
    """A target URL parsed once, not on every attempt."""
    return URL(url)


@lru_cache(maxsize=256)
def payload_version(target_url: str) -> str:
    """The payload version pinned by ``?version=`` on the target URL (default: current)."""
    versions = parse_qs(urlparse(target_url).query).get("version", [])
    return LEGACY_VERSION if LEGACY_VERSION in versions else CURRENT_VERSION


def legacy_data(event_type: str, data: Json) -> Json:
    """Our reading of the 2025-01-01 shape: ``is_from_me`` flag, message fields under ``message``,
    sender as a plain string, chat as ``chat_id`` (see docs/emulator.md; unverified upstream)."""
    if event_type not in MESSAGE_EVENTS:
        return data
    message = {k: v for k, v in data.items() if k not in ("chat", "direction", "sender_handle")}
    return {
        "chat_id": data["chat"]["id"],
        "is_from_me": data["direction"] == "outbound",
        "from": data["sender_handle"]["handle"],
        "message": message,
    }


def legacy_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``"{timestamp}.{body}"`` keyed with the full secret string (UTF-8)."""
    signer = _keyed(secret)[1].copy()
    signer.update(f"{timestamp}.".encode())
    signer.update(body)
    return signer.hexdigest()


@lru_cache(maxsize=64)
def _keyed(secret: str) -> tuple[hmac.HMAC, hmac.HMAC]:
    """HMAC-SHA256 keyed for both schemes, once per secret; every signature copies the keyed state.

    Standard Webhooks keys with the base64 bytes after ``whsec_`` (as ``standardwebhooks.Webhook`` decodes them),
    the legacy scheme with the whole secret string.
    """
    standard_key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    return hmac.new(standard_key, digestmod=hashlib.sha256), hmac.new(secret.encode(), digestmod=hashlib.sha256)


def standard_signature(secret: str, event_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``."""
    signer = _keyed(secret)[0].copy()
    signer.update(f"{event_id}.{timestamp}.".encode())
    signer.update(body)
    return "v1," + base64.b64encode(signer.digest()).decode()


def signed_headers(sub: Subscription, event_id: str, event_type: str, body: bytes) -> dict[str, str]:
    """Both header sets Linq sends: Standard Webhooks and the deprecated ``X-Webhook-*`` ones."""
    now = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "linqbot-emulator",
        "webhook-id": event_id,
        "webhook-timestamp": now,
        "webhook-signature": standard_signature(sub.signing_secret, event_id, now, body),
        "X-Webhook-Event": event_type,
        "X-Webhook-Subscription-ID": sub.id,
        "X-Webhook-Timestamp": now,
        "X-Webhook-Signature": legacy_signature(sub.signing_secret, now, body),
    }


@dataclass
class Job:
    sub: Subscription
    event_id: str
    event_type: str
    body: bytes
    chat_id: str | None


class Lane:
    """One chat's first attempts, in emission order (a deque: most lanes live for a single delivery)."""

    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.arrival: asyncio.Future[None] | None = None
        """Resolved by the next job queued while the drain holds one back (out-of-order fault)."""

    def put(self, job: Job) -> None:
        self.jobs.append(job)
        if self.arrival is not None and not self.arrival.done():
            self.arrival.set_result(None)

    async def next_within(self, timeout: float) -> Job | None:
        """The next job, waiting up to ``timeout`` seconds for one to be queued."""
        if not self.jobs:
            self.arrival = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self.arrival
            except TimeoutError:
                return None
            finally:
                self.arrival = None
        return self.jobs.popleft()


class WebhookDispatcher:
    """Fans events out to matching subscriptions and records every attempt in :attr:`log`."""

    def __init__(
        self,
        config: EmulatorConfig,
        clock: Clock,
        faults: Faults,
        subscriptions: Callable[[], Iterable[Subscription]],
        on_attempt: Callable[[Json], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.faults = faults
        self._subscriptions = subscriptions
        self._on_attempt = on_attempt
        self.log: list[Json] = []
        self._lanes: dict[tuple[str, str | None], Lane] = {}
        """(subscription id, chat id) -> the first attempts waiting in that lane; a lane exists while it has work."""
        self._slots: dict[str, asyncio.Semaphore] = {}
        """Per subscription: bounds the first attempts in flight across its lanes."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.in_flight = 0
        """Deliveries queued, being attempted or waiting to retry."""
        self._idle = asyncio.Event()
        self._idle.set()

    def emit(self, event_type: str, data: Json, *, line: str | None, trace_id: str | None, chat_id: str | None) -> str:
        """Queue ``event_type`` for every active subscription that wants it; returns the event id.

        The envelope is only built when some subscription wants the event: most status events (``message.sent``,
        ``message.delivered``) go to nobody.
        """
        event_id = new_id()
        targets = [sub for sub in self._subscriptions() if _wants(sub, event_type, line)]
        if not targets:
            return event_id
        envelope: Json = {
            "api_version": "v3",
            "webhook_version": CURRENT_VERSION,
            "event_type": event_type,
            "event_id": event_id,
            "created_at": iso(self.clock.now()),
            "trace_id": trace_id or new_trace_id(),
            "partner_id": self.config.partner_id,
            "data": data,
        }
        for sub in targets:
            body = envelope
            if payload_version(sub.target_url) == LEGACY_VERSION:
                if event_type in CURRENT_ONLY_EVENTS:
                    continue
                body = {**envelope, "webhook_version": LEGACY_VERSION, "data": legacy_data(event_type, data)}
            self._enqueue(Job(sub, event_id, event_type, json.dumps(body).encode(), chat_id))
        return event_id

    def _begin(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def wait_idle(self) -> bool:
        """Wait until no delivery is queued, in flight or scheduled for retry; True when there was any."""
        busy = self.in_flight > 0
        await self._idle.wait()
        return busy

    def _enqueue(self, job: Job) -> None:
        self._begin()
        key = (job.sub.id, job.chat_id if self.config.webhook_concurrency > 1 else None)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane()
            self._spawn(self._drain(key, lane))
        lane.put(job)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: tuple[str, str | None], lane: Lane) -> None:
        """Deliver a lane's first attempts in order, then retire it (its next event starts a new one)."""
        held: Job | None = None
        try:
            while True:
                if held is None:
                    if not lane.jobs:
                        return
                    job = lane.jobs.popleft()
                else:
                    next_job = await lane.next_within(HOLD_TIMEOUT)
                    if next_job is None:
                        await self._deliver(held)
                        held = None
                        continue
                    job = next_job
                if held is None and self.faults.chance(self.faults.config.webhook_out_of_order_rate):
                    held = job
                    continue
                await self._deliver(job)
                if held is not None:
                    await self._deliver(held)
                    held = None
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _deliver(self, job: Job) -> None:
        slots = self._slots.get(job.sub.id)
        if slots is None:
            slots = self._slots[job.sub.id] = asyncio.Semaphore(self.config.webhook_concurrency)
        async with slots:
            await self._first_attempt(job)
        self._end()

    async def _first_attempt(self, job: Job) -> None:
        delay = self.faults.config.webhook_delay_ms
        if delay:
            await asyncio.sleep(delay / 1000)
        copies = 2 if self.faults.chance(self.faults.config.webhook_duplicate_rate) else 1
        for _ in range(copies):
            if await self._attempt(job, 1):
                self._begin()
                self._spawn(self._retry(job))

    async def _retry(self, job: Job) -> None:
        try:
            for attempt in range(2, self.config.webhook_attempts + 1):
                backoff = self.config.webhook_backoff * 2 ** (attempt - 2)
                await asyncio.sleep(min(backoff, self.config.webhook_backoff_max))
                if not await self._attempt(job, attempt):
                    return
        finally:
            self._end()

    async def _attempt(self, job: Job, attempt: int) -> bool:
        """POST once; returns True when the attempt should be retried (5xx, 429, network error)."""
        headers = signed_headers(job.sub, job.event_id, job.event_type, job.body)
        if job.sub.routing_key_header and job.chat_id:
            headers[job.sub.routing_id_header or "Linq-Chat-Id"] = job.chat_id
        status: int | None = None
        error: str | None = None
        try:
            async with self._client().post(_target(job.sub.target_url), data=job.body, headers=headers) as r:
                status = r.status
                await r.read()
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        retry = status is None or status >= 500 or status == 429
        entry: Json = {
            "event_id": job.event_id,
            "event_type": job.event_type,
            "subscription_id": job.sub.id,
            "url": job.sub.target_url,
            "attempt": attempt,
            "status": status,
            "error": error,
            "will_retry": retry and attempt < self.config.webhook_attempts,
            "at": iso(self.clock.now()),
        }
        self.log.append(entry)
        self._on_attempt(entry)
        return retry

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout),
                cookie_jar=aiohttp.DummyCookieJar(),  # Linq sends no cookies back, whatever a receiver sets
            )
        return self._session

    async def reset(self) -> None:
        """Drop queued and in-flight deliveries (used by reset and shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()
        self._slots.clear()
        self.log.clear()
        self.in_flight = 0
        self._idle.set()

    async def close(self) -> None:
        await self.reset()
        if self._session is not None:
            await self._session.close()
