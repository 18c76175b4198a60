"""``/v3/messages``: line-selecting send, get, edit, delete, reactions, stickers, threads, app cards, polls."""

from datetime import timedelta
from typing import Any

from aiohttp import web

from linqbot.emulator import render
from linqbot.emulator.api.chat_features import poll_options
from linqbot.emulator.api.chats import recipients
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
from linqbot.emulator.content import Content, parse_content
from linqbot.emulator.engine import Engine
from linqbot.emulator.errors import ApiError, bad_parts, invalid, missing
from linqbot.emulator.state import Chat, Line, Message

EDIT_WINDOW = timedelta(minutes=15)
MAX_EDITS = 5
routes = web.RouteTableDef()


def _pick_line(emu: Engine, handles: list[str], exclude: list[str]) -> tuple[Line, Chat | None, str, Chat | None]:
    """Linq's line selection: reuse a chat, else the least-used healthy line, failing over flagged lines."""
    candidates = [line for line in emu.state.lines if line.phone_number not in exclude]
    if not candidates:
        raise invalid("exclude_from excludes every line")
    for line in candidates:
        chat = emu.find_chat(line.phone_number, set(handles))
        if chat is None:
            continue
        if line.status != "FLAGGED":
            return line, chat, "reused_active_chat", None
        eligible = [c for c in candidates if c.status != "FLAGGED"]
        if not eligible:
            break
        return min(eligible, key=lambda c: c.uses), None, "failover_flagged", chat
    eligible = [c for c in candidates if c.status != "FLAGGED"]
    if not eligible:
        raise ApiError(409, 2015, "None of your lines is eligible to send right now")
    return min(eligible, key=lambda c: c.uses), None, "new_best_number", None


def _create_response(chat: Chat, message: Message, reason: str, created: bool, previous: str | None) -> dict[str, Any]:
    return {
        "chat_id": chat.id,
        "created_new_chat": created,
        "from": chat.line,
        "from_selection": {"reason": reason, "reused_existing_chat": reason == "reused_active_chat"},
        "handles": [render.handle(p) for p in chat.participants],
        "is_group": chat.is_group,
        "message": render.sent_message(chat, message),
        "service": chat.service,
        "previous_chat_id": previous,
    }


@routes.post(f"{PREFIX}/messages")
async def create_message(request: web.Request) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    raw_to = str_list(body, "to") or []
    exclude = str_list(body, "exclude_from", required=False) or []
    content = parse_content(body.get("message"), emu.attachment, emu.file_url)
    content.idempotency_key = content.idempotency_key or request.headers.get("Idempotency-Key")
    override = opt_bool(body, "override_optout")
    replay = emu.idempotent_replay(content.idempotency_key)
    if replay is not None:
        replay_chat = emu.get_chat(replay.chat_id)
        return ok(_create_response(replay_chat, replay, "reused_active_chat", False, None), status=202)
    handles = recipients(raw_to, "")
    line, chat, reason, previous = _pick_line(emu, handles, exclude)
    created = chat is None
    if chat is None:
        emu.check_recipients(line, handles, is_group=len(handles) > 1, override_optout=override)
        chat = emu.new_chat(line, handles, trace_id(request))
    message = emu.send(chat, content, override_optout=override, trace_id=trace_id(request))
    response = _create_response(chat, message, reason, created, previous.id if previous else None)
    return ok(response, status=202)


def _message(request: web.Request) -> tuple[Engine, Message, Chat]:
    emu = engine(request)
    message = emu.get_message(request.match_info["message_id"])
    return emu, message, emu.get_chat(message.chat_id)


@routes.get(f"{PREFIX}/messages/{{message_id}}")
async def get_message(request: web.Request) -> web.Response:
    _, message, chat = _message(request)
    return ok(render.message(chat, message))


