"""The admin API under ``/_emulator/``: simulate people, inspect state, control time and faults, stream changes."""

import asyncio
import contextlib
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from linqbot.emulator.api.common import engine, json_body, ok, opt_str, req_str, str_list, trace_id
from linqbot.emulator.clock import iso
from linqbot.emulator.errors import ApiError, invalid, missing
from linqbot.emulator.faults import FaultConfig
from linqbot.emulator.state import Person

MAX_ADVANCE = 10 * 365 * 86400
routes = web.RouteTableDef()
STREAMS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("emulator.streams", set)


async def close_streams(app: web.Application) -> None:
    """Close open change streams on shutdown; an open page would otherwise hold the server for its heartbeat."""
    for stream in list(app.get(STREAMS, ())):
        await stream.close(code=WSCloseCode.GOING_AWAY, message=b"emulator is stopping")


@routes.post("/_emulator/inbound")
async def inbound(request: web.Request) -> web.Response:
    """A simulated person sends a message, reacts, types or shares a contact card."""
    emu = engine(request)
    body = await json_body(request)
    sender = req_str(body, "from")
    to, chat_id = opt_str(body, "to"), opt_str(body, "chat_id")
    if isinstance(body.get("reaction"), dict):
        reaction: dict[str, Any] = body["reaction"]
        part_index = reaction.get("part_index", 0)
        if not isinstance(part_index, int):
            raise invalid("reaction.part_index must be an integer")
        result = emu.inbound_reaction(
            from_=sender,
            message_id=req_str(reaction, "message_id"),
            reaction_type=req_str(reaction, "type"),
            operation=opt_str(reaction, "operation") or "add",
            custom_emoji=opt_str(reaction, "custom_emoji"),
            part_index=part_index,
            trace_id=trace_id(request),
        )
    elif isinstance(body.get("vote"), dict):
        vote: dict[str, Any] = body["vote"]
        message = emu.get_message(req_str(vote, "message_id"))
        if message.poll is None:
            raise ApiError(404, 2002, "Message is not a poll")
        if emu.get_chat(message.chat_id).member(sender) is None:
            raise invalid(f"{sender} is not a member of the poll's chat")
        event_id = emu.vote(
            message, sender, req_str(vote, "option_id"), opt_str(vote, "operation") or "add", trace_id=trace_id(request)
        )
        result = {"chat_id": message.chat_id, "message_id": message.id, "event_ids": [event_id]}
    elif "typing" in body:
        if not isinstance(body["typing"], bool):
            raise invalid("typing must be a boolean")
        result = emu.inbound_typing(
            from_=sender, typing=body["typing"], chat_id=chat_id, to=to, trace_id=trace_id(request)
        )
    elif isinstance(body.get("contact_card"), dict):
        card: dict[str, Any] = body["contact_card"]
        result = emu.inbound_contact_card(
            from_=sender,
            first_name=req_str(card, "first_name"),
            last_name=opt_str(card, "last_name") or "",
            to=to,
            media_url=opt_str(card, "media_url"),
        )
    else:
        parts = body.get("parts")
        if parts is not None and not isinstance(parts, list):
            raise invalid("parts must be a list")
        reply_to = body.get("reply_to")
        if reply_to is not None and (not isinstance(reply_to, dict) or not isinstance(reply_to.get("message_id"), str)):
            raise invalid("reply_to must be an object with a message_id")
        result = emu.inbound(
            from_=sender,
            to=to,
            text=opt_str(body, "text"),
            parts=parts,
            group=str_list(body, "group", required=False),
            chat_id=chat_id,
            reply_to={"message_id": reply_to["message_id"], "part_index": reply_to.get("part_index", 0)}
            if reply_to
            else None,
            trace_id=trace_id(request),
        )
    return ok(result)


