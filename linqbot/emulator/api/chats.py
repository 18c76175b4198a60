"""``/v3/chats``: create (with first message), list, get, rename, leave, read, typing, participants, card share."""

from datetime import timedelta

from aiohttp import web

from linqbot.emulator import render
from linqbot.emulator.api.common import (
    PREFIX,
    empty,
    engine,
    json_body,
    ok,
    opt_bool,
    opt_str,
    page,
    req_str,
    str_list,
    trace_id,
)
from linqbot.emulator.clock import iso
from linqbot.emulator.content import is_url, parse_content
from linqbot.emulator.errors import ApiError, bad_phone, invalid, missing, rate_limited
from linqbot.emulator.rules import first_message_violation, is_handle, normalize_handle
from linqbot.emulator.state import Chat, Participant

MAX_RECIPIENTS = 31
CARD_SHARE_INTERVAL = timedelta(minutes=5)
routes = web.RouteTableDef()


def recipients(raw: list[str], own_line: str) -> list[str]:
    """Validated, normalised, de-duplicated recipient handles (1001 / 1002 / 1005)."""
    if not raw:
        raise missing("to")
    if len(raw) > MAX_RECIPIENTS:
        raise invalid(f"at most {MAX_RECIPIENTS} recipients")
    handles: list[str] = []
    for value in raw:
        if not is_handle(value):
            raise bad_phone(value)
        handle = normalize_handle(value)
        if handle == own_line:
            raise invalid("a chat cannot include the sending line as a recipient")
        if handle not in handles:
            handles.append(handle)
    return handles


@routes.post(f"{PREFIX}/chats")
async def create_chat(request: web.Request) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    line = emu.get_line(body.get("from"))
    handles = recipients(str_list(body, "to") or [], line.phone_number)
    content = parse_content(body.get("message"), emu.attachment, emu.file_url)
    override = opt_bool(body, "override_optout")
    message = emu.idempotent_replay(content.idempotency_key)
    if message is not None:
        chat = emu.get_chat(message.chat_id)
    else:
        found = emu.find_chat(line.phone_number, set(handles))
        if found is None:
            reason = first_message_violation(content.parts, content.effect is not None, content.reply_to is not None)
            if reason:
                raise invalid(reason)
            emu.check_recipients(line, handles, is_group=len(handles) > 1, override_optout=override)
            found = emu.new_chat(line, handles, trace_id(request))
        chat = found
        message = emu.send(chat, content, override_optout=override, trace_id=trace_id(request))
    return ok(
        {
            "chat": {
                "id": chat.id,
                "display_name": render.display_name(chat),
                "handles": [render.handle(p) for p in chat.participants],
                "health_status": render.health(chat),
                "is_group": chat.is_group,
                "service": chat.service,
                "message": render.sent_message(chat, message),
            }
        }
    )


@routes.get(f"{PREFIX}/chats")
async def list_chats(request: web.Request) -> web.Response:
    emu = engine(request)
    from_, to = request.query.get("from"), request.query.get("to")
    if from_ is not None:
        emu.get_line(from_)
    if to is not None and not is_handle(to):
        raise bad_phone(to)
    chats = sorted(emu.state.chats.values(), key=lambda c: c.updated_at, reverse=True)
    chats = [
        c
        for c in chats
        if (from_ is None or c.line == from_) and (to is None or c.member(normalize_handle(to)) is not None)
    ]
    return page([render.chat(c) for c in chats], request, "chats", 20)


@routes.get(f"{PREFIX}/chats/{{chat_id}}")
async def get_chat(request: web.Request) -> web.Response:
    return ok(render.chat(engine(request).get_chat(request.match_info["chat_id"])))