@routes.patch(f"{PREFIX}/messages/{{message_id}}")
async def edit_message(request: web.Request) -> web.Response:
    """Edit a text part: your own messages, at most 5 edits, within 15 minutes (emulator clock)."""
    emu, message, chat = _message(request)
    body = await json_body(request)
    text = req_str(body, "text")
    index = body.get("part_index", 0)
    if not isinstance(index, int) or isinstance(index, bool):
        raise invalid("part_index must be an integer")
    if message.direction != "outbound":
        raise invalid("Only messages sent by your line can be edited")
    if not text:
        raise bad_parts("text must not be empty")
    if not 0 <= index < len(message.parts) or message.parts[index]["type"] != "text":
        raise bad_parts(f"part {index} is not a text part")
    now = emu.clock.now()
    if now - message.created_at > EDIT_WINDOW:
        raise invalid("Messages can only be edited within 15 minutes of sending")
    if message.edit_count >= MAX_EDITS:
        raise invalid("A message can be edited at most 5 times")
    message.parts[index] = {**message.parts[index], "value": text}
    message.edit_count += 1
    message.updated_at = now
    emu.notify("message.edited", emu.message_view(message))
    data = {
        "id": message.id,
        "chat": {
            "id": chat.id,
            "health_status": render.health(chat),
            "is_group": chat.is_group,
            "owner_handle": render.handle(chat.me()),
        },
        "direction": message.direction,
        "edited_at": iso(now),
        "part": {"index": index, "text": text},
        "sender_handle": render.participant_handle(chat, message.sender),
    }
    emu.emit("message.edited", data, chat=chat, trace_id=trace_id(request))
    return ok(render.message(chat, message))


@routes.delete(f"{PREFIX}/messages/{{message_id}}")
async def delete_message(request: web.Request) -> web.Response:
    """Removes it from the API only (never unsends); its idempotency key then answers 404."""
    emu, message, _ = _message(request)
    del emu.state.messages[message.id]
    if message.idempotency_key is not None:
        emu.state.idempotency[message.idempotency_key] = None
    emu.notify("message.deleted", {"id": message.id, "chat_id": message.chat_id})
    return empty()