@routes.get("/_emulator/messages")
async def messages(request: web.Request) -> web.Response:
    q = request.query
    found = engine(request).messages(chat_id=q.get("chat_id"), handle=q.get("handle"), direction=q.get("direction"))
    return ok({"messages": found})


@routes.get("/_emulator/chats")
async def chats(request: web.Request) -> web.Response:
    return ok({"chats": engine(request).chats()})


@routes.get("/_emulator/webhook-log")
async def webhook_log(request: web.Request) -> web.Response:
    return ok({"deliveries": engine(request).webhooks.log})


@routes.get("/_emulator/events")
async def events(request: web.Request) -> web.Response:
    kind = request.query.get("event_type")
    return ok({"events": [e for e in engine(request).events if kind is None or e["event_type"] == kind]})


@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    await engine(request).reset()
    return ok({"reset": True})


@routes.get("/_emulator/faults")
async def get_faults(request: web.Request) -> web.Response:
    faults = engine(request).faults
    return ok({**faults.config.model_dump(), "storm_left": faults.storm_left})


@routes.post("/_emulator/faults")
async def set_faults(request: web.Request) -> web.Response:
    emu = engine(request)
    try:
        config = FaultConfig.model_validate(await json_body(request))
    except ValidationError as exc:
        raise invalid(f"invalid fault config: {exc.errors(include_url=False)}") from None
    emu.faults.configure(config)
    emu.notify("faults", config.model_dump(), persist=False)
    return ok(config.model_dump())


@routes.delete("/_emulator/faults")
async def clear_faults(request: web.Request) -> web.Response:
    emu = engine(request)
    emu.faults.configure(FaultConfig())
    emu.notify("faults", {}, persist=False)
    return ok(FaultConfig().model_dump())


@routes.get("/_emulator/people")
async def get_people(request: web.Request) -> web.Response:
    return ok({"people": [p.model_dump() for p in engine(request).state.people.values()]})


@routes.post("/_emulator/people")
async def set_person(request: web.Request) -> web.Response:
    emu = engine(request)
    try:
        person = Person.model_validate(await json_body(request))
    except ValidationError as exc:
        raise invalid(f"invalid person: {exc.errors(include_url=False)}") from None
    emu.state.people[person.handle] = person
    emu.notify("person", person.model_dump())
    return ok(person.model_dump())


@routes.post("/_emulator/clock")
async def clock(request: web.Request) -> web.Response:
    emu = engine(request)
    seconds = (await json_body(request)).get("advance")
    if seconds is None:
        raise missing("advance")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_ADVANCE:
        raise invalid(f"advance must be between 0 and {MAX_ADVANCE} seconds")
    emu.advance_clock(float(seconds))
    return ok({"now": iso(emu.clock.now()), "offset_seconds": emu.clock.offset.total_seconds()})


@routes.post("/_emulator/lines/status")
async def line_status(request: web.Request) -> web.Response:
    """Simulate a reputation/status change of a line (emits ``phone_number.status_updated``)."""
    emu = engine(request)
    body = await json_body(request)
    line = emu.get_line(body.get("phone_number"), "phone_number")
    status, reputation = opt_str(body, "status"), opt_str(body, "reputation")
    return ok(emu.set_line_status(line, status=status, reputation=reputation, trace_id=trace_id(request)))


@routes.get("/_emulator/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Streams every change as JSON ``{seq, type, at, data}``; starts with a ``hello`` snapshot."""
    emu = engine(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    streams = request.app[STREAMS]
    streams.add(ws)
    queue = emu.subscribe()
    await ws.send_json(
        {
            "seq": emu.seq,
            "type": "hello",
            "at": iso(emu.clock.now()),
            "data": {"chats": emu.chats(), "messages": emu.messages()},
        }
    )

    async def pump() -> None:
        while True:
            await ws.send_json(await queue.get())

    sender = asyncio.get_running_loop().create_task(pump())
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        streams.discard(ws)
        emu.unsubscribe(queue)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, ApiError):
            await sender
    return ws
