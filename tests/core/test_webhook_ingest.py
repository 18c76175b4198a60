"""Webhook ingest over real HTTP: signatures, size limit, malformed bodies, dedup, echo, unknown types."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from linqbot import Bot, Context
from linqbot.webhook.app import BOT_KEY
from tests.conftest import SECRET, event_fixture_names, load_fixture, signed_headers, with_event_id

pytestmark = pytest.mark.usefixtures("linq_env")


class Recorder:
    """Collects what handlers saw and lets a test await the n-th call without sleeping."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Context]] = []
        self._changed = asyncio.Condition()

    async def record(self, name: str, ctx: Context) -> None:
        async with self._changed:
            self.calls.append((name, ctx))
            self._changed.notify_all()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.calls) >= count), timeout)


def recording_bot(recorder: Recorder) -> Bot:
    bot = Bot(env_file=None)

    @bot.on_message()
    async def message(ctx: Context) -> None:
        await recorder.record("message", ctx)

    @bot.on_reaction()
    async def reaction(ctx: Context) -> None:
        await recorder.record("reaction", ctx)

    @bot.on_reaction(removed=True)
    async def unreaction(ctx: Context) -> None:
        await recorder.record("reaction.removed", ctx)

    for short in (
        "sent",
        "delivered",
        "read",
        "failed",
        "edited",
        "typing",
        "participant_added",
        "participant_removed",
        "location",
        "chat_created",
        "group_updated",
        "line_status",
        "contact_card",
    ):
        decorator = getattr(bot, f"on_{short}")

        async def lifecycle(ctx: Context, _name: str = short) -> None:
            await recorder.record(_name, ctx)

        decorator()(lifecycle)

    @bot.on_event(
        [
            "poll.sent",
            "poll.received",
            "poll.delivered",
            "poll.read",
            "poll.updated",
            "poll.vote.added",
            "poll.vote.removed",
            "poll.failed",
            "poll.reaction.added",
        ]
    )
    async def poll(ctx: Context) -> None:
        await recorder.record("poll", ctx)

    return bot


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(aiohttp_client: Any, recorder: Recorder) -> TestClient:
    bot = recording_bot(recorder)
    return await aiohttp_client(bot.app)


