"""``/v3/capability/check_imessage`` and ``check_rcs``, rate limited per API key (429/1007)."""

from aiohttp import web

from linqbot.emulator.api.common import PREFIX, engine, json_body, ok, opt_str, req_str
from linqbot.emulator.errors import bad_phone, rate_limited
from linqbot.emulator.rules import is_e164, is_handle, normalize_handle

routes = web.RouteTableDef()


async def _check(request: web.Request, *, rcs: bool) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    address = req_str(body, "address")
    from_ = opt_str(body, "from")
    if not (is_e164(address) if rcs else is_handle(address)):
        raise bad_phone(address)
    if from_ is not None:
        emu.get_line(from_)
    now = emu.clock.now().timestamp()
    retry_after = emu.capability_limits.retry_after("api-key", now)
    if retry_after is not None:
        raise rate_limited(retry_after)
    emu.capability_limits.record("api-key", now)
    person = emu.person(normalize_handle(address))
    imessage = "@" in address or person.imessage
    available = person.rcs if rcs else imessage
    selected = "iMessage" if imessage else ("RCS" if person.rcs else "SMS")
    if rcs and not available:
        selected = "SMS"
    result = {"address": address, "available": available, "selected_service": selected}
    if not available:
        result["reason"] = "not_supported"
    return ok(result)


@routes.post(f"{PREFIX}/capability/check_imessage")
async def check_imessage(request: web.Request) -> web.Response:
    return await _check(request, rcs=False)


@routes.post(f"{PREFIX}/capability/check_rcs")
async def check_rcs(request: web.Request) -> web.Response:
    return await _check(request, rcs=True)
