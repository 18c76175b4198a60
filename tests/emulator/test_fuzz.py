"""Hypothesis over the REST and admin surface: malformed requests never produce a 5xx or a bare error."""

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linqbot.emulator import Emulator

PATHS = [
    "/api/partner/v3/chats", "/api/partner/v3/chats/{id}", "/api/partner/v3/chats/{id}/messages",
    "/api/partner/v3/chats/{id}/typing", "/api/partner/v3/chats/{id}/participants", "/api/partner/v3/chats/{id}/leave",
    "/api/partner/v3/chats/{id}/read", "/api/partner/v3/chats/{id}/voicememo", "/api/partner/v3/chats/{id}/location",
    "/api/partner/v3/chats/{id}/location/request", "/api/partner/v3/chats/{id}/background",
    "/api/partner/v3/chats/{id}/polls", "/api/partner/v3/chats/{id}/share_contact_card", "/api/partner/v3/messages",
    "/api/partner/v3/messages/{id}", "/api/partner/v3/messages/{id}/reactions", "/api/partner/v3/messages/{id}/thread",
    "/api/partner/v3/messages/{id}/reactions/{id}", "/api/partner/v3/messages/{id}/update",
    "/api/partner/v3/messages/{id}/poll", "/api/partner/v3/messages/{id}/poll/votes", "/api/partner/v3/attachments",
    "/api/partner/v3/attachments/{id}", "/api/partner/v3/capability/check_imessage",
    "/api/partner/v3/capability/check_rcs", "/api/partner/v3/phone_numbers", "/api/partner/v3/phone_numbers/{id}",
    "/api/partner/v3/phone_numbers/{id}/reputation_audit", "/api/partner/v3/available_number",
    "/api/partner/v3/contact_card", "/api/partner/v3/webhook-subscriptions",
    "/api/partner/v3/webhook-subscriptions/{id}", "/api/partner/v3/blocked_handles", "/api/partner/v3/webhook-events",
    "/api/partner/v3/experiences/{id}", "/_emulator/inbound", "/_emulator/faults", "/_emulator/people",
    "/_emulator/clock", "/_emulator/lines/status", "/_emulator/uploads/{id}", "/_emulator/messages", "/_emulator/nope",
]  # fmt: skip
KEYS = [
    "from",
    "to",
    "message",
    "parts",
    "type",
    "value",
    "text",
    "handle",
    "address",
    "poll",
    "options",
    "operation",
    "target_url",
    "subscribed_events",
    "phone_number",
    "first_name",
    "filename",
    "content_type",
    "size_bytes",
    "reaction",
    "typing",
    "group",
    "chat_id",
    "advance",
    "rules",
    "placement",
    "layout",
    "idempotency_key",
    "reply_to",
    "effect",
    "attachment_id",
    "voice_memo_url",
    "forwarding_number",
    "status",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["+15550000001", "+15551230001", "http://127.0.0.1:9/a.png", "text", "media", "link", "add",
                     "love", "sticker", "image/png", "STOP", "message.received", ""]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=15,
)
BODIES = st.one_of(
    JSON.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=40),
    st.just(b""),
    st.just(b'{"message": {"parts": [{"type": "text"'),
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """One emulator on its own loop in a thread, shared by every example (reset between examples)."""
    loop = asyncio.new_event_loop()
    emu = Emulator(sent_delay=0, delivered_delay=0, read_delay=0, webhook_attempts=1)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(emu.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(emu.stop())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    yield emu.url
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"Authorization": "Bearer dev-key"}) as client:
        yield client


@pytest.fixture(scope="module")
def real_ids(http: httpx.Client) -> list[str]:
    """A few real ids so fuzzed requests also reach deep validation paths."""
    body = {"from": "+15550000001", "to": ["+15551230001"], "message": {"parts": [{"type": "text", "value": "hi"}]}}
    chat = http.post("/api/partner/v3/chats", json=body).json()["chat"]
    return [chat["id"], chat["message"]["id"], "+15550000001"]


IDS = ["x", "00000000-0000-0000-0000-000000000000", "%2B15550000001", "../..", "a" * 300]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_request_makes_the_emulator_fail(data: st.DataObject, http: httpx.Client, real_ids: list[str]) -> None:
    for _ in range(data.draw(st.integers(1, 5))):
        ident = data.draw(st.sampled_from(IDS + real_ids))
        path = data.draw(st.sampled_from(PATHS)).replace("{id}", ident)
        method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
        headers: dict[str, Any] = {"Content-Type": data.draw(st.sampled_from(["application/json", "text/plain"]))}
        if data.draw(st.booleans()):
            headers["Authorization"] = data.draw(st.sampled_from(["", "Bearer", "Bearer wrong", "Basic x"]))
        query_keys = st.sampled_from(["limit", "cursor", "from", "to", "order", "type", "phone_number", "chat_id"])
        query = data.draw(st.dictionaries(query_keys, st.text(max_size=8), max_size=3))
        response = http.request(method, path, content=data.draw(BODIES), headers=headers, params=query)
        assert response.status_code < 500, (method, path, response.text)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Trace-ID"])
        if response.status_code >= 400:
            error = response.json()
            assert error["success"] is False and error["error"]["status"] == response.status_code
