"""Drive every endpoint with the official SDK (async and sync) and validate each raw response strictly."""

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import linq
import pydantic
import pytest
from linq.types import (
    AttachmentCreateResponse,
    AttachmentRetrieveResponse,
    AvailableNumberRetrieveResponse,
    BlockedHandleBlockResponse,
    BlockedHandleListResponse,
    Chat,
    ChatCreateResponse,
    ChatLeaveChatResponse,
    ChatSendVoicememoResponse,
    ChatUpdateResponse,
    ContactCardRetrieveResponse,
    ExperienceListResponse,
    ExperienceRetrieveResponse,
    HandleCheckResponse,
    Message,
    MessageAddReactionResponse,
    MessageCreateResponse,
    MessageUpdateAppCardResponse,
    MessageUpdateStickerPlacementResponse,
    PhoneNumberListResponse,
    PhonenumberListResponse,
    PhoneNumberUpdateResponse,
    ReputationAudit,
    ReputationAuditStarted,
    SetContactCard,
    WebhookEventListResponse,
    WebhookSubscription,
    WebhookSubscriptionCreateResponse,
    WebhookSubscriptionListResponse,
)
from linq.types.chats import (
    GetChatLocationResponse,
    LocationRequestResponse,
    MessageSendResponse,
    ParticipantAddResponse,
    ParticipantRemoveResponse,
    PollEnvelope,
    StopChatLocationSharingResponse,
)

from linqbot.emulator import Emulator
from tests.emulator.conftest import FOURTH, OTHER, PERSON, THIRD, strict

M = TypeVar("M", bound=pydantic.BaseModel)
TRACE = re.compile(r"[0-9a-f]{32}")
Runner = Callable[..., Awaitable[Any]]
TEXT = {"parts": [{"type": "text", "value": "Hello from the emulator"}]}


async def call(model: type[M] | None, request: Awaitable[Any], status: int | None = None) -> M | None:
    """Run a ``with_raw_response`` call; check the trace header and validate the body strictly."""
    response = await request
    assert TRACE.fullmatch(response.headers["x-trace-id"])
    if status is not None:
        assert response.status_code == status
    if model is None:
        assert response.status_code in (200, 202, 204)
        return None
    return strict(model, response.http_response.text)


def check_page(raw: str, key: str, model: type[pydantic.BaseModel]) -> list[Any]:
    body = pydantic.TypeAdapter(dict[str, Any]).validate_json(raw)
    assert set(body) == {key, "next_cursor"}
    return [strict(model, pydantic.TypeAdapter(Any).dump_json(item)) for item in body[key]]


