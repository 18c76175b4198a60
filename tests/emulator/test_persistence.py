"""``--db``: chats, messages and subscriptions survive an emulator restart."""

from pathlib import Path
from typing import Any

import linq

from linqbot.emulator import Emulator
from tests.emulator.conftest import PERSON

KEYED: Any = {"parts": [{"type": "text", "value": "remember me"}], "idempotency_key": "p-1"}


async def test_state_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite")
    async with Emulator(db_path=db) as first:
        client = linq.AsyncLinqAPIV3(api_key=first.api_key, base_url=first.base_url, max_retries=0)
        created = await client.chats.create(from_=first.line, to=[PERSON], message=KEYED)
        await first.wait_for_message(status="read")
        sub = await client.webhook_subscriptions.create(
            target_url="http://127.0.0.1:9/h", subscribed_events=["message.received"]
        )
        await client.blocked_handles.block(handle="+15557770000")
    async with Emulator(db_path=db) as second:
        client = linq.AsyncLinqAPIV3(api_key=second.api_key, base_url=second.base_url, max_retries=0)
        chat = await client.chats.retrieve(created.chat.id)
        assert chat.handles[1].handle == PERSON
        messages = (await client.chats.messages.list(created.chat.id)).messages
        assert [m.delivery_status for m in messages] == ["read"]
        assert [s.id for s in (await client.webhook_subscriptions.list()).subscriptions] == [sub.id]
        assert (await client.blocked_handles.list()).blocked_handles[0].handle == "+15557770000"
        again = await client.chats.messages.send(created.chat.id, message=KEYED)
        assert again.message.id == created.chat.message.id
        await second.reset()
    async with Emulator(db_path=db) as third:
        assert third.chats() == []
