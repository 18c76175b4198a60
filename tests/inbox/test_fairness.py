"""With every concurrency slot taken, a busy chat hands its slot to a waiting chat between two of its events."""

from __future__ import annotations

import asyncio
import json

from linqbot.events import Event, parse_event
from linqbot.inbox import Inbox
from tests.conftest import load_fixture, with_event_id


def message(chat: str, text: str) -> Event:
    payload = with_event_id(load_fixture("message.received"), chat_id=chat)
    payload["data"]["parts"] = [{"type": "text", "value": text}]
    return parse_event(json.dumps(payload).encode())


async def test_a_waiting_chat_runs_after_the_busy_chats_current_event_not_after_its_backlog() -> None:
    ran: list[str] = []

    async def process(event: Event) -> None:
        await asyncio.sleep(0)  # a handler that awaits something: the other chat's worker queues for the slot
        ran.append(event.message.text)  # type: ignore[attr-defined]

    inbox = Inbox(process, max_concurrency=1)
    for text in ("a1", "a2", "a3", "a4"):
        assert await inbox.accept(message("chat-a", text))
    assert await inbox.accept(message("chat-b", "b1"))
    assert await inbox.drain(5)
    await inbox.close()
    assert ran == ["a1", "b1", "a2", "a3", "a4"]


async def test_a_chat_alone_runs_its_whole_backlog_in_order() -> None:
    ran: list[str] = []

    async def process(event: Event) -> None:
        await asyncio.sleep(0)
        ran.append(event.message.text)  # type: ignore[attr-defined]

    inbox = Inbox(process, max_concurrency=2)
    texts = [f"m{n}" for n in range(20)]
    for text in texts:
        assert await inbox.accept(message("chat-a", text))
    assert await inbox.drain(5)
    await inbox.close()
    assert ran == texts
