"""What the dashboard shows, read on demand: chats with health, opt-out and pacing, the metrics, scheduled jobs
and campaign progress. Handles are masked; nothing here is computed per event."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from datetime import datetime
from typing import TYPE_CHECKING

from linqbot.dashboard.feed import EventFeed, Json
from linqbot.middleware.tracking import DAY, budget_key
from linqbot.redact import mask_handle

if TYPE_CHECKING:
    from linqbot.bot import Bot

RECENT_CHATS = 100


async def chats(bot: Bot, feed: EventFeed) -> list[Json]:
    """The most recently active chats, with health, opt-out and their pacing bucket (sends in the pair window)."""
    safeguards = bot.safeguards
    directory, store, pacing = safeguards.directory, safeguards.store, safeguards.settings.pacing
    now = safeguards.clock.now()
    seen = sorted(feed.chats.values(), key=lambda chat: chat.last_event_at, reverse=True)[:RECENT_CHATS]
    found = []
    for chat in seen:
        cached = directory.cached(chat.chat_id)
        line = (cached.line if cached else None) or chat.line or directory.default_line
        entry: Json = {
            "id": chat.chat_id,
            "who": mask_handle(chat.handle),
            "group": chat.is_group,
            "line": line,
            "events": chat.events,
            "last_event_at": chat.last_event_at,
            "health": await directory.health(chat.chat_id),
            "opted_out": bool(chat.handle) and await safeguards.is_opted_out(chat.handle or ""),
        }
        if pacing is not None and chat.handle and not chat.is_group:
            used = await store.count(f"pair:{line}:{chat.handle}", pacing.pair_window, now)
            entry["pacing"] = {"used": used, "limit": pacing.per_pair, "window": pacing.pair_window}
        found.append(entry)
    return found


async def lines(bot: Bot, chat_rows: list[Json]) -> list[Json]:
    """Each line the chats use: reputation and the rolling-24 h message budget."""
    safeguards = bot.safeguards
    pacing, now = safeguards.settings.pacing, safeguards.clock.now()
    found = []
    for line in sorted({str(row["line"]) for row in chat_rows}):
        entry: Json = {"line": line, "reputation": await safeguards.directory.line_reputation(line)}
        if pacing is not None and pacing.daily_budget is not None:
            entry["budget"] = {
                "used": await safeguards.store.count(budget_key(line), DAY, now),
                "limit": pacing.daily_budget,
            }
        found.append(entry)
    return found


def metrics(bot: Bot) -> Json:
    """Totals from ``bot.metrics`` (all zero while metrics are off)."""
    sample = bot.metrics.sample
    gates: dict[str, float] = {}
    if bot.metrics.enabled:
        for family in bot.metrics.registry.collect():
            for found in family.samples:
                if found.name == "linqbot_gate_decisions_total":
                    gates[f"{found.labels['gate']}: {found.labels['decision']}"] = found.value
    return {
        "enabled": bot.metrics.enabled,
        "pending": bot.inbox.pending,
        "dedup_hits": sample("linqbot_dedup_hits_total"),
        "rate_limited": sample("linqbot_api_rate_limited_total"),
        "gates": gates,
    }


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def jobs(bot: Bot) -> list[Json] | None:
    """The scheduler plugin's jobs; None when the plugin is not loaded."""
    scheduler = getattr(bot, "scheduler", None)
    if scheduler is None:
        return None
    return [
        {"id": job.id, "name": job.name, "trigger": job.trigger, "next_run": _when(job.next_run_time)}
        for job in scheduler.jobs()
    ]


def campaigns() -> list[Json] | None:
    """Progress of the outreach plugin's campaigns (from its SQLite file); None without the plugin or the file."""
    if importlib.util.find_spec("linqbot_outreach") is None:
        return None
    from linqbot_outreach.store import CampaignStore, resolve_db

    path = resolve_db()
    if not path.is_file():
        return None
    store = CampaignStore(path)
    try:
        rows = store.db.execute(
            "SELECT id, created_at, finished_at FROM campaigns ORDER BY created_at DESC LIMIT 20"
        ).fetchall()
        return [
            {"id": row[0], "created_at": row[1], "finished": row[2] is not None, "counts": store.counts(row[0])}
            for row in rows
        ]
    finally:
        store.close()


async def snapshot(bot: Bot, feed: EventFeed) -> Json:
    chat_rows = await chats(bot, feed)
    return {
        "now": time.time(),
        "chats": chat_rows,
        "lines": await lines(bot, chat_rows),
        "metrics": metrics(bot),
        "jobs": jobs(bot),
        "campaigns": await asyncio.to_thread(campaigns),
        "events": list(feed.events),
    }
