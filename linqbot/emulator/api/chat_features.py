"""iMessage chat features: location sharing, chat backgrounds and polls."""

import re
from datetime import timedelta
from typing import Any

from aiohttp import web

from linqbot.emulator import render
from linqbot.emulator.api.common import PREFIX, empty, engine, json_body, ok, opt_str, req_str, trace_id
from linqbot.emulator.clock import iso
from linqbot.emulator.content import is_url
from linqbot.emulator.errors import ApiError, invalid, missing
from linqbot.emulator.rules import normalize_handle
from linqbot.emulator.state import Chat, LocationShare, Message, PollOption

HEX_COLOR = re.compile(r"#?[0-9A-Fa-f]{6}")
SHARE_DURATION = timedelta(hours=1)
routes = web.RouteTableDef()


def _imessage_dm(chat: Chat) -> None:
    if chat.is_group:
        raise ApiError(409, 2016, "Not supported in group chats")
    if chat.service != "iMessage":
        raise ApiError(409, 2017, f"Not supported on {chat.service} chats")


@routes.post(f"{PREFIX}/chats/{{chat_id}}/location/request")
async def request_location(request: web.Request) -> web.Response:
    """The simulated contact accepts at once unless scripted with ``share_location: false``."""
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    _imessage_dm(chat)
    handle = chat.others()[0].handle
    if any(s.handle == handle and s.line == chat.line for s in emu.state.location_shares):
        raise ApiError(409, 2015, f"{handle} is already sharing their location")
    if emu.person(handle).share_location:
        now = emu.clock.now()
        share = LocationShare(
            handle=handle, line=chat.line, chat_id=chat.id, began_at=now, ends_at=now + SHARE_DURATION
        )
        emu.state.location_shares.append(share)
        emu.notify("location.sharing", {"chat_id": chat.id, "handle": handle, "sharing": True})
        data = {
            "shared_by": handle,
            "shared_with": chat.line,
            "chat_id": chat.id,
            "began_at": iso(share.began_at),
            "ends_at": iso(now + SHARE_DURATION),
        }
        emu.emit("location.sharing.started", data, chat=chat, trace_id=trace_id(request))
    return ok({"success": True, "message": "Location request sent"})


@routes.get(f"{PREFIX}/chats/{{chat_id}}/location")
async def get_location(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_chat(request.match_info["chat_id"])
    members = {p.handle for p in chat.others()}
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [s.longitude, s.latitude]},
            "properties": {"handle": s.handle, "updated_at": iso(emu.clock.now())},
        }
        for s in emu.state.location_shares
        if s.line == chat.line and s.handle in members
    ]
    return ok({"success": True, "data": {"type": "FeatureCollection", "features": features}})


@routes.delete(f"{PREFIX}/chats/{{chat_id}}/location")
async def stop_location(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    handle = normalize_handle(req_str(await json_body(request), "handle"))
    shares = [s for s in emu.state.location_shares if s.handle == handle and s.line == chat.line]
    if not shares:
        raise ApiError(404, 1005, f"{handle} is not sharing their location")
    now = emu.clock.now()
    for share in shares:
        emu.state.location_shares.remove(share)
        data = {
            "shared_by": handle,
            "shared_with": share.line,
            "chat_id": share.chat_id,
            "began_at": iso(share.began_at),
            "ended_at": iso(now),
        }
        emu.notify("location.sharing", {"chat_id": share.chat_id, "handle": handle, "sharing": False})
        emu.emit(
            "location.sharing.stopped",
            data,
            chat=emu.state.chats.get(share.chat_id),
            line=share.line,
            trace_id=trace_id(request),
        )
    return ok({"success": True, "message": "Location sharing stop requested"}, status=202)


def _background(body: dict[str, Any]) -> dict[str, Any]:
    kind = req_str(body, "type")
    if kind not in ("color", "dynamic", "photo"):
        raise invalid("type must be color, dynamic or photo")
    background: dict[str, Any] = {"type": kind}
    for key in ("variant", "style", "image_url"):
        value = opt_str(body, key)
        if value is not None:
            background[key] = value
    if background.get("style") not in (None, "sky", "water", "aurora"):
        raise invalid("style must be sky, water or aurora")
    shades = body.get("shades")
    if shades is not None:
        if (
            not isinstance(shades, list)
            or len(shades) != 2
            or not all(isinstance(s, str) and HEX_COLOR.fullmatch(s) for s in shades)
        ):
            raise invalid("shades must be two hex colours")
        background["shades"] = shades
    if kind == "photo":
        if "image_url" not in background:
            raise missing("image_url")
        if not is_url(background["image_url"]) or not background["image_url"].startswith("https://"):
            raise ApiError(400, 5007, "image_url must be a public HTTPS image")
    return background


async def _set_background(request: web.Request, background: dict[str, Any] | None) -> None:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    if chat.service != "iMessage":
        raise ApiError(409, 2017, "Backgrounds are iMessage only")
    chat.background = background
    emu.notify("chat.updated", emu.chat_view(chat))
    data = {"chat": render.chat_stub(chat), "actor_handle": render.handle(chat.me()), "background": background}
    emu.emit("chat.background_updated", data, chat=chat, trace_id=trace_id(request))


@routes.post(f"{PREFIX}/chats/{{chat_id}}/background")
async def set_background(request: web.Request) -> web.Response:
    engine(request).get_active_chat(request.match_info["chat_id"])
    await _set_background(request, _background(await json_body(request)))
    return empty(202)


@routes.delete(f"{PREFIX}/chats/{{chat_id}}/background")
async def remove_background(request: web.Request) -> web.Response:
    await _set_background(request, None)
    return empty()


def poll_options(raw: object, creator: str) -> list[PollOption]:
    if not isinstance(raw, list) or not raw:
        raise missing("options")
    options = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            raise invalid("each option needs a non-empty text")
        options.append(PollOption(text=item["text"], creator=creator))
    return options


@routes.post(f"{PREFIX}/chats/{{chat_id}}/polls")
async def create_poll(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    body = await json_body(request)
    poll = body.get("poll")
    if not isinstance(poll, dict):
        raise missing("poll")
    options = poll_options(poll.get("options"), chat.line)
    if len(options) < 2:
        raise invalid("a poll needs at least 2 options")
    if chat.service != "iMessage":
        raise ApiError(409, 2017, "Polls are iMessage only")
    key = opt_str(poll, "idempotency_key")
    message = emu.idempotent_replay(key)
    if message is None:
        now = emu.clock.now()
        message = Message(
            chat_id=chat.id,
            direction="outbound",
            sender=chat.line,
            parts=[],
            service=chat.service,
            delivery_status="sent",
            created_at=now,
            updated_at=now,
            sent_at=now,
            poll=options,
            idempotency_key=key,
        )
        emu.state.messages[message.id] = message
        if key is not None:
            emu.state.idempotency[key] = message.id
        emu.notify("message.created", emu.message_view(message))
        data = {
            "chat": render.chat_stub(chat),
            "message_id": message.id,
            "direction": "outbound",
            "service": chat.service,
            "created_at": iso(now),
            "updated_at": iso(now),
            "poll": render.poll(chat, message),
            "sender_handle": render.handle(chat.me()),
            "sent_at": iso(now),
        }
        emu.emit("poll.sent", data, chat=chat, trace_id=trace_id(request))
    return ok(render.poll_envelope(chat, message))
