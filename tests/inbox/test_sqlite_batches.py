"""The SQLite inbox commits a loop iteration's accepts together; a redelivery in such a batch is still told apart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from linqbot.inbox import StoredEvent
from linqbot.inbox.sqlite import SQLiteStore


def event(event_id: str, lane: str = "chat-1") -> StoredEvent:
    return StoredEvent(event_id, lane, b'{"id": "%s"}' % event_id.encode())


async def test_a_batch_with_a_known_id_stores_each_new_event_once_and_refuses_the_redeliveries(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    await store.open()
    assert await store.add(event("e0"))
    # Accepted in one loop iteration, so committed in one transaction: a known id, a new one twice.
    outcomes = await asyncio.gather(*(store.add(event(i)) for i in ("e1", "e0", "e2", "e1", "e3")))
    assert outcomes == [True, False, True, False, True]
    await store.close()

    reopened = SQLiteStore(tmp_path / "inbox.db")
    await reopened.open()
    order = []
    while (head := await reopened.head("chat-1")) is not None:
        order.append(head.event_id)
        await reopened.finish(head)
    assert order == ["e0", "e1", "e2", "e3"]
    assert not await reopened.add(event("e2"))
    await reopened.close()


async def test_a_batch_of_new_events_is_stored_in_arrival_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    await store.open()
    ids = [f"e{n}" for n in range(50)]
    assert await asyncio.gather(*(store.add(event(i, f"chat-{n % 2}")) for n, i in enumerate(ids))) == [True] * 50
    await store.close()

    reopened = SQLiteStore(tmp_path / "inbox.db")
    await reopened.open()
    assert await reopened.lanes() == ["chat-0", "chat-1"]
    for lane in ("chat-0", "chat-1"):
        seen = []
        while (head := await reopened.head(lane)) is not None:
            seen.append(head.event_id)
            await reopened.finish(head)
        assert seen == ids[int(lane[-1]) :: 2]
    await reopened.close()
