"""Run a bot against the Linq emulator in-process and talk to it as simulated people.

    async with simulate(bot) as sim:
        user = sim.user("+15550100002")
        await user.send("hi")
        reply = await user.expect_reply()
        assert reply.text == "Hello!"

Everything is real: the emulator serves the Linq API over HTTP on 127.0.0.1, the bot's webhook server receives
signed deliveries, and the bot answers through the official SDK. Waiting is on conditions, never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import typing
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from linq import AsyncLinqAPIV3
from linq.types.webhook_event_type import WebhookEventType

from linqbot.bot import Bot
from linqbot.emulator import Emulator

Json = dict[str, Any]
ALL_EVENT_TYPES = list(typing.get_args(WebhookEventType))


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, as the emulator recorded it."""

    raw: Json = field(repr=False)

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    @property
    def chat_id(self) -> str:
        return str(self.raw["chat_id"])

    @property
    def text(self) -> str:
        return str(self.raw.get("text") or "")

    @property
    def parts(self) -> list[Json]:
        return list(self.raw.get("parts") or [])

    @property
    def effect(self) -> Json | None:
        effect = self.raw.get("effect")
        return dict(effect) if effect else None

    @property
    def reply_to(self) -> Json | None:
        reply_to = self.raw.get("reply_to")
        return dict(reply_to) if reply_to else None

    @property
    def media_urls(self) -> list[str]:
        return [str(p.get("url")) for p in self.parts if p.get("type") == "media"]

    @property
    def status(self) -> str:
        """Delivery status now: queued, sent, delivered, read or failed."""
        return str(self.raw["status"])

    @property
    def to(self) -> list[str]:
        return list(self.raw.get("to") or [])


