"""Webhooks: every emitted event matches its SDK model and verifies under both signature schemes;
retries, legacy payload version, line filter, delivery faults, and concurrent delivery that keeps each chat in order."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import linq
import pytest
from aiohttp import web

from linqbot.emulator import Emulator, EmulatorConfig, FaultConfig, LineSpec
from tests.emulator.conftest import (
    FOURTH,
    OTHER,
    PERSON,
    THIRD,
    Receiver,
    event_model,
    strict,
    subscribe,
    verify_legacy,
    verify_standard,
)

TEXT = {"parts": [{"type": "text", "value": "Hi there"}]}
HEX32 = re.compile(r"[0-9a-f]{32}")


async def test_every_emitted_event_validates_and_verifies(
    emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver
) -> None:
    secret = await subscribe(client, receiver.url)
    emu.set_person(THIRD, fail_code=4001)
    created = await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)  # type: ignore[arg-type]
    chat_id = created.chat.id
    inbound = await emu.inbound(PERSON, "Thanks!")
    await emu.react(PERSON, created.chat.message.id, "love")
    await emu.react(PERSON, created.chat.message.id, "love", operation="remove")
    await client.messages.add_reaction(inbound["message_id"], operation="add", type="like")
    await emu.typing(PERSON, True)
    await emu.typing(PERSON, False)
    await client.messages.update(created.chat.message.id, text="Hi there, edited")
    await client.chats.location.request(chat_id)
    await client.chats.location.stop(chat_id, handle=PERSON)
    await client.chats.background.set(chat_id, type="dynamic")
    poll = await client.chats.polls.create(chat_id, poll={"options": [{"text": "Yes"}, {"text": "No"}]})
    await client.messages.poll.add_options(poll.message_id, options=[{"text": "Maybe"}])
    yes = poll.poll.options[0].option_id
    await client.messages.poll.vote(poll.message_id, operation="add", option_id=yes)
    vote = {"message_id": poll.message_id, "option_id": yes, "operation": "remove"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emu.url}/_emulator/inbound", json={"from": PERSON, "vote": vote})
        assert response.status_code == 200
    group = await client.chats.create(from_=emu.line, to=[PERSON, OTHER, THIRD], message=TEXT)  # type: ignore[arg-type]
    await client.chats.update(group.chat.id, display_name="Crew", group_chat_icon="https://example.com/i.png")
    await client.chats.participants.add(group.chat.id, handle=FOURTH)
    await client.chats.participants.remove(group.chat.id, handle=FOURTH)
    emu.engine.inbound_contact_card(from_=PERSON, first_name="Ada", last_name="L")
    emu.set_line_status(emu.line, reputation="AT_RISK")

    expected = {
        "chat.created", "message.sent", "message.delivered", "message.read", "message.received", "message.failed",
        "reaction.added", "reaction.removed", "chat.typing_indicator.started", "chat.typing_indicator.stopped",
        "message.edited", "location.sharing.started", "location.sharing.stopped", "chat.background_updated",
        "poll.sent", "poll.updated", "poll.vote.added", "poll.vote.removed",
        "chat.group_name_updated", "chat.group_icon_updated", "participant.added",
        "participant.removed", "contact_card.received", "phone_number.status_updated",
    }  # fmt: skip
    await emu.wait_for(lambda: expected <= {d.event_type for d in receiver.deliveries})
    for delivery in receiver.deliveries:
        envelope = strict(event_model(delivery.event_type), delivery.body)
        assert envelope.webhook_version == "2026-02-03"  # type: ignore[attr-defined]
        assert HEX32.fullmatch(envelope.trace_id)  # type: ignore[attr-defined]
        assert delivery.headers["webhook-id"] == envelope.event_id  # type: ignore[attr-defined]
        assert delivery.headers["X-Webhook-Event"] == delivery.event_type
        verify_standard(secret, delivery)
        assert verify_legacy(secret, delivery)


async def test_outbound_lifecycle_events_echo_the_idempotency_key(
    emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, ["message.sent", "message.delivered", "message.read"])
    message = {**TEXT, "idempotency_key": "order-1"}
    await client.chats.create(from_=emu.line, to=[PERSON], message=message)  # type: ignore[arg-type]
    await emu.wait_for(lambda: len(receiver.deliveries) == 3)
    assert [d.event_type for d in receiver.deliveries] == ["message.sent", "message.delivered", "message.read"]
    for delivery in receiver.deliveries:
        data = delivery.json["data"]
        assert data["direction"] == "outbound" and data["sender_handle"]["is_me"] is True
        assert data["idempotency_key"] == "order-1"
    assert receiver.deliveries[2].json["data"]["read_at"] is not None


async def test_retries_5xx_and_429_until_success(
    emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, ["message.received"])
    receiver.statuses = [500, 503, 429]
    result = await emu.inbound(PERSON, "hello")
    await emu.wait_for(lambda: any(e["status"] == 200 for e in emu.webhook_log()))
    assert [d.json["event_id"] for d in receiver.deliveries] == result["event_ids"][-1:] * 4
    assert [(e["attempt"], e["status"]) for e in emu.webhook_log()] == [(1, 500), (2, 503), (3, 429), (4, 200)]


async def test_client_errors_are_not_retried(emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver) -> None:
    await subscribe(client, receiver.url, ["message.received"])
    receiver.statuses = [400]
    await emu.inbound(PERSON, "first")
    await emu.inbound(PERSON, "second")
    await emu.wait_for(lambda: len(emu.webhook_log()) == 2)
    assert [(e["attempt"], e["status"], e["will_retry"]) for e in emu.webhook_log()] == [
        (1, 400, False),
        (1, 200, False),
    ]


async def test_network_errors_are_retried_and_logged(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    await subscribe(client, "http://127.0.0.1:9/unreachable", ["message.received"])
    await emu.inbound(PERSON, "anyone there?")
    await emu.wait_for(lambda: len(emu.webhook_log()) >= 2)
    first, second = emu.webhook_log()[:2]
    assert first["status"] is None and first["error"] and first["will_retry"]
    assert second["attempt"] == 2


async def test_legacy_payload_version(emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver) -> None:
    secret = await subscribe(client, receiver.url + "?version=2025-01-01", ["message.received", "message.edited"])
    await emu.inbound(PERSON, "old school")
    await emu.wait_for(lambda: receiver.deliveries)
    delivery = receiver.deliveries[0]
    body = delivery.json
    assert body["webhook_version"] == "2025-01-01"
    assert body["data"]["is_from_me"] is False and body["data"]["from"] == PERSON
    assert body["data"]["message"]["parts"] == [{"type": "text", "value": "old school"}]
    assert "sender_handle" not in body["data"] and "direction" not in body["data"]
    assert verify_legacy(secret, delivery)
    verify_standard(secret, delivery)


async def test_line_filter_limits_deliveries(receiver: Receiver) -> None:
    config = EmulatorConfig(lines=[LineSpec("+15550000001"), LineSpec("+15550000002")])
    async with Emulator(config) as emu:
        client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        await client.webhook_subscriptions.create(
            target_url=receiver.url, subscribed_events=["message.received"], phone_numbers=["+15550000002"]
        )
        await emu.inbound(PERSON, "to line one", to="+15550000001")
        await emu.inbound(PERSON, "to line two", to="+15550000002")
        await emu.wait_for(lambda: receiver.deliveries)
        assert [d.json["data"]["parts"][0]["value"] for d in receiver.deliveries] == ["to line two"]


async def test_duplicate_and_out_of_order_faults(
    emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, ["message.received"])
    emu.set_faults(FaultConfig(seed=1, webhook_duplicate_rate=1.0))
    first = await emu.inbound(PERSON, "one")
    await emu.wait_for(lambda: len(receiver.deliveries) == 2)
    assert [d.json["event_id"] for d in receiver.deliveries] == first["event_ids"][-1:] * 2

    receiver.deliveries.clear()
    emu.set_faults(FaultConfig(seed=1, webhook_out_of_order_rate=1.0))
    a = await emu.inbound(PERSON, "a")
    b = await emu.inbound(PERSON, "b")
    await emu.wait_for(lambda: len(receiver.deliveries) == 2)
    assert [d.json["event_id"] for d in receiver.deliveries] == b["event_ids"] + a["event_ids"]


class GatedReceiver:
    """A webhook endpoint that holds the deliveries for one chat until released, and records what arrived when."""

    def __init__(self, held_chat: str | None = None) -> None:
        self.held_chat = held_chat
        self.release = asyncio.Event()
        self.arrived: list[tuple[str, str]] = []
        """(chat id, text) in arrival order."""
        self.url = ""
        self._arrival = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        data = (await request.json())["data"]
        chat_id = data["chat"]["id"]
        self.arrived.append((chat_id, data["parts"][0]["value"]))
        self._arrival.set()
        if chat_id == self.held_chat:
            await self.release.wait()
        return web.Response()

    def texts(self) -> list[str]:
        return [text for _, text in self.arrived]

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Until ``count`` deliveries arrived. An arrival held here is no change the emulator could wake on, and its
        delivery times out after the emulator's own 5 s: waiting through ``emu.wait_for`` raced that timeout."""
        async with asyncio.timeout(timeout):
            while len(self.arrived) < count:
                self._arrival.clear()
                await self._arrival.wait()


