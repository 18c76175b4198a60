"""Replies to a campaign reach the bot's ordinary handlers with ``ctx.campaign`` set.

Outreach on Linq has to be a conversation: when someone a recent campaign messaged writes back, an outer middleware
looks them up in the campaign store and tells the handlers which campaign (and which of that person's fields) the
conversation came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linqbot.dispatch import Context
from linqbot.dispatch.middleware import Next
from linqbot_outreach.store import CampaignStore, resolve_db

RECENT_SECONDS = 14 * 24 * 3600.0
"""How long after a campaign message a reply still counts as part of that campaign."""
RECHECK_SECONDS = 1.0
"""While no campaign database exists, look for one at most this often (a stat per event costs more than the rest of
the middleware); a campaign's first reply comes long after its database was created."""


@dataclass(frozen=True)
class CampaignReply:
    """What ``ctx.campaign`` holds: the campaign this person was messaged by, and their fields from its CSV."""

    id: str
    fields: dict[str, str]
    message_id: str | None
    chat_id: str | None
    sent_at: float | None


def campaign_of(ctx: Context) -> CampaignReply | None:
    """Typed access to ``ctx.campaign``."""
    found = ctx.data.get("campaign")
    return found if isinstance(found, CampaignReply) else None


class CampaignRouting:
    """The outer middleware; reads the store only when it exists (no campaign ever ran → no cost)."""

    def __init__(self, path: str | Path | None = None, recent_seconds: float = RECENT_SECONDS) -> None:
        self._path = path
        self.recent_seconds = recent_seconds
        self._store: CampaignStore | None = None
        self._missing_until = 0.0

    @property
    def path(self) -> Path:
        return resolve_db(self._path)

    def lookup(self, handle: str) -> CampaignReply | None:
        if self._store is None:
            if time.monotonic() < self._missing_until:
                return None
            path = self.path
            if not path.exists():
                self._missing_until = time.monotonic() + RECHECK_SECONDS
                return None
            self._store = CampaignStore(path)
        state = self._store.latest_sent_to(handle, time.time() - self.recent_seconds)
        if state is None:
            return None
        return CampaignReply(state.campaign_id, state.fields, state.message_id, state.chat_id, state.sent_at)

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> Any:
        direct = ctx.message is not None and not ctx.message.is_from_me and not ctx.is_group
        sender = ctx.sender if direct else None
        reply = self.lookup(sender) if sender else None
        ctx.campaign = reply  # type: ignore[attr-defined]
        if reply is not None:
            ctx.data["campaign"] = reply
        return await call_next(ctx)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