@routes.put(f"{PREFIX}/chats/{{chat_id}}")
async def update_chat(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    body = await json_body(request)
    name, icon = opt_str(body, "display_name"), opt_str(body, "group_chat_icon")
    if name is None and icon is None:
        raise missing("display_name or group_chat_icon")
    if not chat.is_group:
        raise ApiError(409, 1006, "Only group chats can be renamed or given an icon")
    if icon is not None and not is_url(icon):
        raise ApiError(400, 5007, "group_chat_icon must be a downloadable image URL")
    now = emu.clock.now()
    me = render.handle(chat.me())
    for event, attr, value in (
        ("chat.group_name_updated", "display_name", name),
        ("chat.group_icon_updated", "group_chat_icon", icon),
    ):
        if value is None:
            continue
        old = getattr(chat, attr)
        setattr(chat, attr, value)
        data = {
            "chat_id": chat.id,
            "updated_at": iso(now),
            "changed_by_handle": me,
            "old_value": old,
            "new_value": value,
        }
        emu.notify("chat.updated", emu.chat_view(chat))
        emu.emit(event, data, chat=chat, trace_id=trace_id(request))
    chat.updated_at = now
    return ok({"chat_id": chat.id, "status": "accepted"})


@routes.post(f"{PREFIX}/chats/{{chat_id}}/leave")
async def leave_chat(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    if not chat.is_group or chat.service != "iMessage":
        raise ApiError(409, 2015, "Only iMessage group chats can be left")
    if len(chat.others()) + 1 < 4:
        raise ApiError(409, 2015, "A group needs at least 4 active participants (you included) to leave")
    me = chat.me()
    now = emu.clock.now()
    me.status, me.left_at, chat.left = "left", now, True
    emu.notify("chat.updated", emu.chat_view(chat))
    data = {"handle": me.handle, "chat_id": chat.id, "participant": render.handle(me), "removed_at": iso(now)}
    emu.emit("participant.removed", data, chat=chat, trace_id=trace_id(request))
    return ok({"status": "accepted", "message": "Leaving chat", "trace_id": trace_id(request)})


@routes.post(f"{PREFIX}/chats/{{chat_id}}/read")
async def mark_read(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    now = emu.clock.now()
    for message in emu.state.messages.values():
        if message.chat_id == chat.id and message.direction == "inbound" and message.read_at is None:
            message.read_at, message.delivery_status, message.updated_at = now, "read", now
            emu.notify("message.status", emu.message_view(message))
    return empty()


@routes.post(f"{PREFIX}/chats/{{chat_id}}/share_contact_card")
async def share_contact_card(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    card = emu.state.contact_cards.get(chat.line)
    if card is None or not card.is_active:
        raise ApiError(404, 2012, f"No active contact card for {chat.line}")
    now = emu.clock.now()
    if chat.last_card_share is not None and now - chat.last_card_share < CARD_SHARE_INTERVAL:
        wait = CARD_SHARE_INTERVAL - (now - chat.last_card_share)
        raise rate_limited(max(1, int(wait.total_seconds())))
    chat.last_card_share = now
    emu.notify("contact_card.shared", {"chat_id": chat.id, "phone_number": chat.line})
    return empty()


async def _typing(request: web.Request, on: bool) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    if chat.is_group:
        raise ApiError(403, 2016, "Typing indicators are only supported in direct chats")
    if chat.service == "iMessage":
        emu.set_typing(chat, chat.line, on, trace_id=trace_id(request))
    return empty()


@routes.post(f"{PREFIX}/chats/{{chat_id}}/typing")
async def start_typing(request: web.Request) -> web.Response:
    return await _typing(request, True)


@routes.delete(f"{PREFIX}/chats/{{chat_id}}/typing")
async def stop_typing(request: web.Request) -> web.Response:
    return await _typing(request, False)


async def _participant_request(request: web.Request) -> tuple[Chat, str]:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    body = await json_body(request)
    handle = req_str(body, "handle")
    if not is_handle(handle):
        raise bad_phone(handle)
    if not chat.is_group:
        raise ApiError(409, 2016, "Participants can only be changed in group chats")
    return chat, normalize_handle(handle)


@routes.post(f"{PREFIX}/chats/{{chat_id}}/participants")
async def add_participant(request: web.Request) -> web.Response:
    emu = engine(request)
    chat, handle = await _participant_request(request)
    if chat.member(handle) is not None:
        raise ApiError(409, 2015, f"{handle} is already in the chat")
    if chat.service == "iMessage" and "@" not in handle and not emu.person(handle).imessage:
        raise ApiError(409, 2015, "New participants must use the group's service")
    now = emu.clock.now()
    participant = Participant(handle=handle, joined_at=now, service=chat.service)
    chat.participants.append(participant)
    emu.index_participant(chat, handle)
    chat.updated_at = now
    emu.notify("chat.updated", emu.chat_view(chat))
    data = {"handle": handle, "chat_id": chat.id, "participant": render.handle(participant), "added_at": iso(now)}
    emu.emit("participant.added", data, chat=chat, trace_id=trace_id(request))
    return ok({"status": "accepted", "message": "Participant addition queued", "trace_id": trace_id(request)})


@routes.delete(f"{PREFIX}/chats/{{chat_id}}/participants")
async def remove_participant(request: web.Request) -> web.Response:
    emu = engine(request)
    chat, handle = await _participant_request(request)
    participant = chat.member(handle)
    if participant is None or participant.is_me:
        raise invalid(f"{handle} is not a participant of this chat")
    if len(chat.others()) < 3:  # afterwards: you + (others - 1) participants
        raise ApiError(409, 2015, "At least 3 participants must remain in the group")
    now = emu.clock.now()
    participant.status, participant.left_at = "removed", now
    chat.updated_at = now
    emu.notify("chat.updated", emu.chat_view(chat))
    data = {"handle": handle, "chat_id": chat.id, "participant": render.handle(participant), "removed_at": iso(now)}
    emu.emit("participant.removed", data, chat=chat, trace_id=trace_id(request))
    return ok({"status": "accepted", "message": "Participant removal queued", "trace_id": trace_id(request)})
