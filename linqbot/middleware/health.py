"""Chat health and line reputation gates, and Linq's own refusals remembered so they are not repeated.

Linq scores every chat (HEALTHY → AT_RISK → CRITICAL, or OPTED_OUT) and every line; many unhealthy chats get a line
flagged. Its guidance: slow down on AT_RISK chats, pause CRITICAL ones until they recover, stop on OPTED_OUT, and open
no new conversations from a CRITICAL line. The API's 403s are authoritative, so 2026 (blocked), 2008 (sandbox: the
person must write first) and 2027 (line ineligible) are cached and raised locally for a while instead of re-sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from linqbot.config import ConfigError
from linqbot.middleware.chats import (
    AT_RISK,
    CRITICAL,
    OPTED_OUT,
    Directory,
    Target,
    health_key,
    ineligible_key,
    reputation_key,
)
from linqbot.middleware.errors import ChatHealthHold, LineHold
from linqbot.middleware.reads import Reads
from linqbot.outbound import LinqAPIError, OutboundCall
from linqbot.outbound.errors import LineIneligible, OptedOut, RecipientBlocked, RecipientNotAllowed, Unauthorized
from linqbot.outbound.pipeline import Next
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.safeguards.health")


@dataclass(frozen=True)
class Health:
    at_risk_max_unanswered: int = 1
    """Proactive sends to an AT_RISK chat stop once this many in a row went unanswered (replies always pass)."""
    critical: Literal["refuse", "queue"] = "refuse"
    """CRITICAL chat: raise `ChatHealthHold` at once, or wait (``critical_wait`` s) for the chat to recover."""
    critical_wait: float = 300.0
    """Longest a queued send waits for a CRITICAL chat to recover (real seconds; webhooks report recovery)."""
    critical_line_blocks_proactive: bool = True
    """On a CRITICAL line only replies go out; proactive sends and new conversations raise `LineHold`."""
    blocked_ttl: float = 3_600.0
    """How long a 2026 (recipient blocked) answer is trusted before asking Linq again."""
    ineligible_ttl: float = 300.0
    """How long a 2027 (line ineligible) answer is trusted before asking Linq again."""
    not_allowed_ttl: float = 86_400.0
    """How long a 2008 (sandbox: the person must write first) answer is trusted; their next message clears it."""
    check_lines_at_startup: bool = True
    """Read every line's reputation (``GET /v3/phone_numbers``) when the bot starts."""


REJECTED_KEY_RECHECK = 2.0
"""Seconds before asking Linq again when the start-up read is refused with a 401, before the bot stops over it."""


