"""Linq behaviours a bot author would notice: limits, opt-out, blocks, health, typing, first message,
idempotency, validation, edits, group rules, delivery failures, scripted people, flagged lines."""

from typing import Any

import httpx
import linq
import pytest

from linqbot.emulator import Emulator, EmulatorConfig, LineSpec
from linqbot.emulator.errors import ApiError
from linqbot.emulator.rules import is_opt_out
from tests.emulator.conftest import OTHER, PERSON, THIRD

TEXT: Any = {"parts": [{"type": "text", "value": "Hello"}]}
LINE_2 = "+15550000002"


def text(value: str, **extra: Any) -> Any:
    return {"parts": [{"type": "text", "value": value}], **extra}


async def dm(client: linq.AsyncLinqAPIV3, emu: Emulator, to: str = PERSON) -> str:
    return (await client.chats.create(from_=emu.line, to=[to], message=TEXT)).chat.id


async def test_per_pair_rate_limit_and_window(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    chat_id = await dm(client, emu)
    for _ in range(29):
        await client.chats.messages.send(chat_id, message=TEXT)
    with pytest.raises(linq.RateLimitError) as caught:
        await client.chats.messages.send(chat_id, message=TEXT)
    assert caught.value.code == 1007 and caught.value.retry_after is not None and caught.value.retry_after >= 1
    assert caught.value.response.headers["Retry-After"] == str(caught.value.retry_after)
    await client.chats.create(from_=emu.line, to=[OTHER], message=TEXT)  # other pairs are unaffected
    emu.advance_clock(60)
    await client.chats.messages.send(chat_id, message=TEXT)


async def test_capability_checks_are_rate_limited() -> None:
    async with Emulator(capability_limit=2) as emu:
        client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        emu.set_person(OTHER, imessage=False, rcs=True)
        assert (await client.capability.check_i_message(address=PERSON)).available is True
        rcs = await client.capability.check_RCS(address=OTHER)
        assert rcs.available is True and rcs.selected_service == "RCS"
        with pytest.raises(linq.RateLimitError) as caught:
            await client.capability.check_i_message(address=PERSON)
        assert caught.value.code == 1007


@pytest.mark.parametrize(
    ("message", "opted_out"),
    [("STOP", True), ("  QUIT\n", True), ("UNSUBSCRIBE", True), ("OPTOUT", True), ("opt out", True),
     ("Opt-Out", True), ("optout", True), ("stop", False), ("Stop", False), ("please STOP", False),
     ("STOP!", False), ("end", False)],
)  # fmt: skip
def test_opt_out_keyword_matching(message: str, opted_out: bool) -> None:
    assert is_opt_out(message) is opted_out


async def test_opt_out_blocks_every_line_until_the_person_writes_again() -> None:
    async with Emulator(EmulatorConfig(lines=[LineSpec("+15550000001"), LineSpec(LINE_2)])) as emu:
        client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        chat_id = await dm(client, emu)
        await emu.inbound(PERSON, "STOP")
        assert (await client.chats.retrieve(chat_id)).health_status.status == "OPTED_OUT"
        assert emu.chats()[0]["opted_out"] is True
        with pytest.raises(linq.PermissionDeniedError) as caught:
            await client.chats.messages.send(chat_id, message=TEXT)
        assert caught.value.code == 2024
        with pytest.raises(linq.PermissionDeniedError):
            await client.chats.create(from_=LINE_2, to=[PERSON], message=TEXT)
        await client.chats.messages.send(chat_id, message=text("You are unsubscribed."), override_optout=True)
        await emu.inbound(PERSON, "actually, hi again")
        assert (await client.chats.retrieve(chat_id)).health_status.status == "HEALTHY"
        await client.chats.messages.send(chat_id, message=TEXT)


async def test_groups_are_never_opted_out(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    group = await client.chats.create(from_=emu.line, to=[PERSON, OTHER], message=TEXT)
    await emu.inbound(PERSON, "STOP", group=[OTHER])
    assert (await client.chats.retrieve(group.chat.id)).health_status.status != "OPTED_OUT"
    await client.chats.messages.send(group.chat.id, message=TEXT)
    await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)


async def test_blocked_handles(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    chat_id = await dm(client, emu)
    await client.blocked_handles.block(handle=PERSON)
    with pytest.raises(linq.PermissionDeniedError) as caught:
        await client.chats.messages.send(chat_id, message=TEXT)
    assert caught.value.code == 2026
    result = await emu.inbound(PERSON, "let me in")
    assert result["dropped"] is True and not emu.events("message.received")
    await client.chats.create(from_=emu.line, to=[PERSON, OTHER], message=TEXT)  # groups still allowed
    await client.blocked_handles.unblock(handle=PERSON)
    await client.chats.messages.send(chat_id, message=TEXT)


async def test_health_follows_unanswered_outbound_messages() -> None:
    async with Emulator(at_risk_after=2, critical_after=3) as emu:
        client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        chat_id = await dm(client, emu)
        assert (await client.chats.retrieve(chat_id)).health_status.status == "HEALTHY"
        await client.chats.messages.send(chat_id, message=TEXT)
        assert (await client.chats.retrieve(chat_id)).health_status.status == "AT_RISK"
        await client.chats.messages.send(chat_id, message=TEXT)
        assert (await client.chats.retrieve(chat_id)).health_status.status == "CRITICAL"
        await emu.inbound(PERSON, "I'm here")
        assert (await client.chats.retrieve(chat_id)).health_status.status == "HEALTHY"


async def test_typing_indicator_rules(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    chat_id = await dm(client, emu)
    await client.chats.typing.start(chat_id)
    assert emu.chats()[0]["typing"] == [emu.line]
    await client.chats.messages.send(chat_id, message=TEXT)
    assert emu.chats()[0]["typing"] == []
    await client.chats.typing.start(chat_id)
    emu.advance_clock(61)
    assert emu.chats()[0]["typing"] == []
    await emu.typing(PERSON, True)
    assert emu.chats()[0]["typing"] == [PERSON] and emu.events("chat.typing_indicator.started")
    emu.advance_clock(61)
    assert emu.events("chat.typing_indicator.stopped")
    group = await client.chats.create(from_=emu.line, to=[PERSON, OTHER], message=TEXT)
    with pytest.raises(linq.PermissionDeniedError) as caught:
        await client.chats.typing.start(group.chat.id)
    assert caught.value.code == 2016


@pytest.mark.parametrize(
    "message",
    [
        {"parts": [{"type": "link", "value": "https://example.com"}]},
        text("see https://example.com/x"),
        text("www.example.com is great"),
        text("Hi", effect={"type": "screen", "name": "confetti"}),
        text("Hi", reply_to={"message_id": "anything"}),
    ],
)
async def test_first_message_rules(emu: Emulator, client: linq.AsyncLinqAPIV3, message: Any) -> None:
    with pytest.raises(linq.BadRequestError) as caught:
        await client.chats.create(from_=emu.line, to=[PERSON], message=message)
    assert caught.value.code == 1005
    assert emu.chats() == []
    await dm(client, emu)
    await client.chats.create(
        from_=emu.line, to=[PERSON], message={"parts": [{"type": "link", "value": "https://a.b"}]}
    )


async def test_idempotency_key_returns_the_original(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    chat_id = await dm(client, emu)
    first = await client.chats.messages.send(chat_id, message=text("once", idempotency_key="k-1"))
    again = await client.chats.messages.send(chat_id, message=text("once", idempotency_key="k-1"))
    via_create = await client.messages.create(to=[PERSON], message=text("once", idempotency_key="k-1"))
    assert first.message.id == again.message.id == via_create.message.id
    assert len(emu.messages(chat_id=chat_id)) == 2
    await emu.wait_for_message(text="once", status="read")
    assert len([e for e in emu.events("message.sent") if e["data"]["id"] == first.message.id]) == 1
    await client.messages.delete(first.message.id)
    with pytest.raises(linq.NotFoundError):
        await client.chats.messages.send(chat_id, message=text("once", idempotency_key="k-1"))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"from": "+15550000001", "to": ["555-1234"], "message": TEXT}, 1002),
        ({"from": "15550000001", "to": [PERSON], "message": TEXT}, 1002),
        ({"to": [PERSON], "message": TEXT}, 1001),
        ({"from": "+15550000001", "to": [PERSON]}, 1001),
        ({"from": "+15550000001", "to": [PERSON], "message": {"parts": [{"type": "text", "value": "a"},
                                                                         {"type": "text", "value": "b"}]}}, 1004),
        ({"from": "+15550000001", "to": [PERSON], "message": {"parts": [
            {"type": "link", "value": "https://a.b"}, {"type": "text", "value": "b"}]}}, 1004),
        ({"from": "+15550000001", "to": [PERSON], "message": {"parts": [{"type": "gif", "value": "x"}]}}, 1004),
        ({"from": "+15550000001", "to": [PERSON], "message": {"parts": []}}, 1004),
        ({"from": "+15550000001", "to": PERSON, "message": TEXT}, 1005),
    ],
)  # fmt: skip
async def test_request_validation_codes(emu: Emulator, body: Any, code: int) -> None:
    async with httpx.AsyncClient(base_url=emu.url, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        response = await http.post("/api/partner/v3/chats", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


async def test_bad_json_unowned_line_and_auth(emu: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emu.url, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        bad = await http.post(
            "/api/partner/v3/chats", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == 1003
        foreign = await http.post(
            "/api/partner/v3/chats", json={"from": "+15559999999", "to": [PERSON], "message": TEXT}
        )
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == 2006
        unknown = await http.get("/api/partner/v3/nothing-here")
        assert unknown.status_code == 404 and len(unknown.headers["X-Trace-ID"]) == 32
        anonymous = await http.get("/api/partner/v3/chats", headers={"Authorization": ""})
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == 2004


async def test_edit_limits(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    chat_id = await dm(client, emu)
    message_id = (await client.chats.messages.send(chat_id, message=TEXT)).message.id
    for n in range(5):
        await client.messages.update(message_id, text=f"edit {n}")
    with pytest.raises(linq.BadRequestError):
        await client.messages.update(message_id, text="one too many")
    late = (await client.chats.messages.send(chat_id, message=TEXT)).message.id
    emu.advance_clock(15 * 60 + 1)
    with pytest.raises(linq.BadRequestError):
        await client.messages.update(late, text="too late")
    inbound = await emu.inbound(PERSON, "mine")
    with pytest.raises(linq.BadRequestError):
        await client.messages.update(inbound["message_id"], text="not yours")


async def test_group_rules(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    chat_id = await dm(client, emu)
    with pytest.raises(linq.ConflictError) as renamed:
        await client.chats.update(chat_id, display_name="Nope")
    assert renamed.value.code == 1006
    small = await client.chats.create(from_=emu.line, to=[PERSON, OTHER], message=TEXT)
    with pytest.raises(linq.ConflictError):
        await client.chats.participants.remove(small.chat.id, handle=OTHER)
    with pytest.raises(linq.ConflictError):
        await client.chats.leave_chat(small.chat.id)
    big = await client.chats.create(from_=emu.line, to=[PERSON, OTHER, THIRD], message=TEXT)
    await client.chats.leave_chat(big.chat.id)
    with pytest.raises(linq.ConflictError) as left:
        await client.chats.messages.send(big.chat.id, message=TEXT)
    assert left.value.code == 2013


async def test_delivery_failure_and_scripted_people(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    emu.set_person(OTHER, fail_code=4005)
    emu.set_person(PERSON, auto_reply="Got it!", auto_read=False)
    await client.chats.create(from_=emu.line, to=[OTHER], message=TEXT)
    failed = await emu.wait_for_message(handle=OTHER, status="failed")
    assert failed["failed_code"] == 4005 and emu.events("message.failed")[0]["data"]["code"] == 4005
    chat_id = await dm(client, emu)
    reply = await emu.wait_for_message(direction="inbound", chat_id=chat_id)
    assert reply["text"] == "Got it!"
    assert emu.messages(chat_id=chat_id, direction="outbound")[0]["status"] == "delivered"


async def test_flagged_lines_and_line_selection() -> None:
    async with Emulator(EmulatorConfig(lines=[LineSpec("+15550000001"), LineSpec(LINE_2)])) as emu:
        client = linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        first = await client.messages.create(to=[PERSON], message=TEXT)
        assert first.from_selection.reason == "new_best_number" and first.created_new_chat
        emu.set_line_status(first.from_, status="FLAGGED")
        with pytest.raises(linq.PermissionDeniedError) as caught:
            await client.chats.messages.send(first.chat_id, message=TEXT)
        assert caught.value.code == 2027
        moved = await client.messages.create(to=[PERSON], message=TEXT)
        assert moved.from_selection.reason == "failover_flagged" and moved.previous_chat_id == first.chat_id
        assert moved.from_ != first.from_


async def test_a_line_cannot_be_its_own_chat_partner() -> None:
    """Sending to one of the account's own lines (or a 'person' using a line's number) is refused, not a 500."""
    async with Emulator() as emu:
        with pytest.raises(ApiError) as caught:
            await emu.inbound(emu.line, "hello me")
        assert caught.value.status == 400
        async with httpx.AsyncClient(base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
            response = await http.post(
                "/v3/chats",
                json={"from": emu.line, "to": [emu.line], "message": {"parts": [{"type": "text", "value": "hi"}]}},
            )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == 1005


async def test_a_person_writing_again_reuses_their_chat_even_after_group_changes_and_reset(
    emu: Emulator, client: linq.AsyncLinqAPIV3
) -> None:
    first = await emu.inbound(PERSON, "hi")
    assert (await emu.inbound(PERSON, "again"))["chat_id"] == first["chat_id"]
    group = await emu.inbound(PERSON, "team", group=[OTHER, THIRD])
    assert group["chat_id"] != first["chat_id"]
    await client.chats.participants.add(group["chat_id"], handle="+15550001234")
    joined = await emu.inbound("+15550001234", "me too", group=[PERSON, OTHER, THIRD])
    assert joined["chat_id"] == group["chat_id"]  # the newcomer's set now matches the grown group
    await emu.reset()
    assert (await emu.inbound(PERSON, "after reset"))["chat_id"] not in (first["chat_id"], group["chat_id"])