async def post(client: TestClient, payload: dict[str, Any] | bytes, **sign: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post("/webhook", data=body, headers=signed_headers(body, **sign))


EXPECTED_HANDLER = {
    "message.received": "message",
    "message.sent": "sent",
    "message.delivered": "delivered",
    "message.read": "read",
    "message.failed": "failed",
    "message.edited": "edited",
    "reaction.added": "reaction",
    "reaction.removed": "reaction.removed",
    "chat.typing_indicator.started": "typing",
    "chat.typing_indicator.stopped": "typing",
    "participant.added": "participant_added",
    "participant.removed": "participant_removed",
    "location.sharing.started": "location",
    "location.sharing.stopped": "location",
    "chat.created": "chat_created",
    "chat.group_name_updated": "group_updated",
    "phone_number.status_updated": "line_status",
    "contact_card.received": "contact_card",
}


def test_every_event_fixture_has_an_expected_handler() -> None:
    names = event_fixture_names()
    assert names, "no Linq fixtures found"
    for name in names:
        assert name in EXPECTED_HANDLER or name.startswith("poll."), name


@pytest.mark.parametrize("scheme", ["standard", "legacy"])
@pytest.mark.parametrize("name", event_fixture_names())
async def test_fixture_reaches_its_handler(client: TestClient, recorder: Recorder, name: str, scheme: str) -> None:
    payload = load_fixture(name)
    response = await post(client, payload, scheme=scheme)
    assert response.status == 200, await response.text()
    await recorder.wait_for(1)
    handler, ctx = recorder.calls[0]
    assert handler == EXPECTED_HANDLER.get(name, "poll")
    assert ctx.event.event_type == name
    assert ctx.event.event_id == payload["event_id"]
    data = payload["data"]
    expected_chat = (data.get("chat") or {}).get("id") or data.get("chat_id")
    if expected_chat:
        assert ctx.chat_id == expected_chat


async def test_message_fields_reach_the_handler(client: TestClient, recorder: Recorder) -> None:
    payload = load_fixture("message.received")
    await post(client, payload)
    await recorder.wait_for(1)
    ctx = recorder.calls[0][1]
    assert ctx.text == "Hi! Is my order shipping today?"
    assert ctx.sender == "+15555550123"
    assert ctx.message is not None
    assert ctx.message.service == "iMessage"
    assert len(ctx.message.media) == 1 and ctx.message.media[0].mime_type == "image/heic"
    assert ctx.message.reply_to is not None
    assert ctx.message.reply_to.message_id == "f0a3c6e9-2b5d-4f18-8c7a-9e1d4b6f3a20"
    assert ctx.is_group is False


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [
        ("tampered", "signature mismatch"),
        ("wrong_secret", "signature mismatch"),
        ("stale", "timestamp too old"),
        ("future", "timestamp too far in the future"),
        ("no_headers", "missing signature headers"),
        ("no_id", "missing webhook-id"),
        ("bad_timestamp", "not a unix timestamp"),
    ],
)
@pytest.mark.parametrize("scheme", ["standard", "legacy"])
async def test_bad_signatures_get_401_and_run_nothing(
    client: TestClient,
    recorder: Recorder,
    case: str,
    expected_reason: str,
    scheme: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if case == "no_id" and scheme == "legacy":
        pytest.skip("the legacy scheme has no message id")
    body = json.dumps(load_fixture("message.received")).encode()
    now = int(time.time())
    if case == "wrong_secret":
        headers = signed_headers(body, secret="whsec_" + "b3RoZXItc2VjcmV0LXZhbHVlLTk4NzY1NA==", scheme=scheme)
    elif case == "stale":
        headers = signed_headers(body, timestamp=now - 301, scheme=scheme)
    elif case == "future":
        headers = signed_headers(body, timestamp=now + 301, scheme=scheme)
    else:
        headers = signed_headers(body, scheme=scheme)
    if case == "tampered":
        body = body.replace(b"shipping", b"shopping")
    elif case == "no_headers":
        headers = {"Content-Type": "application/json"}
    elif case == "no_id":
        del headers["webhook-id"]
    elif case == "bad_timestamp":
        key = "webhook-timestamp" if scheme == "standard" else "X-Webhook-Timestamp"
        headers[key] = "yesterday"
    response = await client.post("/webhook", data=body, headers=headers)
    assert response.status == 401
    reply = await response.json()
    assert reply["error"] == "invalid_signature"
    assert expected_reason in reply["reason"]
    assert SECRET not in json.dumps(reply)
    assert "LINQ_WEBHOOK_SECRET" not in reply["reason"] and "clock" not in reply["reason"]  # hints are the owner's
    assert recorder.calls == []
    [logged] = [r.getMessage() for r in caplog.records if r.name == "linqbot.webhook"]
    if expected_reason == "signature mismatch":
        assert logged.endswith("(is LINQ_WEBHOOK_SECRET the signing_secret of the subscription sending this?)")
    elif expected_reason.startswith("timestamp"):
        assert logged.endswith("(is this machine's clock right?)")


async def test_rotated_secrets_are_both_accepted(aiohttp_client: Any, recorder: Recorder) -> None:
    old = "whsec_" + "b2xkLXNlY3JldC12YWx1ZS0xMjM0NTY3OA=="
    bot = Bot(webhook_secret=[SECRET, old], env_file=None)

    @bot.on_message()
    async def message(ctx: Context) -> None:
        await recorder.record("message", ctx)

    client = await aiohttp_client(bot.app)
    for secret in (SECRET, old):
        response = await post(client, with_event_id(load_fixture("message.received")), secret=secret)
        assert response.status == 200
    await recorder.wait_for(2)


async def test_oversized_body_is_refused_with_413(client: TestClient, recorder: Recorder) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post("/webhook", data=body, headers=signed_headers(body))
    assert response.status == 413
    assert (await response.json())["error"] == "too_large"


async def test_oversized_chunked_body_is_refused_without_content_length(client: TestClient) -> None:
    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post("/webhook", data=chunks(), headers={"webhook-signature": "v1,AAAA"})
    assert response.status == 413


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"event_type": "message.received"}', b""])
async def test_well_signed_garbage_gets_400(client: TestClient, recorder: Recorder, body: bytes) -> None:
    response = await client.post("/webhook", data=body, headers=signed_headers(body))
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_payload"
    assert recorder.calls == []


async def test_unknown_event_types_are_acknowledged(client: TestClient, recorder: Recorder) -> None:
    for event_type in ("call.ringing", "something.new.from.linq"):
        payload = with_event_id(load_fixture("message.received"))
        payload["event_type"] = event_type
        response = await post(client, payload)
        assert response.status == 200
        assert (await response.json())["status"] == "ignored"
    assert recorder.calls == []


async def test_redelivered_event_runs_handlers_once(client: TestClient, recorder: Recorder) -> None:
    payload = with_event_id(load_fixture("message.received"))
    statuses = [(await (await post(client, payload)).json())["status"] for _ in range(3)]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    assert await client.app[BOT_KEY].inbox.drain(5)
    assert [name for name, _ in recorder.calls] == ["message"]


async def test_own_outbound_messages_never_reach_on_message(client: TestClient, recorder: Recorder) -> None:
    sent = with_event_id(load_fixture("message.sent"))
    echoed = with_event_id(load_fixture("message.received"))
    echoed["data"]["direction"] = "outbound"
    echoed["data"]["sender_handle"]["is_me"] = True
    assert (await (await post(client, sent)).json())["status"] == "accepted"
    assert (await (await post(client, echoed)).json())["status"] == "echo"
    await recorder.wait_for(1)
    assert [name for name, _ in recorder.calls] == ["sent"]


async def test_healthz(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["ok"] is True


async def test_the_200_does_not_wait_for_a_slow_handler(aiohttp_client: Any) -> None:
    bot = Bot(env_file=None)
    release, started = asyncio.Event(), asyncio.Event()

    @bot.on_message()
    async def slow(ctx: Context) -> None:
        started.set()
        await release.wait()

    client = await aiohttp_client(bot.app)
    response = await post(client, with_event_id(load_fixture("message.received")))
    assert response.status == 200  # answered while the handler is still blocked
    await asyncio.wait_for(started.wait(), 5)
    assert bot.inbox.pending == 1
    release.set()
    assert await bot.inbox.drain(5)