async def every_endpoint(emu: Emulator, api: Any, run: Runner) -> None:
    """One scenario touching every endpoint; ``run`` hides whether the SDK client is sync or async."""
    line = emu.line
    emu.set_person(PERSON, share_location=True)

    numbers = await call(PhoneNumberListResponse, run(api.phone_numbers.list))
    assert numbers and numbers.phone_numbers[0].phone_number == line
    with pytest.warns(DeprecationWarning):
        await call(PhonenumberListResponse, run(api.phonenumbers.list))
    updated = await call(
        PhoneNumberUpdateResponse,
        run(api.phone_numbers.update, numbers.phone_numbers[0].id, forwarding_number="+15557654321"),
    )
    assert updated and updated.forwarding_number == "+15557654321"
    await call(AvailableNumberRetrieveResponse, run(api.available_number.retrieve))
    started = await call(ReputationAuditStarted, run(api.phone_numbers.start_reputation_audit, line), status=202)
    assert started
    await call(ReputationAudit, run(api.phone_numbers.get_reputation_audit, started.audit_id, phone_number=line))

    created = await call(ChatCreateResponse, run(api.chats.create, from_=line, to=[PERSON], message=TEXT))
    assert created and not created.chat.is_group
    chat_id = created.chat.id
    await call(Chat, run(api.chats.retrieve, chat_id))
    listed = await run(api.chats.list_chats, from_=line, limit=1)
    assert [c.id for c in check_page(listed.http_response.text, "chats", Chat)] == [chat_id]
    sent = await call(MessageSendResponse, run(api.chats.messages.send, chat_id, message=TEXT))
    assert sent
    page = await run(api.chats.messages.list, chat_id)
    assert len(check_page(page.http_response.text, "messages", Message)) == 2

    via_line = await call(MessageCreateResponse, run(api.messages.create, to=[PERSON], message=TEXT), status=202)
    assert via_line and via_line.from_selection.reason == "reused_active_chat" and via_line.chat_id == chat_id
    message_id = sent.message.id
    await call(Message, run(api.messages.retrieve, message_id))
    edited = await call(Message, run(api.messages.update, message_id, text="Edited text"))
    assert edited and edited.model_dump()["parts"][0]["value"] == "Edited text"
    await call(MessageAddReactionResponse, run(api.messages.add_reaction, message_id, operation="add", type="love"))
    await call(MessageAddReactionResponse, run(api.messages.add_reaction, message_id, operation="remove", type="love"))
    await call(
        MessageAddReactionResponse,
        run(api.messages.add_reaction, message_id, operation="add", type="sticker", emoji="🎉"),
    )
    with_sticker = await call(Message, run(api.messages.retrieve, message_id))
    assert with_sticker
    sticker_id = with_sticker.model_dump()["parts"][0]["reactions"][0]["id"]
    await call(
        MessageUpdateStickerPlacementResponse,
        run(api.messages.update_sticker_placement, sticker_id, message_id=message_id, placement={"x": 0.5}),
    )
    reply = await call(
        MessageSendResponse,
        run(
            api.chats.messages.send,
            chat_id,
            message={**TEXT, "reply_to": {"message_id": message_id}},
        ),
    )
    assert reply
    thread = await run(api.messages.list_messages_thread, message_id, order="asc")
    assert [m.id for m in check_page(thread.http_response.text, "messages", Message)] == [message_id, reply.message.id]
    await call(None, run(api.messages.delete, reply.message.id))

    card = {
        "type": "imessage_app",
        "app": {"bundle_id": "com.example.app", "name": "Example", "team_id": "ABCDE12345"},
        "layout": {"caption": "Order #1"},
        "url": "https://example.com/o/1",
    }
    app_msg = await call(MessageSendResponse, run(api.chats.messages.send, chat_id, message={"parts": [card]}))
    assert app_msg
    await emu.wait_for_message(status="sent", text="")
    await call(
        MessageUpdateAppCardResponse,
        run(api.messages.update_app_card, app_msg.message.id, layout={"caption": "Shipped"}),
    )

    await call(None, run(api.chats.typing.start, chat_id), status=204)
    await call(None, run(api.chats.typing.stop, chat_id), status=204)
    await call(None, run(api.chats.mark_as_read, chat_id))
    await call(SetContactCard, run(api.contact_card.create, phone_number=line, first_name="Linq", last_name="Shop"))
    await call(ContactCardRetrieveResponse, run(api.contact_card.retrieve))
    await call(SetContactCard, run(api.contact_card.update, phone_number=line, first_name="Linq Store"))
    await call(None, run(api.chats.share_contact_card, chat_id))
    await call(
        ChatSendVoicememoResponse, run(api.chats.send_voicememo, chat_id, voice_memo_url="https://example.com/memo.m4a")
    )
    await call(LocationRequestResponse, run(api.chats.location.request, chat_id))
    located = await call(GetChatLocationResponse, run(api.chats.location.retrieve, chat_id))
    assert located and located.data.features[0].properties.handle == PERSON
    await call(StopChatLocationSharingResponse, run(api.chats.location.stop, chat_id, handle=PERSON), status=202)
    await call(None, run(api.chats.background.set, chat_id, type="color", shades=["#FF0000", "#0000FF"]), status=202)
    await call(None, run(api.chats.background.remove, chat_id))
    poll = await call(
        PollEnvelope, run(api.chats.polls.create, chat_id, poll={"options": [{"text": "A"}, {"text": "B"}]})
    )
    assert poll
    await call(PollEnvelope, run(api.messages.poll.retrieve, poll.message_id))
    await call(PollEnvelope, run(api.messages.poll.add_options, poll.message_id, options=[{"text": "C"}]))
    voted = await call(
        PollEnvelope,
        run(api.messages.poll.vote, poll.message_id, operation="add", option_id=poll.poll.options[0].option_id),
    )
    assert voted and voted.poll.total_voters == 1

    group = await call(ChatCreateResponse, run(api.chats.create, from_=line, to=[PERSON, OTHER, THIRD], message=TEXT))
    assert group and group.chat.is_group
    await call(ChatUpdateResponse, run(api.chats.update, group.chat.id, display_name="Team"))
    await call(ParticipantAddResponse, run(api.chats.participants.add, group.chat.id, handle=FOURTH))
    await call(ParticipantRemoveResponse, run(api.chats.participants.remove, group.chat.id, handle=FOURTH))
    await call(ChatLeaveChatResponse, run(api.chats.leave_chat, group.chat.id))

    upload = await call(
        AttachmentCreateResponse, run(api.attachments.create, filename="a.png", content_type="image/png", size_bytes=4)
    )
    assert upload
    async with httpx.AsyncClient() as http:
        put = await http.put(upload.upload_url, content=b"\x89PNG", headers=upload.required_headers)
        assert put.status_code == 200
        assert (await http.get(upload.download_url)).content == b"\x89PNG"
    attachment = await call(AttachmentRetrieveResponse, run(api.attachments.retrieve, upload.attachment_id))
    assert attachment and attachment.status == "complete"
    media = {"parts": [{"type": "media", "attachment_id": upload.attachment_id}]}
    await call(MessageSendResponse, run(api.chats.messages.send, chat_id, message=media))
    await call(None, run(api.attachments.delete, upload.attachment_id), status=204)

    await call(HandleCheckResponse, run(api.capability.check_i_message, address=PERSON))
    await call(HandleCheckResponse, run(api.capability.check_RCS, address=PERSON))

    sub = await call(
        WebhookSubscriptionCreateResponse,
        run(
            api.webhook_subscriptions.create,
            target_url="http://127.0.0.1:9/hook",
            subscribed_events=["message.received"],
        ),
        status=201,
    )
    assert sub and sub.signing_secret.startswith("whsec_")
    await call(WebhookSubscriptionListResponse, run(api.webhook_subscriptions.list))
    await call(WebhookSubscription, run(api.webhook_subscriptions.retrieve, sub.id))
    changed = await call(
        WebhookSubscription, run(api.webhook_subscriptions.update, sub.id, is_active=False, phone_numbers=[line])
    )
    assert changed and changed.is_active is False and changed.phone_numbers == [line]
    await call(None, run(api.webhook_subscriptions.delete, sub.id))
    events = await call(WebhookEventListResponse, run(api.webhook_events.list))
    assert events and "message.received" in events.events

    await call(BlockedHandleBlockResponse, run(api.blocked_handles.block, handle=OTHER, reason="spam"))
    blocked = await call(BlockedHandleListResponse, run(api.blocked_handles.list))
    assert blocked and [b.handle for b in blocked.blocked_handles] == [OTHER]
    await call(None, run(api.blocked_handles.unblock, handle=OTHER))

    await call(ExperienceListResponse, run(api.experiences.list))
    await call(ExperienceRetrieveResponse, run(api.experiences.retrieve, "link"))


