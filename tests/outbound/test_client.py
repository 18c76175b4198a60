"""What LinqClient puts on the wire, and what outbound middleware sees and can change."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from linqbot.outbound import LinqClient, OptedOut, OutboundCall, build_message

from .conftest import CHAT_ID, LINE, MESSAGE_ID, FakeLinq, error_body

HELLO = build_message("hello")
Next = Callable[[OutboundCall], Awaitable[Any]]


async def test_sends_carry_idempotency_keys(client: LinqClient, linq_server: FakeLinq) -> None:
    await client.send_message(CHAT_ID, HELLO)
    await client.send_message(CHAT_ID, HELLO, idempotency_key="evt_1:0")
    await client.create_chat(["+15551234567"], HELLO, idempotency_key="evt_2:0")
    await client.send_auto(["+15551234567"], HELLO, idempotency_key="evt_3:0")
    await client.send_message(CHAT_ID, {**HELLO, "idempotency_key": "in-message"})

    first, second, chat, auto, own = (hit.json for hit in linq_server.hits)
    assert own["message"]["idempotency_key"] == "in-message"
    assert re.fullmatch(r"[0-9a-f]{32}", first["message"]["idempotency_key"])
    assert second["message"]["idempotency_key"] == "evt_1:0"
    assert chat["message"]["idempotency_key"] == "evt_2:0"
    assert auto["message"]["idempotency_key"] == "evt_3:0"
    assert linq_server.hits[3].headers["Idempotency-Key"] == "evt_3:0"
    assert HELLO == {"parts": [{"type": "text", "value": "hello"}]}  # the caller's dict is not mutated


async def test_create_chat_uses_default_line(client: LinqClient, linq_server: FakeLinq) -> None:
    created = await client.create_chat("+15551234567", HELLO, override_optout=True)

    body = linq_server.hits[0].json
    assert body["from"] == LINE
    assert body["to"] == ["+15551234567"]
    assert body["override_optout"] is True
    assert created.chat.id == CHAT_ID


async def test_answers_parse_to_typed_models_and_unexpected_ones_still_parse(
    client: LinqClient, linq_server: FakeLinq
) -> None:
    path = f"/v3/chats/{CHAT_ID}/messages"
    message = {"id": MESSAGE_ID, "created_at": "2026-05-14T16:02:11Z", "is_read": False, "parts": []}
    linq_server.script(
        "POST",
        path,
        (200, {"chat_id": CHAT_ID, "message": {**message, "delivery_status": "queued"}}),
        (200, {"chat_id": CHAT_ID, "message": {**message, "delivery_status": "beamed", "is_read": None}}),
    )

    expected = await client.send_message(CHAT_ID, HELLO)
    unexpected = await client.send_message(CHAT_ID, HELLO)

    assert expected.message.created_at == datetime(2026, 5, 14, 16, 2, 11, tzinfo=UTC)
    assert expected.message.delivery_status == "queued"
    assert unexpected.message.id == MESSAGE_ID  # a status the SDK does not know yet reaches the bot as sent
    assert str(unexpected.message.delivery_status) == "beamed"


async def test_create_group_then_rename(client: LinqClient, linq_server: FakeLinq) -> None:
    await client.create_group(["+15551234567", "+15557654321"], HELLO, name="Book club")

    create, rename = linq_server.hits
    assert (create.method, create.path) == ("POST", "/v3/chats")
    assert (rename.method, rename.path) == ("PUT", f"/v3/chats/{CHAT_ID}")
    assert rename.json == {"display_name": "Book club"}


async def test_interaction_calls(client: LinqClient, linq_server: FakeLinq) -> None:
    await client.react(MESSAGE_ID, "custom", custom_emoji="🎉")
    await client.typing_start(CHAT_ID)
    await client.typing_stop(CHAT_ID)
    chat = await client.get_chat(CHAT_ID)
    check = await client.check_imessage("+15551234567")

    react, start, stop, get, capability = linq_server.hits
    assert react.json == {"operation": "add", "type": "custom", "custom_emoji": "🎉"}
    assert (start.method, start.path) == ("POST", f"/v3/chats/{CHAT_ID}/typing")
    assert (stop.method, stop.path) == ("DELETE", f"/v3/chats/{CHAT_ID}/typing")
    assert get.method == "GET" and chat.id == CHAT_ID
    assert capability.json == {"address": "+15551234567", "from": LINE} and check.available


async def test_upload_attachment_presigned_flow(client: LinqClient, linq_server: FakeLinq) -> None:
    linq_server.bodies[("POST", "/v3/attachments")] = {
        "attachment_id": "a1b2c3d4-0000-4000-8000-000000000001",
        "upload_url": f"{linq_server.base_url}/upload/abc",
        "download_url": "https://cdn.example.com/abc",
        "http_method": "PUT",
        "required_headers": {"Content-Type": "image/png", "x-amz-meta-id": "abc"},
        "expires_at": "2026-05-14T16:17:11Z",
    }
    linq_server.script("PUT", "/upload/abc", (500, {"error": "slow"}))  # S3 hiccup: retried

    attachment_id = await client.upload_attachment(b"\x89PNG data", "cat.png", "image/png")

    assert attachment_id == "a1b2c3d4-0000-4000-8000-000000000001"
    create, *puts = linq_server.hits
    assert create.json == {"filename": "cat.png", "content_type": "image/png", "size_bytes": 9}
    assert len(puts) == 2
    assert puts[-1].body == b"\x89PNG data"
    assert puts[-1].headers["x-amz-meta-id"] == "abc"
    assert "Authorization" not in puts[-1].headers


async def test_middleware_sees_every_call(client: LinqClient, linq_server: FakeLinq) -> None:
    seen: list[tuple[str, str | None, bool]] = []

    async def record(call: OutboundCall, call_next: Next) -> Any:
        seen.append((call.op, call.chat_id, call.is_send))
        return await call_next(call)

    client.middleware.add(record)
    await client.send_message(CHAT_ID, HELLO)
    await client.typing_start(CHAT_ID)
    await client.react(MESSAGE_ID, "love")
    await client.send_auto(["+15551234567"], HELLO)

    assert seen == [
        ("send_message", CHAT_ID, True),
        ("typing_start", CHAT_ID, False),
        ("react", None, False),
        ("send_auto", None, True),
    ]


async def test_middleware_can_short_circuit(client: LinqClient, linq_server: FakeLinq) -> None:
    async def block_sends(call: OutboundCall, call_next: Next) -> Any:
        if call.is_send:
            raise OptedOut("blocked locally", code=2024)
        return await call_next(call)

    client.middleware.add(block_sends, name="optout")
    try:
        await client.send_message(CHAT_ID, HELLO)
    except OptedOut:
        pass
    await client.typing_start(CHAT_ID)

    assert [hit.path for hit in linq_server.hits] == [f"/v3/chats/{CHAT_ID}/typing"]

    client.middleware.remove("optout")
    await client.send_message(CHAT_ID, HELLO)
    assert len(linq_server.hits) == 2


async def test_middleware_can_modify_and_key_survives(client: LinqClient, linq_server: FakeLinq) -> None:
    async def sign(call: OutboundCall, call_next: Next) -> Any:
        if call.op == "send_message":
            call.params["message"] = build_message("hello\n— the bot")
            call.extras["signed"] = True
        return await call_next(call)

    client.middleware.add(sign)
    await client.send_message(CHAT_ID, HELLO, idempotency_key="evt_9:0")

    message = linq_server.hits[0].json["message"]
    assert message == {"parts": [{"type": "text", "value": "hello\n— the bot"}], "idempotency_key": "evt_9:0"}


async def test_middleware_sees_typed_errors(client: LinqClient, linq_server: FakeLinq) -> None:
    linq_server.script("POST", f"/v3/chats/{CHAT_ID}/messages", (403, error_body(403, 2024, "opted out")))
    caught: list[int | None] = []

    async def swallow_optout(call: OutboundCall, call_next: Next) -> Any:
        try:
            return await call_next(call)
        except OptedOut as exc:
            caught.append(exc.code)
            return None

    client.middleware.add(swallow_optout)
    assert await client.send_message(CHAT_ID, HELLO) is None
    assert caught == [2024]


async def test_bearer_token_sent(client: LinqClient, linq_server: FakeLinq) -> None:
    await client.mark_read(CHAT_ID)

    assert linq_server.hits[0].headers["Authorization"] == "Bearer test-key"


async def test_caller_owned_http_client_stays_open(linq_server: FakeLinq) -> None:
    async with httpx.AsyncClient() as http:
        async with LinqClient("k", linq_server.base_url, http_client=http) as borrowed:
            await borrowed.mark_read(CHAT_ID)
        assert not http.is_closed
