"""The behaviour core shared by the REST API, the admin API and the in-process ``Emulator`` object.

It owns the state and applies Linq's rules around sending and receiving: idempotency, opt-out, blocks,
per-pair rate limits, the outbound delivery lifecycle, chat health, typing, and the change stream.
"""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from linqbot.emulator import render
from linqbot.emulator.clock import Clock, iso, iso_or_none
from linqbot.emulator.config import EmulatorConfig
from linqbot.emulator.content import Content, parse_parts
from linqbot.emulator.errors import ApiError, bad_phone, invalid, missing, rate_limited
from linqbot.emulator.faults import Faults
from linqbot.emulator.persistence import SqliteStore
from linqbot.emulator.rules import SlidingWindow, health_for, is_handle, is_opt_out, normalize_handle
from linqbot.emulator.state import (
    Attachment,
    Chat,
    Health,
    Line,
    Message,
    Participant,
    Person,
    Reaction,
    Service,
    State,
)
from linqbot.emulator.webhooks import WebhookDispatcher

Json = dict[str, Any]
T = TypeVar("T")
REACTION_TYPES = ("love", "like", "dislike", "laugh", "emphasize", "question", "custom", "sticker")


class Engine:
    """One emulated partner account: state + rules + webhooks + a change stream."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.faults = Faults(config.faults.model_copy(deep=True))
        self.store = SqliteStore(config.db_path) if config.db_path else None
        self.state = (self.store.load() if self.store else None) or State.initial(config)
        self.pair_limits = SlidingWindow(config.pair_limit, config.pair_window)
        self.capability_limits = SlidingWindow(config.capability_limit, config.capability_window)
        self.card_writes = SlidingWindow(3, 600.0)  # contact card POST+PATCH budget per line
        self.webhooks = WebhookDispatcher(
            config, self.clock, self.faults, lambda: list(self.state.subscriptions.values()), self._on_attempt
        )
        self.public_url = "http://127.0.0.1"
        self.events: list[Json] = []
        self.seq = 0
        self._changed: asyncio.Event | None = None
        """Set by the next change; only exists while some ``wait_for`` is parked on it."""
        self._subscribers: list[asyncio.Queue[Json]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        self._chats_by_handle: dict[str, dict[str, None]] = {}
        self._indexed_state: State | None = None

    # ---- change stream -------------------------------------------------------------------------------

    def notify(self, kind: str, data: Json | Callable[[], Json], *, persist: bool = True) -> None:
        """Publish one change to subscribers and waiters (and persist the state when it changed).

        ``data`` may be a function building it: a view of a message or chat is only worth rendering when someone
        subscribes to the change stream, and most of the time (tests, benchmarks) nobody does.
        """
        self.seq += 1
        if self._subscribers:
            view = data() if callable(data) else data
            change = {"seq": self.seq, "type": kind, "at": iso(self.clock.now()), "data": view}
            for queue in self._subscribers:
                queue.put_nowait(change)
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        if persist and self.store is not None:
            self.store.save(self.state)

    def subscribe(self) -> asyncio.Queue[Json]:
        queue: asyncio.Queue[Json] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Json]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Return the first truthy ``predicate()`` result, re-checking only when something changed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"emulator condition not met within {timeout} s")
            if self._changed is None:
                self._changed = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def settle(self) -> bool:
        """Wait for message lifecycles and webhook deliveries under way; True when there was anything to wait for."""
        waited = False
        while True:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            elif not await self.webhooks.wait_idle():
                return waited
            waited = True

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def emit(
        self,
        event_type: str,
        data: Json,
        *,
        chat: Chat | None = None,
        line: str | None = None,
        trace_id: str | None = None,
    ) -> str:
        """Emit one webhook event (to every matching subscription) and record it."""
        line = line or (chat.line if chat else None)
        chat_id = chat.id if chat else None
        event_id = self.webhooks.emit(event_type, data, line=line, trace_id=trace_id, chat_id=chat_id)
        record = {"event_id": event_id, "event_type": event_type, "chat_id": chat_id, "data": data}
        self.events.append(record)
        self.notify("webhook.emitted", record, persist=False)
        return event_id

    def _on_attempt(self, entry: Json) -> None:
        self.notify("webhook.delivery", entry, persist=False)

    # ---- lookups -------------------------------------------------------------------------------------

    def get_chat(self, chat_id: str) -> Chat:
        chat = self.state.chats.get(chat_id)
        if chat is None:
            raise ApiError(404, 2001, f"Chat {chat_id} not found")
        return chat

    def get_active_chat(self, chat_id: str) -> Chat:
        """A chat the line can still interact with (409/2013 after leaving)."""
        chat = self.get_chat(chat_id)
        if chat.left:
            raise ApiError(409, 2013, "Chat unavailable: this line left the chat")
        return chat

    def get_message(self, message_id: str) -> Message:
        message = self.state.messages.get(message_id)
        if message is None:
            raise ApiError(404, 2002, f"Message {message_id} not found")
        return message

    def get_line(self, phone_number: object, field: str = "from") -> Line:
        if not isinstance(phone_number, str):
            raise missing(field) if phone_number is None else invalid(f"{field} must be a string")
        if not is_handle(phone_number) or "@" in phone_number:
            raise bad_phone(phone_number)
        line = self.state.line(phone_number)
        if line is None:
            raise ApiError(403, 2006, f"Phone number {phone_number} is not assigned to your account")
        return line

    def attachment(self, attachment_id: str) -> Attachment:
        attachment = self.state.attachments.get(attachment_id)
        if attachment is None:
            raise ApiError(404, 2003, f"Attachment {attachment_id} not found")
        if attachment.status != "complete":
            raise ApiError(404, 2007, "Attachment not ready yet; retry shortly")
        return attachment

    def file_url(self, attachment: Attachment) -> str:
        return f"{self.public_url}/_emulator/files/{attachment.id}/{attachment.filename}"

    def person(self, handle: str) -> Person:
        return self.state.people.get(handle) or Person(handle=handle)

    # ---- chats ---------------------------------------------------------------------------------------

    def service_for(self, line: Line, handles: list[str]) -> Service:
        """iMessage when the line and every recipient can use it, else RCS/SMS."""
        if line.line_type == "iMessage" and all("@" in h or self.person(h).imessage for h in handles):
            return "iMessage"
        return "RCS" if all(self.person(h).rcs for h in handles) else "SMS"

    def find_chat(self, line: str, handles: set[str]) -> Chat | None:
        """The line's first (oldest) reusable chat whose other active participants are exactly ``handles``."""
        candidates = self._chats_with(next(iter(handles))) if handles else list(self.state.chats.values())
        found = [
            chat
            for chat in candidates
            if chat.line == line
            and not chat.left
            and not (chat.is_group and chat.display_name)
            and {p.handle for p in chat.others()} == handles
        ]
        if len(found) > 1:
            return next(chat for chat in self.state.chats.values() if chat in found)
        return found[0] if found else None

    def _chats_with(self, handle: str) -> list[Chat]:
        """Every chat ``handle`` ever joined, from an index rebuilt whenever the state object is replaced."""
        if self._indexed_state is not self.state:
            self._chats_by_handle = {}
            self._indexed_state = self.state
            for chat in self.state.chats.values():
                for participant in chat.participants:
                    self.index_participant(chat, participant.handle)
        chats = self.state.chats
        return [chats[chat_id] for chat_id in self._chats_by_handle.get(handle, ()) if chat_id in chats]

    def index_participant(self, chat: Chat, handle: str) -> None:
        """Record that ``handle`` joined ``chat`` (call for every participant added), so lookups stay O(own chats)."""
        self._chats_by_handle.setdefault(handle, {})[chat.id] = None

    def new_chat(self, line: Line, handles: list[str], trace_id: str | None) -> Chat:
        own_lines = {known.phone_number for known in self.state.lines}
        if own_lines.intersection(handles):
            raise invalid("a chat's other participants cannot include one of your own lines")
        now = self.clock.now()
        service = self.service_for(line, handles)
        me = Participant(handle=line.phone_number, joined_at=now, service=service, is_me=True, line_type=line.line_type)
        others = [Participant(handle=h, joined_at=now, service=service) for h in handles]
        chat = Chat(
            line=line.phone_number,
            participants=[me, *others],
            is_group=len(handles) > 1,
            service=service,
            created_at=now,
            updated_at=now,
            health_updated_at=now,
        )
        self.state.chats[chat.id] = chat
        if self._indexed_state is self.state:
            for participant in chat.participants:
                self.index_participant(chat, participant.handle)
        self.notify("chat.created", lambda: self.chat_view(chat))
        self.emit("chat.created", render.chat_created(chat), chat=chat, trace_id=trace_id)
        return chat

    def set_health(self, chat: Chat, status: Health) -> None:
        if chat.health != status:
            chat.health = status
            chat.health_updated_at = self.clock.now()
            self.notify("chat.health", {"chat_id": chat.id, "health": status})

    def _recompute_health(self, chat: Chat) -> None:
        if chat.health != "OPTED_OUT":
            self.set_health(chat, health_for(chat.unanswered, self.config.at_risk_after, self.config.critical_after))

    # ---- sending -------------------------------------------------------------------------------------

    def idempotent_replay(self, key: str | None) -> Message | None:
        """The original message for a reused idempotency key (404 when it was deleted)."""
        if key is None or key not in self.state.idempotency:
            return None
        message_id = self.state.idempotency[key]
        if message_id is None or message_id not in self.state.messages:
            raise ApiError(404, 2002, "The message for this idempotency key was deleted")
        return self.state.messages[message_id]

    def check_recipients(self, line: Line, handles: list[str], *, is_group: bool, override_optout: bool) -> None:
        """The gates Linq applies before queueing a send: line eligibility, blocklist, opt-out."""
        if line.status == "FLAGGED":
            raise ApiError(403, 2027, f"Line {line.phone_number} is temporarily ineligible to send")
        if is_group:
            if all(h in self.state.blocked for h in handles):
                raise ApiError(403, 2026, "Every recipient is on your blocklist")
            return
        handle = handles[0]
        if handle in self.state.blocked:
            raise ApiError(403, 2026, f"Recipient {handle} is on your blocklist")
        if handle in self.state.opted_out and not override_optout:
            raise ApiError(403, 2024, f"Recipient {handle} has opted out of messages")

    def check_rate(self, line: str, handles: list[str]) -> None:
        """429/1007 from a fault storm or the 30-per-60 s per (line, recipient) limit; records the send."""
        storm = self.faults.take_storm()
        if storm is not None:
            raise rate_limited(storm)
        now = self.clock.now().timestamp()
        for handle in handles:
            retry_after = self.pair_limits.retry_after(f"{line}|{handle}", now)
            if retry_after is not None:
                raise rate_limited(retry_after)
        for handle in handles:
            self.pair_limits.record(f"{line}|{handle}", now)

    def send(self, chat: Chat, content: Content, *, override_optout: bool, trace_id: str | None) -> Message:
        """Queue an outbound message in ``chat`` (caller has handled idempotent replays)."""
        if chat.left:
            raise ApiError(409, 2013, "Chat unavailable: this line left the chat")
        line = self.get_line(chat.line)
        handles = [p.handle for p in chat.others()]
        self.check_recipients(line, handles, is_group=chat.is_group, override_optout=override_optout)
        if content.reply_to is not None:
            self.get_message(content.reply_to["message_id"])
        self.check_rate(chat.line, handles)
        return self.queue_outbound(chat, content, trace_id=trace_id)

    def queue_outbound(self, chat: Chat, content: Content, *, trace_id: str | None) -> Message:
        now = self.clock.now()
        message = Message(
            chat_id=chat.id,
            direction="outbound",
            sender=chat.line,
            parts=content.parts,
            service=chat.service,
            delivery_status="queued",
            created_at=now,
            updated_at=now,
            effect=content.effect,
            reply_to=content.reply_to,
            preferred_service=content.preferred_service,
            idempotency_key=content.idempotency_key,
        )
        self.state.messages[message.id] = message
        if content.idempotency_key is not None:
            self.state.idempotency[content.idempotency_key] = message.id
        line = self.get_line(chat.line)
        line.uses += 1
        chat.updated_at = now
        chat.unanswered += 1
        self._recompute_health(chat)
        if chat.line in chat.typing:
            self.set_typing(chat, chat.line, False, trace_id=trace_id)
        self.notify("message.created", lambda: self.message_view(message))
        self.spawn(self._lifecycle(message.id, trace_id))
        return message

    def _set_status(self, message: Message, status: str, trace_id: str | None) -> None:
        now = self.clock.now()
        message.updated_at = now
        if status == "sent":
            message.delivery_status, message.sent_at = "sent", now
        elif status == "delivered":
            message.delivery_status, message.delivered_at = "delivered", now
        else:
            message.delivery_status, message.read_at = "read", now
        chat = self.state.chats[message.chat_id]
        self.notify("message.status", lambda: self.message_view(message))
        self.emit(f"message.{status}", render.message_event(chat, message), chat=chat, trace_id=trace_id)

    async def _lifecycle(self, message_id: str, trace_id: str | None) -> None:
        """queued -> sent -> delivered -> read (or failed), then scripted auto-replies."""
        config = self.config
        await asyncio.sleep(config.sent_delay)
        message = self.state.messages.get(message_id)
        if message is None:
            return
        self._set_status(message, "sent", trace_id)
        chat = self.state.chats[message.chat_id]
        people = [self.person(p.handle) for p in chat.others()]
        await asyncio.sleep(config.delivered_delay)
        if message_id not in self.state.messages:
            return
        fail_code = next((p.fail_code for p in people if p.fail_code), None)
        if fail_code is None and self.faults.chance(self.faults.config.message_failure_rate):
            fail_code = self.faults.config.message_failure_code
        if fail_code is not None:
            self._fail(chat, message, fail_code, trace_id)
            return
        self._set_status(message, "delivered", trace_id)
        readers = [p for p in people if p.auto_read]
        read_delay = (
            min((p.read_delay if p.read_delay is not None else config.read_delay) for p in readers) if readers else 0
        )
        if read_delay > 0:
            await asyncio.sleep(read_delay)
            if message_id not in self.state.messages:
                return
            self._set_status(message, "read", trace_id)
        for person in people:
            if person.auto_reply:
                await asyncio.sleep(person.reply_delay)
                if not chat.left and chat.member(person.handle) is not None:
                    self.inbound(from_=person.handle, chat_id=chat.id, text=person.auto_reply)

    def _fail(self, chat: Chat, message: Message, code: int, trace_id: str | None) -> None:
        now = self.clock.now()
        message.delivery_status, message.failed_code, message.updated_at = "failed", code, now
        self.notify("message.status", lambda: self.message_view(message))
        data = {
            "code": code,
            "failed_at": iso(now),
            "chat_id": chat.id,
            "message_id": message.id,
            "reason": "Delivery failed",
            "service": message.service,
            "preferred_service": message.preferred_service,
        }
        self.emit("message.failed", data, chat=chat, trace_id=trace_id)

    # ---- simulated people ----------------------------------------------------------------------------

    def _resolve_inbound_chat(
        self, sender: str, line: Line, group: list[str] | None, chat_id: str | None, trace_id: str | None
    ) -> Chat:
        if chat_id is not None:
            chat = self.get_chat(chat_id)
            if chat.member(sender) is None:
                raise invalid(f"{sender} is not a member of chat {chat_id}")
            return chat
        handles = [sender, *(group or [])]
        for handle in handles:
            if not is_handle(handle):
                raise bad_phone(handle)
        members = [h for h in dict.fromkeys(normalize_handle(h) for h in handles) if h != line.phone_number]
        found = self.find_chat(line.phone_number, set(members))
        return found or self.new_chat(line, members, trace_id)

    def _inbound_line(self, to: str | None) -> Line:
        return self.state.lines[0] if to is None else self.get_line(to, "to")

    def inbound(
        self,
        *,
        from_: str,
        to: str | None = None,
        text: str | None = None,
        parts: list[Any] | None = None,
        group: list[str] | None = None,
        chat_id: str | None = None,
        reply_to: Json | None = None,
        trace_id: str | None = None,
    ) -> Json:
        """A simulated person sends a message to one of our lines."""
        if not isinstance(from_, str) or not is_handle(from_):
            raise bad_phone(from_)
        sender = normalize_handle(from_)
        if any(known.phone_number == sender for known in self.state.lines):
            raise invalid(f"{sender} is one of your own lines; a simulated person needs a number of their own")
        line = self._inbound_line(to)
        if sender in self.state.blocked:
            return {"dropped": True, "reason": "blocked", "chat_id": None, "message_id": None, "event_ids": []}
        if parts is None:
            if not isinstance(text, str) or not text:
                raise missing("text")
            parts = [{"type": "text", "value": text}]
        stored_parts = parse_parts(parts, self.attachment, self.file_url)
        first_event = len(self.events)
        chat = self._resolve_inbound_chat(sender, line, group, chat_id, trace_id)
        now = self.clock.now()
        message = Message(
            chat_id=chat.id,
            direction="inbound",
            sender=sender,
            parts=stored_parts,
            service=chat.service,
            delivery_status="received",
            created_at=now,
            updated_at=now,
            sent_at=now,
            reply_to=reply_to,
        )
        self.state.messages[message.id] = message
        chat.updated_at = now
        chat.typing.pop(sender, None)
        self._apply_reply_rules(chat, sender, message.text)
        self.notify("message.created", lambda: self.message_view(message))
        self.emit("message.received", render.message_event(chat, message), chat=chat, trace_id=trace_id)
        return {
            "dropped": False,
            "chat_id": chat.id,
            "message_id": message.id,
            "event_ids": [e["event_id"] for e in self.events[first_event:]],
        }

    def _apply_reply_rules(self, chat: Chat, sender: str, text: str) -> None:
        """Opt-out / opt-in (concepts.md §9) and the engagement health reset."""
        if is_opt_out(text):
            if not chat.is_group:
                if sender not in self.state.opted_out:
                    self.state.opted_out.append(sender)
                self.set_health(chat, "OPTED_OUT")
            return
        chat.unanswered = 0
        if sender in self.state.opted_out:
            self.state.opted_out.remove(sender)
            for other in self.state.chats.values():
                if other.health == "OPTED_OUT" and other.member(sender) is not None:
                    self.set_health(other, "HEALTHY")
        if chat.health != "OPTED_OUT":
            self.set_health(chat, "HEALTHY")

    def inbound_reaction(
        self,
        *,
        from_: str,
        message_id: str,
        reaction_type: str,
        operation: str,
        custom_emoji: str | None = None,
        part_index: int = 0,
        trace_id: str | None = None,
    ) -> Json:
        sender = normalize_handle(from_)
        message = self.get_message(message_id)
        chat = self.get_chat(message.chat_id)
        if chat.member(sender) is None:
            raise invalid(f"{sender} is not a member of the message's chat")
        if sender in self.state.blocked:
            return {"dropped": True, "reason": "blocked", "event_ids": []}
        event_id = self.react(
            chat,
            message,
            sender,
            reaction_type,
            operation,
            custom_emoji=custom_emoji,
            part_index=part_index,
            trace_id=trace_id,
        )
        return {"dropped": False, "chat_id": chat.id, "message_id": message.id, "event_ids": [event_id]}

    def react(
        self,
        chat: Chat,
        message: Message,
        handle: str,
        reaction_type: str,
        operation: str,
        *,
        custom_emoji: str | None = None,
        sticker: Json | None = None,
        part_index: int = 0,
        placement: dict[str, float] | None = None,
        trace_id: str | None = None,
    ) -> str:
        """Add or remove one reaction and emit reaction.added/removed."""
        if reaction_type not in REACTION_TYPES:
            raise invalid(f"unknown reaction type {reaction_type!r}")
        if operation not in ("add", "remove"):
            raise invalid("operation must be add or remove")
        if not 0 <= part_index < max(1, len(message.parts)):
            raise invalid(f"part_index {part_index} is out of range")
        is_me = handle == chat.line
        now = self.clock.now()
        if operation == "add":
            reaction = Reaction(
                handle=handle,
                is_me=is_me,
                type=reaction_type,
                part_index=part_index,
                custom_emoji=custom_emoji,
                sticker=sticker,
                placement=placement,
                created_at=now,
            )
            message.reactions.append(reaction)
            reaction_id = reaction.id
        else:
            match = [
                r
                for r in message.reactions
                if r.handle == handle
                and r.type == reaction_type
                and r.part_index == part_index
                and r.custom_emoji == custom_emoji
            ]
            reaction_id = match[0].id if match else ""
            message.reactions = [r for r in message.reactions if r not in match]
        message.updated_at = now
        data = {
            "is_from_me": is_me,
            "reaction_type": reaction_type,
            "custom_emoji": custom_emoji,
            "sticker": sticker,
            "message_id": message.id,
            "part_index": part_index,
            "chat_id": chat.id,
            "from_handle": render.participant_handle(chat, handle),
            "reacted_at": iso(now),
            "reaction_id": reaction_id or None,
            "service": chat.service,
        }
        self.notify("reaction", {"operation": operation, **data})
        event = "reaction.added" if operation == "add" else "reaction.removed"
        return self.emit(event, data, chat=chat, trace_id=trace_id)

    def inbound_typing(
        self,
        *,
        from_: str,
        typing: bool,
        chat_id: str | None = None,
        to: str | None = None,
        trace_id: str | None = None,
    ) -> Json:
        sender = normalize_handle(from_)
        line = self._inbound_line(to)
        if chat_id is not None:
            chat = self.get_chat(chat_id)
        else:
            found = self.find_chat(line.phone_number, {sender})
            if found is None:
                raise ApiError(404, 2001, f"No chat between {line.phone_number} and {sender}")
            chat = found
        if chat.member(sender) is None:
            raise invalid(f"{sender} is not a member of chat {chat.id}")
        first_event = len(self.events)
        if sender not in self.state.blocked:
            self.set_typing(chat, sender, typing, trace_id=trace_id)
        return {"chat_id": chat.id, "event_ids": [e["event_id"] for e in self.events[first_event:]]}

    def inbound_contact_card(
        self, *, from_: str, first_name: str, last_name: str = "", to: str | None = None, media_url: str | None = None
    ) -> Json:
        if not is_handle(from_):
            raise bad_phone(from_)
        line = self._inbound_line(to)
        if normalize_handle(from_) in self.state.blocked:
            return {"dropped": True, "reason": "blocked", "event_ids": []}
        data = {
            "first_name": first_name,
            "last_name": last_name,
            "sender_handle": from_,
            "owner_handle": line.phone_number,
            "media_url": media_url,
        }
        return {"event_ids": [self.emit("contact_card.received", data, line=line.phone_number)]}

    def set_line_status(
        self, line: Line, *, status: str | None = None, reputation: str | None = None, trace_id: str | None = None
    ) -> Json:
        """Simulate a line status/reputation change; emits ``phone_number.status_updated``."""
        if status not in (None, "ACTIVE", "FLAGGED"):
            raise invalid("status must be ACTIVE or FLAGGED")
        if reputation not in (None, "HEALTHY", "AT_RISK", "CRITICAL"):
            raise invalid("reputation must be HEALTHY, AT_RISK or CRITICAL")
        data: Json = {
            "phone_number": line.phone_number,
            "previous_status": line.status,
            "new_status": status or line.status,
            "previous_reputation": line.reputation,
            "new_reputation": reputation or line.reputation,
            "changed_at": iso(self.clock.now()),
        }
        line.status = data["new_status"]
        line.reputation = data["new_reputation"]
        self.notify("line.updated", data)
        event_id = self.emit("phone_number.status_updated", data, line=line.phone_number, trace_id=trace_id)
        return {**data, "event_id": event_id}

    def vote(
        self, message: Message, handle: str, option_id: str, operation: str, *, trace_id: str | None = None
    ) -> str:
        """Toggle ``handle``'s vote on a poll option; emits poll.vote.added/removed."""
        chat = self.get_chat(message.chat_id)
        if operation not in ("add", "remove"):
            raise invalid("operation must be add or remove")
        option = next((o for o in message.poll or [] if o.option_id == option_id), None)
        if option is None:
            raise ApiError(404, 2002, "Poll option not found")
        now = self.clock.now()
        if operation == "add":
            option.voters[handle] = now
        else:
            option.voters.pop(handle, None)
        message.updated_at = now
        self.notify("poll.updated", {"message_id": message.id, "option_id": option_id, "handle": handle})
        data = {
            "chat": render.chat_stub(chat),
            "direction": "outbound" if handle == chat.line else "inbound",
            "message_id": message.id,
            "option_id": option_id,
            "sender_handle": render.participant_handle(chat, handle),
            "service": chat.service,
        }
        return self.emit(
            f"poll.vote.{'added' if operation == 'add' else 'removed'}", data, chat=chat, trace_id=trace_id
        )

    # ---- typing --------------------------------------------------------------------------------------

    def set_typing(self, chat: Chat, handle: str, on: bool, *, trace_id: str | None) -> None:
        """Show/clear a typing indicator; people's indicators also fire chat.typing_indicator.* webhooks."""
        was_on = handle in chat.typing
        if on:
            chat.typing[handle] = self.clock.now() + timedelta(seconds=self.config.typing_ttl)
            self._timers.append(asyncio.get_running_loop().call_later(self.config.typing_ttl, self.sweep_typing))
        else:
            chat.typing.pop(handle, None)
        if was_on == on and not on:
            return
        self.notify("typing", {"chat_id": chat.id, "handle": handle, "typing": on})
        if handle != chat.line and was_on != on:
            event = "chat.typing_indicator.started" if on else "chat.typing_indicator.stopped"
            data = {"chat_id": chat.id, "actor_handle": render.participant_handle(chat, handle)}
            self.emit(event, data, chat=chat, trace_id=trace_id)

    def sweep_typing(self) -> None:
        """Expire indicators older than the typing TTL (emulator clock)."""
        now = self.clock.now()
        for chat in list(self.state.chats.values()):
            for handle, expires in list(chat.typing.items()):
                if expires <= now:
                    self.set_typing(chat, handle, False, trace_id=None)

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.sweep_typing()
        self.notify(
            "clock", {"now": iso(self.clock.now()), "offset_seconds": self.clock.offset.total_seconds()}, persist=False
        )

    # ---- views for the admin API ---------------------------------------------------------------------

    def message_view(self, m: Message) -> Json:
        chat = self.state.chats[m.chat_id]
        to = [p.handle for p in chat.others()] if m.direction == "outbound" else [chat.line]
        return {
            "id": m.id,
            "chat_id": m.chat_id,
            "direction": m.direction,
            "status": m.delivery_status,
            "from": m.sender,
            "to": to,
            "text": m.text,
            "parts": m.parts,
            "effect": m.effect,
            "reply_to": m.reply_to,
            "idempotency_key": m.idempotency_key,
            "service": m.service,
            "failed_code": m.failed_code,
            "edit_count": m.edit_count,
            "reactions": [
                {
                    "id": r.id,
                    "handle": r.handle,
                    "type": r.type,
                    "part_index": r.part_index,
                    "custom_emoji": r.custom_emoji,
                }
                for r in m.reactions
            ],
            "created_at": iso(m.created_at),
            "sent_at": iso_or_none(m.sent_at),
            "delivered_at": iso_or_none(m.delivered_at),
            "read_at": iso_or_none(m.read_at),
        }

    def chat_view(self, c: Chat) -> Json:
        now = self.clock.now()
        others = [p.handle for p in c.others()]
        return {
            "id": c.id,
            "line": c.line,
            "handles": others,
            "is_group": c.is_group,
            "display_name": c.display_name,
            "service": c.service,
            "health": c.health,
            "unanswered": c.unanswered,
            "opted_out": not c.is_group and any(h in self.state.opted_out for h in others),
            "typing": sorted(h for h, expires in c.typing.items() if expires > now),
            "left": c.left,
            "created_at": iso(c.created_at),
        }

    def messages(
        self, *, chat_id: str | None = None, handle: str | None = None, direction: str | None = None
    ) -> list[Json]:
        views = [self.message_view(m) for m in self.state.messages.values()]
        return [
            v
            for v in views
            if (chat_id is None or v["chat_id"] == chat_id)
            and (direction is None or v["direction"] == direction)
            and (handle is None or handle == v["from"] or handle in v["to"])
        ]

    def chats(self) -> list[Json]:
        return [self.chat_view(c) for c in self.state.chats.values()]

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def _cancel_tasks(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def reset(self) -> None:
        """Back to the startup configuration: empty state, clock offset 0, startup faults."""
        await self._cancel_tasks()
        await self.webhooks.reset()
        self.state = State.initial(self.config)
        self.clock.offset = timedelta()
        self.faults.configure(self.config.faults.model_copy(deep=True))
        self.pair_limits.clear()
        self.capability_limits.clear()
        self.card_writes.clear()
        self.events.clear()
        if self.store is not None:
            self.store.clear()
        self.notify("reset", {})

    async def close(self) -> None:
        await self._cancel_tasks()
        await self.webhooks.close()
        if self.store is not None:
            self.store.close()