async def test_async_sdk_every_endpoint(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    def run(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return fn(*args, **kwargs)

    await every_endpoint(emu, client.with_raw_response, run)


async def test_sync_sdk_every_endpoint(emu: Emulator, sync_client: linq.LinqAPIV3) -> None:
    """The sync client runs in a worker thread because the emulator serves on this test's loop."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return asyncio.to_thread(fn, *args, **kwargs)

    await every_endpoint(emu, sync_client.with_raw_response, run)
    chats = await asyncio.to_thread(lambda: [c.id for c in sync_client.chats.list_chats(limit=1)])
    assert len(chats) == 2  # the SDK's auto-pagination followed next_cursor


async def test_errors_use_the_linq_envelope(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    bad_key = linq.AsyncLinqAPIV3(api_key="wrong", base_url=emu.base_url, max_retries=0)
    try:
        await bad_key.chats.list_chats()
        raise AssertionError("expected 401")
    except linq.AuthenticationError as exc:
        assert exc.code == 2004 and exc.doc_url
    try:
        await client.chats.retrieve("missing")
        raise AssertionError("expected 404")
    except linq.NotFoundError as exc:
        assert exc.code == 2001
        body = exc.response.json()
        assert set(body) == {"success", "error", "trace_id"} and body["success"] is False
        assert body["trace_id"] == exc.response.headers["x-trace-id"]
        assert set(body["error"]) == {"status", "code", "message", "doc_url"}