class SimulatedUser:
    """A person with a phone: sends to the bot's line and reads what the bot sends back, in order."""

    def __init__(self, sim: Simulation, handle: str) -> None:
        self.sim = sim
        self.handle = handle
        self._seen = 0
        self.last_chat_id: str | None = None

    def replies(self) -> list[SentMessage]:
        """Every message the bot has sent to this person so far (DMs and groups they are in)."""
        return [m for m in self.sim.sent() if self.handle in m.to]

    async def send(
        self,
        text: str | None = None,
        *,
        parts: list[Json] | None = None,
        group: list[str] | None = None,
        chat_id: str | None = None,
        reply_to: str | None = None,
    ) -> Json:
        """Send a message to the bot (``group``: the other members, for a group chat); returns ids."""
        result = await self.sim.emulator.inbound(
            self.handle,
            text,
            parts=parts,
            group=group,
            chat_id=chat_id,
            reply_to={"message_id": reply_to} if reply_to else None,
        )
        self.last_chat_id = str(result["chat_id"])
        return result

    async def expect_reply(self, timeout: float = 5.0) -> SentMessage:
        """The next message the bot sends to this person (each reply is returned once, in order)."""
        try:
            await self.sim.emulator.wait_for(lambda: len(self.replies()) > self._seen, timeout)
        except TimeoutError:
            raise AssertionError(f"the bot sent nothing more to {self.handle} within {timeout} s") from None
        reply = self.replies()[self._seen]
        self._seen += 1
        return reply

    async def expect_replies(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        return [await self.expect_reply(timeout) for _ in range(count)]

    async def expect_no_reply(self) -> None:
        """Once the bot and the emulator are idle, assert the bot sent this person nothing new."""
        await self.sim.idle()
        extra = self.replies()[self._seen :]
        assert not extra, f"the bot unexpectedly sent {[m.text for m in extra]!r} to {self.handle}"

    async def react(self, message_id: str, reaction: str = "love", *, remove: bool = False) -> Json:
        """Tapback one of the bot's messages."""
        return await self.sim.emulator.react(self.handle, message_id, reaction, "remove" if remove else "add")

    async def typing(self, on: bool = True) -> Json:
        """Start (or stop) typing in the last chat with the bot."""
        return await self.sim.emulator.typing(self.handle, on, chat_id=self.last_chat_id)

    def saw_typing(self) -> bool:
        """Whether the bot showed a typing indicator in a chat with this person at any point."""
        return any(self._bot_typing_change(c) for c in self.sim.changes)

    async def expect_typing(self, timeout: float = 5.0) -> None:
        """Wait until the bot shows a typing indicator to this person."""
        try:
            await self.sim.emulator.wait_for(self.saw_typing, timeout)
        except TimeoutError:
            raise AssertionError(f"the bot never showed typing to {self.handle} within {timeout} s") from None

    def _bot_typing_change(self, change: Json) -> bool:
        if change["type"] != "typing" or not change["data"]["typing"]:
            return False
        if change["data"]["handle"] != self.sim.emulator.line:
            return False
        chats = {c["id"]: c for c in self.sim.emulator.chats()}
        chat = chats.get(change["data"]["chat_id"])
        return chat is not None and self.handle in chat["handles"]

    def read_receipts(self) -> list[str]:
        """Ids of this person's messages the bot has marked read."""
        inbound = self.sim.emulator.messages(handle=self.handle, direction="inbound")
        return [m["id"] for m in inbound if m["status"] == "read"]

    def reactions_from_bot(self) -> list[Json]:
        """Tapbacks the bot put on this person's messages."""
        line = self.sim.emulator.line
        return [
            {"message_id": m["id"], **r}
            for m in self.sim.emulator.messages(handle=self.handle, direction="inbound")
            for r in m["reactions"]
            if r["handle"] == line
        ]


class Simulation:
    """A bot wired to a running emulator; see `simulate`."""

    def __init__(self, bot: Bot, emulator: Emulator) -> None:
        self.bot = bot
        self.emulator = emulator
        self.changes: list[Json] = []
        """Every change the emulator published (messages, statuses, typing, reactions, deliveries)."""
        self._users: dict[str, SimulatedUser] = {}
        self.elapsed = 0.0
        """Seconds `advance` has moved time forward so far."""

    def user(self, handle: str) -> SimulatedUser:
        """The simulated person with this handle (E.164 or email); the same object on every call."""
        if handle not in self._users:
            self._users[handle] = SimulatedUser(self, handle)
        return self._users[handle]

    def sent(self, to: str | None = None) -> list[SentMessage]:
        """Messages the bot sent (to ``to`` only, when given), oldest first."""
        found = [SentMessage(m) for m in self.emulator.messages(direction="outbound")]
        return found if to is None else [m for m in found if to in m.to]

    async def advance(self, seconds: float) -> None:
        """Move time forward: the emulator's clock (rate-limit windows, typing expiry) moves, and scheduled work
        that would have come due by then runs now (``linqbot_advance_time``). Advances add up; a recurring job
        runs at most once per advance."""
        self.elapsed += seconds
        self.emulator.advance_clock(seconds)
        await self.bot.plugins.call("linqbot_advance_time", bot=self.bot, seconds=self.elapsed)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every webhook is delivered, every accepted event handled, and nothing more is under way."""
        async with asyncio.timeout(timeout):
            while True:
                if await self.emulator.settle() | await self._drain_bot():
                    continue
                return

    async def _drain_bot(self) -> bool:
        """Drain the bot's inbox; True when there was anything to wait for."""
        if self.bot.inbox.pending == 0:
            return False
        await self.bot.inbox.drain()
        return True


@contextlib.asynccontextmanager
async def simulate(
    bot: Bot,
    *,
    emulator: Emulator | None = None,
    host: str = "127.0.0.1",
    configure_line: bool = True,
    bot_port: int = 0,
    payload_version: str = "2026-02-03",
    **emulator_options: Any,
) -> AsyncIterator[Simulation]:
    """Start the emulator (unless given a running one) and the bot's webhook server, wired together.

    ``configure_line=False`` leaves ``LINQ_PHONE_NUMBER`` unset, so proactive sends use Linq's automatic line
    selection (``POST /v3/messages``). ``bot_port`` fixes the bot's webhook port (0: any free port).
    ``payload_version="2025-01-01"`` subscribes with Linq's legacy payloads.
    """
    emu = emulator or Emulator(**emulator_options)
    owns_emulator = emulator is None
    if owns_emulator:
        await emu.start(host)
    sdk = AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
    runner: web.AppRunner | None = None
    recorder: asyncio.Task[None] | None = None
    sim = Simulation(bot, emu)
    try:
        subscription = await sdk.webhook_subscriptions.create(
            target_url=f"http://{host}:9/pending-{id(bot)}", subscribed_events=ALL_EVENT_TYPES
        )
        bot.configure(
            api_key=emu.api_key,
            base_url=emu.base_url,
            webhook_secret=subscription.signing_secret,
            phone_number=emu.line if configure_line else None,
        )
        runner = web.AppRunner(bot.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, bot_port)
        await site.start()
        port = runner.addresses[0][1]
        await sdk.webhook_subscriptions.update(
            subscription.id, target_url=f"http://{host}:{port}{bot.webhook_path}?version={payload_version}"
        )
        recorder = asyncio.get_running_loop().create_task(_record(emu, sim.changes.append))
        await asyncio.sleep(0)  # let the recorder subscribe before the test acts
        yield sim
    finally:
        if recorder is not None:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
        if runner is not None:
            await runner.cleanup()
        await sdk.close()
        if owns_emulator:
            await emu.stop()


async def _record(emulator: Emulator, sink: Callable[[Json], None]) -> None:
    async for change in emulator.subscribe():
        sink(change)
