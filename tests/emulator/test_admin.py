"""The ``/_emulator`` admin API over HTTP, the WebSocket change stream and the in-process change stream."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import linq
import pytest
from aiohttp import ClientSession, WSMsgType

from linqbot.emulator import Emulator
from tests.emulator.conftest import OTHER, PERSON, Receiver

TEXT: Any = {"parts": [{"type": "text", "value": "Hello"}]}


@pytest.fixture
async def admin(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{emu.url}/_emulator") as http:
        yield http


async def test_inbound_messages_reactions_typing(emu: Emulator, admin: httpx.AsyncClient) -> None:
    sent = (await admin.post("/inbound", json={"from": PERSON, "text": "hi"})).json()
    assert sent["chat_id"] and sent["message_id"] and len(sent["event_ids"]) == 2  # chat.created + received
    media = await admin.post(
        "/inbound",
        json={
            "from": PERSON,
            "parts": [{"type": "text", "value": "look"}, {"type": "media", "url": "https://example.com/cat.jpg"}],
        },
    )
    assert media.status_code == 200
    group = (await admin.post("/inbound", json={"from": PERSON, "group": [OTHER], "text": "all"})).json()
    assert group["chat_id"] != sent["chat_id"]
    reply = await admin.post(
        "/inbound", json={"from": PERSON, "text": "re", "reply_to": {"message_id": sent["message_id"]}}
    )
    assert reply.status_code == 200
    reaction = {"message_id": sent["message_id"], "type": "love", "operation": "add"}
    assert (await admin.post("/inbound", json={"from": PERSON, "reaction": reaction})).status_code == 200
    assert (await admin.post("/inbound", json={"from": PERSON, "typing": True})).status_code == 200

    chats = (await admin.get("/chats")).json()["chats"]
    dm = next(c for c in chats if c["id"] == sent["chat_id"])
    assert dm["typing"] == [PERSON] and dm["health"] == "HEALTHY" and dm["opted_out"] is False
    messages = (await admin.get("/messages", params={"chat_id": sent["chat_id"]})).json()["messages"]
    assert [m["text"] for m in messages] == ["hi", "look", "re"]
    assert messages[0]["reactions"][0]["type"] == "love" and messages[0]["direction"] == "inbound"
    assert messages[1]["parts"][1]["filename"] == "cat.jpg"
    from_person = (await admin.get("/messages", params={"handle": PERSON, "direction": "inbound"})).json()
    assert [m["text"] for m in from_person["messages"]] == ["hi", "look", "all", "re"]
    events = (await admin.get("/events", params={"event_type": "reaction.added"})).json()["events"]
    assert len(events) == 1


async def test_inbound_validation(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/inbound", json={"from": "nope", "text": "x"})).json()["error"]["code"] == 1002
    assert (await admin.post("/inbound", json={"from": PERSON})).json()["error"]["code"] == 1001
    assert (await admin.post("/inbound", json={"from": PERSON, "to": "+15559999999", "text": "x"})).status_code == 403


async def test_people_clock_reset_faults_and_webhook_log(
    emu: Emulator, admin: httpx.AsyncClient, client: linq.AsyncLinqAPIV3
) -> None:
    person = await admin.post("/people", json={"handle": PERSON, "auto_reply": "pong", "auto_read": False})
    assert person.json()["auto_reply"] == "pong"
    assert (await admin.get("/people")).json()["people"][0]["handle"] == PERSON
    await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)
    await emu.wait_for_message(direction="inbound", text="pong")

    advanced = (await admin.post("/clock", json={"advance": 120})).json()
    assert advanced["offset_seconds"] == 120
    assert (await admin.post("/clock", json={"advance": -1})).status_code == 400
    assert (await admin.post("/clock", json={"advance": 1e300})).status_code == 400

    faults = {"seed": 3, "rate_limit_storm": 1, "rules": [{"path": "/api/partner/v3/phone_numbers", "error_rate": 1}]}
    assert (await admin.post("/faults", json=faults)).status_code == 200
    assert (await admin.get("/faults")).json()["storm_left"] == 1
    with pytest.raises(linq.InternalServerError):
        await client.phone_numbers.list()
    assert (await admin.post("/faults", json={"rules": [{"error_rate": 7}]})).status_code == 400
    await admin.delete("/faults")
    await client.phone_numbers.list()

    await client.webhook_subscriptions.create(target_url="http://127.0.0.1:9/x", subscribed_events=["message.received"])
    await emu.inbound(PERSON, "log me")
    await emu.wait_for(lambda: emu.webhook_log())
    log = (await admin.get("/webhook-log")).json()["deliveries"]
    assert log[0]["event_type"] == "message.received" and log[0]["attempt"] == 1

    assert (await admin.post("/reset")).json() == {"reset": True}
    assert (await admin.get("/chats")).json()["chats"] == [] and emu.engine.clock.offset.total_seconds() == 0


async def test_line_status_route(emu: Emulator, admin: httpx.AsyncClient) -> None:
    body = (await admin.post("/lines/status", json={"phone_number": emu.line, "status": "FLAGGED"})).json()
    assert body["previous_status"] == "ACTIVE" and body["new_status"] == "FLAGGED" and body["event_id"]
    bad = await admin.post("/lines/status", json={"phone_number": emu.line, "status": "BROKEN"})
    assert bad.status_code == 400


async def test_websocket_streams_changes(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    async with ClientSession() as session, session.ws_connect(f"{emu.url}/_emulator/ws") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)
        await emu.typing(PERSON, True)
        seen: list[str] = []
        while "typing" not in seen or seen.count("message.status") < 3:
            message = await ws.receive(timeout=5)
            assert message.type == WSMsgType.TEXT
            seen.append(message.json()["type"])
        assert {"chat.created", "message.created", "message.status", "typing"} <= set(seen)


async def test_in_process_subscribe_stream(emu: Emulator) -> None:
    stream = emu.subscribe()
    next_change = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await emu.inbound(PERSON, "hello")
    change = await asyncio.wait_for(next_change, 5)
    assert change["type"] == "chat.created"
    await stream.aclose()


async def test_wait_for_times_out(emu: Emulator) -> None:
    with pytest.raises(TimeoutError):
        await emu.wait_for(lambda: False, timeout=0.05)


async def test_settle_waits_for_lifecycles_and_deliveries(
    emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver
) -> None:
    await client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.read"])
    await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)
    assert await emu.settle() is True
    assert [m["status"] for m in emu.messages()] == ["read"] and len(receiver.deliveries) == 1
    assert await emu.settle() is False
