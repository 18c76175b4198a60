"""A chat's next message arriving just as the chat's worker finishes is still handled (regression for 17487cd).

The worker of a chat (lane) stops once the store says the lane is empty and released; asyncio retires it a moment
later, in a done-callback. A message stored in between used to find "a worker" for the chat, get none, and wait for
the chat's next webhook — for a person, a message the bot never answered. The store below lets one ``add`` complete
only once the worker's ``release`` has answered "empty", which puts that message exactly in the gap, every run.
"""

from __future__ import annotations

import asyncio
import json

from linqbot.events import Event, MessageEvent, parse_event
from linqbot.inbox import Inbox, MemoryStore, StoredEvent
from tests.conftest import load_fixture, with_event_id


def message(chat: str, text: str) -> Event:
    payload = with_event_id(load_fixture("message.received"), chat_id=chat)
    payload["data"]["parts"] = [{"type": "text", "value": text}]
    return parse_event(json.dumps(payload).encode())


class AddAfterRelease(MemoryStore):
    """A memory store that, once armed, completes the next ``add`` right after a ``release`` found its lane empty:
    the order a webhook landing as the chat's worker finishes produces with a store answering from another thread."""

    def __init__(self) -> None:
        super().__init__()
        self.add_waiting = asyncio.Event()
        self._released: asyncio.Future[None] | None = None

    def hold_next_add(self) -> None:
        self._released = asyncio.get_running_loop().create_future()

    async def add(self, event: StoredEvent) -> bool:
        if self._released is not None:
            self.add_waiting.set()
            await self._released
        return await super().add(event)

    async def release(self, lane: str) -> bool:
        empty = await super().release(lane)
        if empty and self._released is not None and not self._released.done():
            self._released.set_result(None)  # the add resumes before the finished worker is retired
        return empty


async def test_a_message_stored_as_its_chats_worker_finishes_is_still_handled() -> None:
    handled: list[str] = []
    first_running, first_may_finish = asyncio.Event(), asyncio.Event()

    async def process(event: Event) -> None:
        assert isinstance(event, MessageEvent)
        handled.append(event.message.text)
        if len(handled) == 1:
            first_running.set()
            await first_may_finish.wait()

    store = AddAfterRelease()
    inbox = Inbox(process, store=store)
    try:
        assert await inbox.accept(message("chat-1", "hello?"))
        await first_running.wait()
        store.hold_next_add()
        second = asyncio.create_task(inbox.accept(message("chat-1", "are you there?")))
        await store.add_waiting.wait()
        first_may_finish.set()  # the worker finishes, finds the chat empty and releases it; then the add lands
        assert await asyncio.wait_for(second, 5), "stored"
        assert await inbox.drain(5)
        assert handled == ["hello?", "are you there?"], "not left in the store until the chat's next webhook"
        assert inbox.pending == 0
    finally:
        await inbox.close()
