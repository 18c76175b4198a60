"""Sends skip the SDK's per-call parameter transform: the bodies must be exactly what that transform would give.

``LinqClient`` posts message sends through ``AsyncLinqAPIV3.post`` with the body already in wire shape, because the
SDK's recursive walk over ``MessageContentParam`` cost about a third of a millisecond per send and changes nothing
in a message. Should the SDK ever alias or reformat a message field, these tests fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from linq._utils import async_maybe_transform
from linq.types import chat_create_params
from linq.types.chats import message_send_params

from linqbot.outbound import LinqClient, build_message

from .conftest import CHAT_ID, LINE, FakeLinq

MESSAGES = [
    build_message("hello"),
    build_message(["first", {"type": "text", "value": "second"}], media="https://example.com/cat.jpg"),
    build_message(media=["5b0e1c7a-2f4d-4e8b-9a61-0c3d2e1f4a5b", "https://example.com/a.pdf"]),
    build_message(link="https://example.com/article"),
    build_message("boom", effect="confetti", reply_to="msg_1", service="iMessage"),
    build_message("tap", effect={"type": "bubble", "name": "slam"}, reply_to={"message_id": "m", "part_index": 1}),
]


@pytest.mark.parametrize("message", MESSAGES)
async def test_send_message_body_is_what_the_sdk_transform_gives(
    client: LinqClient, linq_server: FakeLinq, message: dict[str, Any]
) -> None:
    await client.send_message(CHAT_ID, message, override_optout=True, idempotency_key="k1")

    sent = linq_server.hits[-1].json
    sdk_body = await async_maybe_transform(
        {"message": {**message, "idempotency_key": "k1"}, "override_optout": True},
        message_send_params.MessageSendParams,
    )
    assert sent == sdk_body


@pytest.mark.parametrize("message", MESSAGES)
async def test_create_chat_body_is_what_the_sdk_transform_gives(
    client: LinqClient, linq_server: FakeLinq, message: dict[str, Any]
) -> None:
    await client.create_chat(["+15551234567", "+15557654321"], message, idempotency_key="k2")

    sent = linq_server.hits[-1].json
    sdk_body = await async_maybe_transform(
        {"from_": LINE, "to": ["+15551234567", "+15557654321"], "message": {**message, "idempotency_key": "k2"}},
        chat_create_params.ChatCreateParams,
    )
    assert sent == sdk_body


async def test_a_cookie_linq_sets_is_still_kept_and_sent_back(client: LinqClient, linq_server: FakeLinq) -> None:
    """The cookie jar only skips answers without Set-Cookie; one that sets a cookie is honoured as httpx would."""
    path = f"/v3/chats/{CHAT_ID}/messages"
    answer = linq_server.bodies[("POST", path)]
    linq_server.script("POST", path, (200, answer, {"Set-Cookie": "lb=node-7; Path=/"}))

    await client.send_message(CHAT_ID, build_message("one"))
    await client.send_message(CHAT_ID, build_message("two"))

    first, second = linq_server.hits_to(path)
    assert "Cookie" not in first.headers
    assert second.headers["Cookie"] == "lb=node-7"
