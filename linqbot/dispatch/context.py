"""The `Context` a handler receives: the event, shortcuts into it, and the actions that answer it.

Every action goes through the bot's `LinqClient`, so it passes the outbound middleware (pacing, health and opt-out
gates) and the retry policy. Sends made while handling an event carry idempotency keys derived from the event id, so
re-running the event after a crash cannot message a person twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from linqbot.dispatch.dispatcher import SkipHandler
from linqbot.events import Event, Message, reported_chat
from linqbot.outbound import LinqAPIError, build_message

if TYPE_CHECKING:
    from linq import AsyncLinqAPIV3

    from linqbot.bot import Bot
    from linqbot.dispatch.router import Handler
    from linqbot.middleware.chats import ChatView

log = logging.getLogger("linqbot.context")

TYPING_REFRESH_SECONDS = 55.0
"""Linq's indicator lasts ~60 s per POST; refresh a little before it lapses."""

Content = str | Sequence[str] | Sequence[dict[str, Any]] | None


class Context:
    """What a handler gets: ``ctx.event``, ``ctx.message``, ``ctx.text`` … and ``await ctx.reply(...)``."""

    def __init__(self, bot: Bot, event: Event) -> None:
        self.bot = bot
        self.event = event
        message: Message | None = getattr(event, "message", None)
        self.message = message
        """The message, for message events (``None`` otherwise)."""
        # ``sender``: who caused the event, the handle (E.164 or email) of the message sender, reactor, typist or
        # participant; ``is_group``: whether the chat is a group. Filters read them and the text for every handler they
        # try, so they are settled once per event.
        if message is not None:
            text = message.text
            self.sender: str | None = message.sender_handle
            self.is_group: bool = message.chat.is_group
        else:
            text = ""
            self.sender = _sender_of(event)
            chat = reported_chat(event)
            self.is_group = chat.is_group if chat is not None else False
        self._text = text
        self.text_folded = text.casefold()
        """``text`` case-folded once per event, for the case-insensitive filters (kept in step when ``text`` is set)."""
        self.match: re.Match[str] | None = None
        """The regex match, when a ``regex=`` filter selected this handler."""
        self.handler: Handler | None = None
        self.data: dict[str, Any] = {}
        """Free space for middleware to pass things to handlers."""
        self.chat: ChatView | None = None
        """The chat as the safeguards see it (``ctx.chat.health``); None for chatless events or safeguards off."""
        self._sends = 0

    def __repr__(self) -> str:
        return f"<Context {self.event.event_type} {self.event.event_id}>"

    # -- shortcuts ---------------------------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The message text ("" when there is none)."""
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        # A middleware that rewrites the text (strips a prefix, translates) must be seen by every text filter after it.
        self._text = value
        self.text_folded = value.casefold()

    @property
    def chat_id(self) -> str | None:
        return self.event.chat_id

    @property
    def api(self) -> AsyncLinqAPIV3:
        """The official SDK's async client, for anything linqbot doesn't wrap (no outbound middleware here)."""
        return self.bot.client.sdk

    def skip(self) -> NoReturn:
        """Pass the event on to the next handler whose filters match."""
        raise SkipHandler()

    # -- answering ---------------------------------------------------------------------------------------------------

    def _require_chat(self) -> str:
        chat_id = self.chat_id
        if chat_id is None:
            raise RuntimeError(f"a {self.event.event_type} event has no chat to answer in")
        return chat_id

    def next_idempotency_key(self) -> str:
        """A key unique to this event and this send: the same on a re-run, different for each send."""
        self._sends += 1
        return f"{self.event.event_id}:{self._sends}"

    def _message_id(self, message_id: str | None) -> str:
        if message_id is not None:
            return message_id
        if self.message is None:
            raise RuntimeError(f"a {self.event.event_type} event has no message; pass message_id=")
        return self.message.id

    async def reply(
        self,
        content: Content = None,
        *,
        media: str | Sequence[str] | None = None,
        link: str | None = None,
        effect: str | dict[str, str] | None = None,
        reply_to: bool | str | None = None,
        service: str | None = None,
        override_optout: bool = False,
    ) -> Any:
        """Answer in this chat.

        ``content`` is a text, a list of texts (sent as separate bubbles, in order, each once the previous one was
        accepted), or a list of part dicts (one message). ``reply_to=True`` threads the answer under the message
        that triggered the handler; a string threads it under that message id.
        """
        chat_id = self._require_chat()
        target = self._message_id(None) if reply_to is True else (reply_to or None)
        if isinstance(content, Sequence) and not isinstance(content, str) and content:
            if all(isinstance(item, str) for item in content):
                return await self._send_bubbles(
                    chat_id,
                    [str(item) for item in content],
                    media,
                    link,
                    effect,
                    target,
                    service,
                    override_optout,
                )
        message = build_message(content, media=media, link=link, effect=effect, reply_to=target, service=service)
        return await self.bot.client.send_message(
            chat_id, message, override_optout=override_optout, idempotency_key=self.next_idempotency_key()
        )

    async def _send_bubbles(
        self,
        chat_id: str,
        bubbles: list[str],
        media: str | Sequence[str] | None,
        link: str | None,
        effect: str | dict[str, str] | None,
        reply_to: str | None,
        service: str | None,
        override_optout: bool,
    ) -> list[Any]:
        sent = []
        last = len(bubbles) - 1
        for index, bubble in enumerate(bubbles):
            message = build_message(
                bubble,
                media=media if index == last else None,
                link=None,
                effect=effect if index == last else None,
                reply_to=reply_to if index == 0 else None,
                service=service,
            )
            sent.append(
                await self.bot.client.send_message(
                    chat_id,
                    message,
                    override_optout=override_optout,
                    idempotency_key=self.next_idempotency_key(),
                    extras={"bubble": (index, last + 1)},
                )
            )
        if link is not None:
            sent.append(await self.reply(link=link, service=service, override_optout=override_optout))
        return sent

    async def react(
        self, reaction: str = "love", *, message_id: str | None = None, custom_emoji: str | None = None
    ) -> Any:
        """Tapback the triggering message (or ``message_id``): love, like, dislike, laugh, emphasize, question."""
        return await self.bot.client.react(self._message_id(message_id), reaction, custom_emoji=custom_emoji)

    async def mark_read(self) -> None:
        """Mark the chat read, so the person sees a read receipt."""
        await self.bot.client.mark_read(self._require_chat())

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """Show the typing indicator while the block runs; refreshed before Linq's ~60 s expiry.

        Typing is best-effort: a failure (e.g. 403 in a group, or SMS) is logged and never breaks the handler.
        """
        chat_id = self._require_chat()
        sends_before = self._sends
        keeper = asyncio.get_running_loop().create_task(self._keep_typing(chat_id))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if self._sends == sends_before:  # a send clears the indicator by itself
                await self._quietly(self.bot.client.typing_stop(chat_id))

    async def _keep_typing(self, chat_id: str) -> None:
        while True:
            await self._quietly(self.bot.client.typing_start(chat_id))
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    @staticmethod
    async def _quietly(call: Any) -> None:
        try:
            await call
        except LinqAPIError as exc:
            log.debug("typing indicator call failed: %s", exc)

    # -- thin wrappers over the rest of Linq's messaging features -------------------------------------------------

    async def send_voice_memo(self, *, url: str | None = None, attachment_id: str | None = None) -> Any:
        """Send an iMessage voice-memo bubble (audio sent as media is just a file)."""
        return await self.bot.client.send_voice_memo(self._require_chat(), url=url, attachment_id=attachment_id)

    async def edit(self, message_id: str, text: str, *, part_index: int = 0) -> Any:
        """Edit one of the bot's own messages (at most 5 times, within 15 minutes of sending)."""
        return await self.bot.client.edit_message(message_id, text, part_index=part_index)

    async def delete(self, message_id: str) -> None:
        """Delete one of the bot's messages from Linq's storage. Linq cannot unsend it from people's devices."""
        await self.bot.client.delete_message(message_id)

    async def share_contact_card(self) -> None:
        """Share the line's contact card (name and photo) in this chat (at most once per 5 minutes)."""
        await self.bot.client.share_contact_card(self._require_chat())

    async def request_location(self) -> Any:
        """Ask the person to share their location (1:1 iMessage chats only)."""
        return await self.bot.client.request_location(self._require_chat())

    async def rename_group(self, name: str) -> Any:
        return await self.bot.client.rename_group(self._require_chat(), name)

    async def add_participant(self, handle: str) -> Any:
        return await self.bot.client.add_participant(self._require_chat(), handle)

    async def remove_participant(self, handle: str) -> Any:
        return await self.bot.client.remove_participant(self._require_chat(), handle)

    async def leave(self) -> Any:
        """Leave this group chat (iMessage groups with at least 4 active participants)."""
        return await self.bot.client.leave_chat(self._require_chat())


def _sender_of(event: Event) -> str | None:
    """The handle behind a non-message event: reactor, editor, typist or participant."""
    for attr in ("reaction", "edit"):
        payload = getattr(event, attr, None)
        handle = getattr(payload, "from_handle", None) or getattr(payload, "sender", None)
        if handle is not None:
            return str(handle.handle)
    actor = getattr(event, "actor", None)
    return str(actor.handle) if actor is not None else None