def _placement(raw: object) -> dict[str, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("placement must be an object")
    placement: dict[str, float] = {}
    for key, low, high in (("x", -1.0, 1.0), ("y", -1.0, 1.0), ("scale", 0.05, 2.5), ("rotation", -3600.0, 3600.0)):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise invalid(f"placement.{key} must be a number")
        placement[key] = min(max(float(value), low), high) if key == "scale" else float(value)
        if key != "scale" and not low <= placement[key] <= high:
            raise invalid(f"placement.{key} must be between {low} and {high}")
    return placement


@routes.post(f"{PREFIX}/messages/{{message_id}}/reactions")
async def add_reaction(request: web.Request) -> web.Response:
    emu, message, chat = _message(request)
    body = await json_body(request)
    operation, kind = req_str(body, "operation"), req_str(body, "type")
    part_index = body.get("part_index", 0)
    if not isinstance(part_index, int) or isinstance(part_index, bool):
        raise invalid("part_index must be an integer")
    custom_emoji = opt_str(body, "custom_emoji")
    if kind == "custom" and not custom_emoji:
        raise missing("custom_emoji")
    sticker: dict[str, Any] | None = None
    if kind == "sticker":
        sources = {k: opt_str(body, k) for k in ("emoji", "url", "attachment_id")}
        given = {k: v for k, v in sources.items() if v}
        if len(given) != 1:
            raise invalid("a sticker needs exactly one of emoji, url, attachment_id")
        if operation == "remove":
            raise invalid("Stickers cannot be removed")
        if chat.service != "iMessage":
            raise ApiError(409, 2017, "Stickers are iMessage only")
        if "attachment_id" in given:
            attachment = emu.attachment(given["attachment_id"])
            sticker = {
                "url": emu.file_url(attachment),
                "file_name": attachment.filename,
                "mime_type": attachment.content_type,
            }
        else:
            sticker = {"url": given.get("url"), "file_name": given.get("emoji")}
    emu.get_active_chat(chat.id)
    emu.react(
        chat,
        message,
        chat.line,
        kind,
        operation,
        custom_emoji=custom_emoji,
        sticker=sticker,
        part_index=part_index,
        placement=_placement(body.get("placement")),
        trace_id=trace_id(request),
    )
    verb = "added" if operation == "add" else "removed"
    return ok({"status": "accepted", "message": f"Reaction {verb}", "trace_id": trace_id(request)})


@routes.patch(f"{PREFIX}/messages/{{message_id}}/reactions/{{reaction_id}}")
async def move_sticker(request: web.Request) -> web.Response:
    emu, message, _ = _message(request)
    body = await json_body(request)
    if body.get("placement") is None:
        raise missing("placement")
    placement = _placement(body["placement"]) or {}
    reaction = next((r for r in message.reactions if r.id == request.match_info["reaction_id"]), None)
    if reaction is None:
        raise ApiError(404, 2002, "Reaction not found")
    if reaction.type != "sticker":
        raise invalid("Only sticker reactions can be moved")
    reaction.placement = {**(reaction.placement or {}), **placement}
    emu.notify("reaction", {"operation": "move", "reaction_id": reaction.id, "placement": reaction.placement})
    return ok({"status": "accepted", "success": True, "trace_id": trace_id(request)})


@routes.get(f"{PREFIX}/messages/{{message_id}}/thread")
async def thread(request: web.Request) -> web.Response:
    emu, message, chat = _message(request)
    order = request.query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise invalid("order must be asc or desc")

    def root_of(m: Message) -> str:
        seen = {m.id}
        while m.reply_to and m.reply_to["message_id"] in emu.state.messages:
            m = emu.state.messages[m.reply_to["message_id"]]
            if m.id in seen:
                break
            seen.add(m.id)
        return m.id

    root = root_of(message)
    members = [m for m in emu.state.messages.values() if m.chat_id == chat.id and root_of(m) == root]
    members.sort(key=lambda m: m.created_at, reverse=order == "desc")
    return page([render.message(chat, m) for m in members], request, "messages", 20)


@routes.post(f"{PREFIX}/messages/{{message_id}}/update")
async def update_app_card(request: web.Request) -> web.Response:
    emu, message, chat = _message(request)
    body = await json_body(request)
    layout = body.get("layout")
    if not isinstance(layout, dict):
        raise missing("layout")
    if message.direction != "outbound" or not message.parts or message.parts[0]["type"] != "imessage_app":
        raise bad_parts("Only your own sent imessage_app cards can be updated")
    if message.sent_at is None:
        raise ApiError(409, 2015, "The original card has not been sent yet; retry after message.sent")
    part = dict(message.parts[0])
    part["layout"] = {k: v for k, v in layout.items() if isinstance(v, str)}
    for key in ("url", "fallback_text"):
        if isinstance(body.get(key), str):
            part[key] = body[key]
    updated = emu.queue_outbound(emu.get_active_chat(chat.id), Content(parts=[part]), trace_id=trace_id(request))
    return ok({"chat_id": chat.id, "message": render.sent_message(chat, updated)})


def _poll(request: web.Request) -> tuple[Engine, Message, Chat]:
    emu, message, chat = _message(request)
    if message.poll is None:
        raise ApiError(404, 2002, "Message is not a poll")
    return emu, message, chat


@routes.get(f"{PREFIX}/messages/{{message_id}}/poll")
async def get_poll(request: web.Request) -> web.Response:
    _, message, chat = _poll(request)
    return ok(render.poll_envelope(chat, message))


@routes.post(f"{PREFIX}/messages/{{message_id}}/poll/options")
async def add_poll_options(request: web.Request) -> web.Response:
    emu, message, chat = _poll(request)
    options = poll_options((await json_body(request)).get("options"), chat.line)
    assert message.poll is not None
    message.poll.extend(options)
    message.updated_at = emu.clock.now()
    emu.notify("poll.updated", {"message_id": message.id})
    data = {
        "added_options": [render.poll_option(chat, o) for o in options],
        "chat": render.chat_stub(chat),
        "direction": "outbound",
        "message_id": message.id,
        "sender_handle": render.handle(chat.me()),
        "service": chat.service,
    }
    emu.emit("poll.updated", data, chat=chat, trace_id=trace_id(request))
    return ok(render.poll_envelope(chat, message))


@routes.post(f"{PREFIX}/messages/{{message_id}}/poll/votes")
async def vote(request: web.Request) -> web.Response:
    emu, message, chat = _poll(request)
    body = await json_body(request)
    operation, option_id = req_str(body, "operation"), req_str(body, "option_id")
    emu.vote(message, chat.line, option_id, operation, trace_id=trace_id(request))
    return ok(render.poll_envelope(chat, message))
