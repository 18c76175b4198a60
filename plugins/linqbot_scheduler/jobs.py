"""Job functions the plugin itself stores, and how a stored job finds its running bot again.

A stored job can only hold importable references and picklable arguments, never the `Bot` object, so built-in jobs
store the bot's name and look the bot up here when they fire.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from linqbot.outbound import LinqAPIError
from linqbot.redact import mask_handle

if TYPE_CHECKING:
    from linqbot.bot import Bot

log = logging.getLogger("linqbot.scheduler")

_running: dict[str, Bot] = {}


class ScheduledSendFailed(Exception):
    """A scheduled message was refused; carries the Linq error class and code but not the recipient."""

    def __init__(self, error: LinqAPIError) -> None:
        self.error_class = type(error).__name__
        self.status = error.status
        self.code = error.code
        super().__init__(f"{self.error_class} (status {error.status}, code {error.code}, trace_id {error.trace_id})")


def register_running(bot: Bot) -> None:
    _running[bot.name] = bot


def unregister_running(bot: Bot) -> None:
    if _running.get(bot.name) is bot:
        del _running[bot.name]


def running_bot(name: str) -> Bot:
    bot = _running.get(name)
    if bot is None:
        raise RuntimeError(f"no running bot named {name!r} for this scheduled job (Bot(name=...) must match)")
    return bot


async def send_scheduled_message(
    bot_name: str,
    job_id: str,
    *,
    to: str | list[str] | None = None,
    chat_id: str | None = None,
    text: str | None = None,
    media: str | list[str] | None = None,
    effect: str | None = None,
) -> str:
    """Send now, through ``bot.send``/``bot.send_to_chat`` so every outbound gate applies at fire time."""
    bot = running_bot(bot_name)
    key = f"scheduled:{job_id}"
    who = f"chat {chat_id}" if chat_id else mask_handle(to if isinstance(to, str) else ",".join(to or []))
    try:
        if chat_id is not None:
            result: Any = await bot.send_to_chat(chat_id, text, media=media, effect=effect, idempotency_key=key)
        else:
            assert to is not None
            result = await bot.send(to, text, media=media, effect=effect, idempotency_key=key)
    except LinqAPIError as error:
        log.warning("scheduled message %s to %s not sent: %s (code %s)", job_id, who, type(error).__name__, error.code)
        raise ScheduledSendFailed(error) from None
    log.info("scheduled message %s sent to %s", job_id, who)
    return _message_id(result)


def _message_id(result: Any) -> str:
    """The sent message's id from either send shape (``chat.message.id`` or ``message.id``)."""
    chat = getattr(result, "chat", None)
    message = getattr(chat, "message", None) or getattr(result, "message", None)
    return str(getattr(message, "id", ""))