class HealthGate:
    """Outbound middleware ``chat_health``."""

    def __init__(self, settings: Health, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    async def startup(self) -> None:
        """Read every line's reputation (in the background: a slow API must not delay webhooks). A key Linq rejects
        stops the bot (`Bot.fail`: nothing it does could work); any other failure is only logged."""
        if not self.settings.check_lines_at_startup:
            return
        bot = self.directory.bot
        try:
            try:
                lines = await bot.client.list_phone_numbers()
            except Unauthorized:  # asked again before stopping: a hiccup in Linq's auth must not take the bot down
                await asyncio.sleep(REJECTED_KEY_RECHECK)
                lines = await bot.client.list_phone_numbers()
        except Unauthorized as exc:
            bot.fail(ConfigError(f"LINQ_API_KEY was rejected by Linq: {exc}"))
            return
        except LinqAPIError as exc:
            log.warning("could not read line reputation at start-up: %s", exc)
            return
        for line in lines.phone_numbers:
            await self.directory.set_line(line.phone_number, reputation=line.reputation.status)
            if line.reputation.status != "HEALTHY":
                log.warning("line %s reputation is %s", mask_handle(line.phone_number), line.reputation.status)

    async def __call__(self, call: OutboundCall, call_next: Next) -> Any:
        if not call.is_send:
            return await call_next(call)
        target = await self.directory.target(call)
        reads = await self.directory.send_reads(call)
        await self._check_cached_refusals(target, reads)
        await self._check_line(target, reads)
        await self._check_chat(call, target, reads)
        try:
            return await call_next(call)
        except (RecipientBlocked, RecipientNotAllowed, LineIneligible) as exc:
            await self._remember(exc, target)
            raise

    def reads(self, target: Target) -> list[str]:
        """The cached refusals, the chat's health and (for a proactive send) the line's reputation."""
        keys = [ineligible_key(target.line)]
        for handle in target.people:
            keys += [f"blocked:{handle}", f"not_allowed:{handle}"]
        if target.chat_id is not None:
            keys.append(health_key(target.chat_id))
        if self.settings.critical_line_blocks_proactive and not target.is_reply:
            keys.append(reputation_key(target.line))
        return keys

    async def _check_cached_refusals(self, target: Target, reads: Reads) -> None:
        now = self.directory.clock.now()
        if float(await reads.get(ineligible_key(target.line)) or 0) > now:
            raise LineIneligible(f"line {target.line} was ineligible to send (cached 2027)", status=403, code=2027)
        for handle in target.people:
            if float(await reads.get(f"blocked:{handle}") or 0) > now:
                raise RecipientBlocked("recipient is on your blocklist (cached 2026)", status=403, code=2026)
            if await reads.get(f"not_allowed:{handle}"):
                raise RecipientNotAllowed(
                    "sandbox recipient must message the line first (cached 2008)", status=403, code=2008
                )

    async def _remember(self, error: LinqAPIError, target: Target) -> None:
        """Cache Linq's refusal for as long as it is trusted: each is forgotten (its key expires) when it lapses."""
        settings, store, now = self.settings, self.directory.store, self.directory.clock.now()
        if isinstance(error, LineIneligible):
            ttl = settings.ineligible_ttl
            await store.set(ineligible_key(target.line), repr(now + ttl), ttl=ttl)
        for handle in target.people:
            if isinstance(error, RecipientBlocked):
                await store.set(f"blocked:{handle}", repr(now + settings.blocked_ttl), ttl=settings.blocked_ttl)
            elif isinstance(error, RecipientNotAllowed):
                await store.set(f"not_allowed:{handle}", "1", ttl=settings.not_allowed_ttl)

    async def _check_line(self, target: Target, reads: Reads) -> None:
        if not self.settings.critical_line_blocks_proactive or target.is_reply:
            return
        if await self.directory.line_reputation(target.line, reads) == CRITICAL:
            what = "open a new conversation" if target.is_new_chat else "send proactively"
            raise LineHold(f"line {target.line} is CRITICAL: linqbot will not {what} until it recovers")

    async def _check_chat(self, call: OutboundCall, target: Target, reads: Reads) -> None:
        status = await self.directory.health(target.chat_id, reads)
        if status == OPTED_OUT and not target.is_group and not call.override_optout:
            raise OptedOut(f"chat {target.chat_id} is OPTED_OUT", status=403, code=2024)
        if status == CRITICAL:
            status = await self._wait_out_critical(target)
        if status == AT_RISK and not target.is_reply:
            limit = self.settings.at_risk_max_unanswered
            for handle in target.people:
                if await self.directory.unanswered(handle) >= limit:
                    raise ChatHealthHold(
                        f"chat {target.chat_id} is AT_RISK and {limit} message(s) in a row went unanswered"
                    )

    async def _wait_out_critical(self, target: Target) -> str:
        if self.settings.critical == "queue":
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.settings.critical_wait
            while (remaining := deadline - loop.time()) > 0:
                if not await self.directory.wait_health_change(remaining):
                    break
                status = await self.directory.health(target.chat_id)
                if status != CRITICAL:
                    return status
        raise ChatHealthHold(f"chat {target.chat_id} is CRITICAL: paused until it recovers")
