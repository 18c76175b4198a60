"""``/v3/blocked_handles``: block (idempotent), list newest first, unblock."""

import re

from aiohttp import web

from linqbot.emulator.api.common import PREFIX, empty, engine, json_body, ok, opt_str, req_str
from linqbot.emulator.clock import iso
from linqbot.emulator.errors import invalid
from linqbot.emulator.rules import SHORT_CODE, is_handle, normalize_handle
from linqbot.emulator.state import BlockedHandle

SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ]{0,10}")
routes = web.RouteTableDef()


def entry_json(entry: BlockedHandle) -> dict[str, object]:
    return {"handle": entry.handle, "blocked_at": iso(entry.blocked_at), "reason": entry.reason}


def _handle(raw: str) -> str:
    value = raw.strip()
    if not (is_handle(value) or SHORT_CODE.fullmatch(value) or SENDER_ID.fullmatch(value)):
        raise invalid("handle must be an E.164 number, email, short code or alphanumeric sender id")
    return normalize_handle(value)


@routes.get(f"{PREFIX}/blocked_handles")
async def list_blocked(request: web.Request) -> web.Response:
    entries = sorted(engine(request).state.blocked.values(), key=lambda e: e.blocked_at, reverse=True)
    return ok({"blocked_handles": [entry_json(e) for e in entries]})


@routes.post(f"{PREFIX}/blocked_handles")
async def block(request: web.Request) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    handle = _handle(req_str(body, "handle"))
    entry = emu.state.blocked.get(handle)
    if entry is None:
        entry = BlockedHandle(handle=handle, blocked_at=emu.clock.now(), reason=opt_str(body, "reason"))
        emu.state.blocked[handle] = entry
        emu.notify("blocked.added", entry_json(entry))
    return ok({"blocked_handle": entry_json(entry)})


@routes.delete(f"{PREFIX}/blocked_handles")
async def unblock(request: web.Request) -> web.Response:
    emu = engine(request)
    handle = _handle(req_str(await json_body(request), "handle"))
    if emu.state.blocked.pop(handle, None) is not None:
        emu.notify("blocked.removed", {"handle": handle})
    return empty()
