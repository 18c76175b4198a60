"""Retry behaviour, end to end: LinqClient → SDK → real HTTP → scripted Linq server."""

from __future__ import annotations

import email.utils
import time

import linq
import pytest

from linqbot.outbound import (
    ChatUnavailable,
    InvalidRequest,
    LinqAPIError,
    LinqClient,
    LinqConnectionError,
    OptedOut,
    RateLimited,
    RetryPolicy,
    ServerError,
    build_message,
)

from .conftest import CHAT_ID, TRACE_ID, FakeLinq, error_body

SEND_PATH = f"/v3/chats/{CHAT_ID}/messages"
HELLO = build_message("hello")


async def test_429_waits_exactly_retry_after_and_resends_same_key(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script(
        "POST",
        SEND_PATH,
        (429, error_body(429, 1007, "Try again in 2 seconds.", retry_after=2), {"Retry-After": "2"}),
    )

    sent = await client.send_message(CHAT_ID, HELLO)

    assert sent.chat_id == CHAT_ID
    assert sleeps == [2.0]
    hits = linq_server.hits_to(SEND_PATH)
    assert len(hits) == 2
    keys = {hit.json["message"]["idempotency_key"] for hit in hits}
    assert len(keys) == 1 and None not in keys


async def test_retry_after_above_sdk_cap_is_honoured(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script("POST", SEND_PATH, (429, error_body(429, 1007, "slow down"), {"Retry-After": "120"}))

    await client.send_message(CHAT_ID, HELLO)

    assert sleeps == [120.0]


async def test_larger_header_wins_over_body_retry_after(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script(
        "POST", SEND_PATH, (429, error_body(429, 1007, "slow down", retry_after=45), {"Retry-After": "90"})
    )

    await client.send_message(CHAT_ID, HELLO)

    assert sleeps == [90.0]


async def test_retry_after_as_http_date(client: LinqClient, linq_server: FakeLinq, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 300, usegmt=True)
    linq_server.script("POST", SEND_PATH, (429, error_body(429, 1007, "slow down"), {"Retry-After": when}))

    await client.send_message(CHAT_ID, HELLO)

    assert 290 <= sleeps[0] <= 300


async def test_429_without_retry_after_backs_off(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script("POST", SEND_PATH, (429, error_body(429, 1007, "slow down")))

    await client.send_message(CHAT_ID, HELLO)

    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


async def test_rate_limit_exhausted_raises_typed_error(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    limited = (429, error_body(429, 1007, "slow down", retry_after=5), {"Retry-After": "5"})
    linq_server.script("POST", SEND_PATH, *[limited] * 4)

    with pytest.raises(RateLimited) as caught:
        await client.send_message(CHAT_ID, HELLO)

    assert caught.value.retry_after == 5.0
    assert sleeps == [5.0, 5.0, 5.0]
    assert len(linq_server.hits_to(SEND_PATH)) == 4


async def test_5xx_backoff_grows(client: LinqClient, linq_server: FakeLinq, sleeps: list[float]) -> None:
    linq_server.script("POST", SEND_PATH, *[(500, error_body(500, 3006, "boom"))] * 2)

    await client.send_message(CHAT_ID, HELLO)

    assert len(linq_server.hits_to(SEND_PATH)) == 3
    first, second = sleeps
    assert 0.375 <= first <= 0.5 < 0.75 <= second <= 1.0


async def test_5xx_backoff_respects_cap(linq_server: FakeLinq) -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    policy = RetryPolicy(max_attempts=7, base_delay=1.0, max_delay=3.0)
    async with LinqClient("k", linq_server.base_url, retry=policy, sleep=fake_sleep) as capped:
        linq_server.script("POST", SEND_PATH, *[(503, error_body(503, 4004, "unavailable"))] * 6)
        await capped.send_message(CHAT_ID, HELLO)

    assert len(sleeps) == 6
    assert all(delay <= 3.0 for delay in sleeps)
    assert all(delay >= 3.0 * 0.75 for delay in sleeps[2:])


async def test_5xx_exhausted_raises_server_error_with_cause(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script("POST", SEND_PATH, *[(500, error_body(500, 3002, "Server operation failed"))] * 4)

    with pytest.raises(ServerError) as caught:
        await client.send_message(CHAT_ID, HELLO)

    assert (caught.value.status, caught.value.code, caught.value.trace_id) == (500, 3002, TRACE_ID)
    assert isinstance(caught.value.__cause__, linq.InternalServerError)
    assert len(linq_server.hits_to(SEND_PATH)) == 4
    assert len(sleeps) == 3


async def test_409_chat_being_created_is_retried(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script("POST", SEND_PATH, (409, error_body(409, 2009, "Chat is still being created")))

    await client.send_message(CHAT_ID, HELLO)

    assert len(linq_server.hits_to(SEND_PATH)) == 2
    assert len(sleeps) == 1


async def test_409_chat_unavailable_raises_at_once(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    linq_server.script("POST", SEND_PATH, (409, error_body(409, 2013, "You left this chat")))

    with pytest.raises(ChatUnavailable) as caught:
        await client.send_message(CHAT_ID, HELLO)

    error = caught.value
    assert (error.status, error.code, error.message) == (409, 2013, "You left this chat")
    assert error.trace_id == TRACE_ID
    assert len(linq_server.hits_to(SEND_PATH)) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(403, 2024, OptedOut), (400, 1002, InvalidRequest), (409, 1006, LinqAPIError)],
)
async def test_other_4xx_never_retried(
    client: LinqClient,
    linq_server: FakeLinq,
    sleeps: list[float],
    status: int,
    code: int,
    expected: type[LinqAPIError],
) -> None:
    linq_server.script("POST", SEND_PATH, (status, error_body(status, code, "no")))

    with pytest.raises(expected) as caught:
        await client.send_message(CHAT_ID, HELLO)

    assert (caught.value.status, caught.value.code) == (status, code)
    assert len(linq_server.hits_to(SEND_PATH)) == 1
    assert sleeps == []


async def test_sdk_retries_are_off(linq_server: FakeLinq) -> None:
    """With one attempt allowed, a 500 must hit the server once (the SDK alone would try 3 times)."""
    async with LinqClient("k", linq_server.base_url, retry=RetryPolicy(max_attempts=1)) as once:
        linq_server.script("POST", SEND_PATH, (500, error_body(500, 3006, "boom")))
        with pytest.raises(ServerError):
            await once.send_message(CHAT_ID, HELLO)

    assert len(linq_server.hits_to(SEND_PATH)) == 1
    assert linq_server.hits[0].headers.get("x-stainless-retry-count") == "0"


async def test_network_error_raises_connection_error_after_max_attempts(closed_port: int) -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    policy = RetryPolicy(max_attempts=3)
    async with LinqClient("k", f"http://127.0.0.1:{closed_port}", retry=policy, sleep=fake_sleep) as dead:
        with pytest.raises(LinqConnectionError) as caught:
            await dead.typing_start(CHAT_ID)

    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, linq.APIConnectionError)
    assert len(sleeps) == 2


async def test_voice_memo_not_repeated_after_server_error(
    client: LinqClient, linq_server: FakeLinq, sleeps: list[float]
) -> None:
    """The endpoint has no idempotency key: a retry after a 5xx could deliver the memo twice."""
    path = f"/v3/chats/{CHAT_ID}/voicememo"
    linq_server.script("POST", path, (500, error_body(500, 3006, "boom")))

    with pytest.raises(ServerError):
        await client.send_voice_memo(CHAT_ID, url="https://example.com/memo.m4a")

    assert len(linq_server.hits_to(path)) == 1


async def test_error_text_and_header_trace_id(client: LinqClient, linq_server: FakeLinq) -> None:
    body = {"success": False, "error": {"status": 403, "code": 2024, "message": "Recipient opted out"}}
    linq_server.script("POST", SEND_PATH, (403, body))

    with pytest.raises(OptedOut) as caught:
        await client.send_message(CHAT_ID, HELLO)

    assert caught.value.trace_id == TRACE_ID  # from X-Trace-ID when the body has none
    text = str(caught.value)
    for piece in ("403", "2024", "Recipient opted out", TRACE_ID):
        assert piece in text