@contextlib.asynccontextmanager
async def gated(receiver: GatedReceiver) -> AsyncIterator[GatedReceiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield receiver
    finally:
        receiver.release.set()
        await runner.cleanup()


async def test_a_slow_chat_does_not_hold_up_other_chats_and_each_chat_stays_in_order(emu: Emulator) -> None:
    slow = await emu.inbound(PERSON, "hello")  # creates the chat before anyone subscribes
    async with gated(GatedReceiver(held_chat=slow["chat_id"])) as receiver:
        client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        await subscribe(client, receiver.url, ["message.received"])
        await emu.inbound(PERSON, "slow 1")
        await emu.inbound(PERSON, "slow 2")
        for n in range(3):
            await emu.inbound(OTHER, f"other {n}")
        await receiver.wait_for(4)
        assert sorted(receiver.texts()) == ["other 0", "other 1", "other 2", "slow 1"]  # "slow 2" waits for "slow 1"
        assert [text for text in receiver.texts() if text.startswith("other")] == ["other 0", "other 1", "other 2"]
        receiver.release.set()
        await emu.settle()
        assert receiver.texts()[-1] == "slow 2"
        assert {entry["status"] for entry in emu.webhook_log()} == {200}


async def test_concurrency_one_delivers_strictly_in_emission_order() -> None:
    async with Emulator(webhook_concurrency=1) as emu:
        slow = await emu.inbound(PERSON, "hello")
        async with gated(GatedReceiver(held_chat=slow["chat_id"])) as receiver:
            client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
            await subscribe(client, receiver.url, ["message.received"])
            await emu.inbound(PERSON, "slow 1")
            await emu.inbound(OTHER, "other 0")
            await receiver.wait_for(1)
            assert emu.engine.webhooks.in_flight == 2  # "other 0" is queued behind the held delivery
            assert receiver.texts() == ["slow 1"]
            receiver.release.set()
            await emu.settle()
            assert receiver.texts() == ["slow 1", "other 0"]


def test_webhook_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="webhook_concurrency must be at least 1"):
        EmulatorConfig(webhook_concurrency=0)
