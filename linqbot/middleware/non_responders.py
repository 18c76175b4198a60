"""Non-responders: stop messaging people who do not answer.

Engagement is among the strongest signals Linq scores chats and lines by (its docs aim for about one inbound per two
outbound); messaging a silent person again and again drives the chat to AT_RISK, then CRITICAL, then the line with it.
After ``after`` messages in a row without an answer (replies and proactive sends alike), proactive sends to that
person are held; any message or tapback from them resets the count. Replies to a message they just sent always pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from linqbot.middleware.chats import Directory
from linqbot.middleware.errors import NonResponderHold
from linqbot.outbound import OutboundCall
from linqbot.outbound.pipeline import Next
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.safeguards.non_responders")


@dataclass(frozen=True)
class NonResponders:
    after: int = 3
    """Unanswered messages in a row after which proactive sends to that person are held."""
    mode: Literal["raise", "drop"] = "raise"
    """``raise`` `NonResponderHold`, or ``drop``: log and return None as if sent (for fire-and-forget jobs)."""


class NonResponderGate:
    """Outbound middleware ``non_responders``."""

    def __init__(self, settings: NonResponders, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    async def __call__(self, call: OutboundCall, call_next: Next) -> Any:
        if not call.is_send:
            return await call_next(call)
        target = await self.directory.target(call)
        if not target.is_reply:
            for handle in target.people:
                unanswered = await self.directory.unanswered(handle)
                if unanswered >= self.settings.after:
                    reason = f"{mask_handle(handle)} has not answered the last {unanswered} messages"
                    if self.settings.mode == "drop":
                        log.info("held a proactive send: %s", reason)
                        return None
                    raise NonResponderHold(f"{reason}; waiting for a reply before sending more")
        return await call_next(call)
