"""Lines: ``/v3/phone_numbers`` (+ deprecated ``/v3/phonenumbers``), forwarding, audits, available_number."""

from aiohttp import web

from linqbot.emulator.api.common import PREFIX, engine, json_body, ok
from linqbot.emulator.clock import iso
from linqbot.emulator.errors import ApiError, bad_phone, invalid, missing
from linqbot.emulator.render import REPUTATION_DOC
from linqbot.emulator.rules import is_e164
from linqbot.emulator.state import Line, new_id

routes = web.RouteTableDef()


def line_json(line: Line) -> dict[str, object]:
    return {
        "id": line.id,
        "phone_number": line.phone_number,
        "reputation": {"status": line.reputation, "doc_url": REPUTATION_DOC},
        "forwarding_number": line.forwarding_number,
        "line_type": line.line_type,
    }


@routes.get(f"{PREFIX}/phone_numbers")
async def list_phone_numbers(request: web.Request) -> web.Response:
    return ok({"phone_numbers": [line_json(line) for line in engine(request).state.lines]})


@routes.get(f"{PREFIX}/phonenumbers")
async def list_phonenumbers_deprecated(request: web.Request) -> web.Response:
    lines = engine(request).state.lines
    return ok(
        {
            "phone_numbers": [
                {
                    "id": line.id,
                    "phone_number": line.phone_number,
                    "capabilities": {"sms": True, "mms": True, "voice": False},
                    "country_code": None,
                    "type": None,
                }
                for line in lines
            ]
        }
    )


@routes.put(f"{PREFIX}/phone_numbers/{{line_id}}")
async def update_forwarding(request: web.Request) -> web.Response:
    emu = engine(request)
    line = next((x for x in emu.state.lines if x.id == request.match_info["line_id"]), None)
    body = await json_body(request)
    if "forwarding_number" not in body:
        raise missing("forwarding_number")
    if line is None:
        raise ApiError(404, 2019, "Phone number not found")
    number = body["forwarding_number"]
    if number is not None and not isinstance(number, str):
        raise invalid("forwarding_number must be a string or null")
    if number and not is_e164(number):
        raise bad_phone(number)
    line.forwarding_number = number or None
    emu.notify("line.updated", line_json(line))
    return ok({"id": line.id, "phone_number": line.phone_number, "forwarding_number": line.forwarding_number})


def _line_by_number(request: web.Request) -> Line:
    line = engine(request).state.line(request.match_info["phone_number"])
    if line is None:
        raise ApiError(404, 2019, "Phone number not found")
    return line


@routes.post(f"{PREFIX}/phone_numbers/{{phone_number}}/reputation_audit")
async def start_audit(request: web.Request) -> web.Response:
    emu = engine(request)
    line = _line_by_number(request)
    audit_id = new_id()
    emu.state.audits[audit_id] = line.phone_number
    emu.notify("audit.started", {"audit_id": audit_id, "phone_number": line.phone_number})
    return ok({"audit_id": audit_id, "status": "pending"}, status=202)


@routes.get(f"{PREFIX}/phone_numbers/{{phone_number}}/reputation_audit/{{audit_id}}")
async def get_audit(request: web.Request) -> web.Response:
    """Audits complete instantly with a report built from the emulator's own chat health."""
    emu = engine(request)
    line = _line_by_number(request)
    audit_id = request.match_info["audit_id"]
    if emu.state.audits.get(audit_id) != line.phone_number:
        raise ApiError(404, 1005, "Audit not found for this line")
    unhealthy = [
        {"chat_id": c.id, "status": c.health, "driver_keys": ["low_engagement"]}
        for c in emu.state.chats.values()
        if c.line == line.phone_number and c.health != "HEALTHY"
    ][:15]
    report: dict[str, object] = {
        "severity": line.reputation,
        "primary_driver": "low_engagement" if unhealthy else "overall_conversation_health",
        "drivers": [],
        "action_items": [],
        "evidence": {"unhealthy_chats": unhealthy, "opt_out_chats": []},
        "summary_markdown": f"{len(unhealthy)} unhealthy chat(s) on {line.phone_number} (emulated audit).",
    }
    return ok(
        {
            "audit_id": audit_id,
            "status": "complete",
            "generated_at": iso(emu.clock.now()),
            "phone": line.phone_number,
            "report": report,
        }
    )


def _multi(request: web.Request, key: str) -> list[str]:
    """List query params arrive repeated or comma-joined; accept both."""
    return [v for raw in request.query.getall(key, []) for v in raw.split(",") if v]


@routes.get(f"{PREFIX}/available_number")
async def available_number(request: web.Request) -> web.Response:
    emu = engine(request)
    kind = request.query.get("type")
    if kind is not None and kind.lower() not in ("rcs", "imessage"):
        raise invalid("type must be RCS or iMessage")
    exclude = _multi(request, "exclude_from")
    candidates = [line for line in emu.state.lines if line.phone_number not in exclude]
    if not candidates:
        raise invalid("exclude_from excludes every line")
    if kind is not None:
        candidates = [line for line in candidates if line.line_type.lower() == kind.lower()]
        if not candidates:
            raise ApiError(503, 4004, f"No {kind} line available")
    to = set(_multi(request, "to"))
    sticky = [line for line in candidates if to and emu.find_chat(line.phone_number, to)]
    line = sticky[0] if sticky else min(candidates, key=lambda x: x.uses)
    line.uses += 1
    return ok({"phone_number": line.phone_number, "vcf_url": f"{emu.public_url}/_emulator/vcf/{line.phone_number}"})


@routes.get("/_emulator/vcf/{phone_number}")
async def vcf(request: web.Request) -> web.Response:
    line = _line_by_number(request)
    card = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Linq line\r\nTEL;TYPE=CELL:{line.phone_number}\r\nEND:VCARD\r\n"
    return web.Response(text=card, content_type="text/vcard")
