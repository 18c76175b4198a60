"""``/v3/experiences``: a fixed catalogue of the experiences named in the docs (sending one is accepted
as a message with no parts; the card itself is not emulated)."""

from typing import Any

from aiohttp import web

from linqbot.emulator.api.common import PREFIX, ok
from linqbot.emulator.errors import ApiError

CATALOGUE: list[dict[str, Any]] = [
    {
        "experience": "agentpay",
        "display_name": "Agent Pay",
        "actions": [
            {
                "name": "request_payment",
                "summary": "Ask for a payment",
                "fields": {"checkout_url": {"type": "url", "required": True}},
            }
        ],
    },
    {
        "experience": "link",
        "display_name": "Link",
        "actions": [{"name": "open", "summary": "Open a link", "fields": {"url": {"type": "url", "required": True}}}],
    },
]
routes = web.RouteTableDef()


@routes.get(f"{PREFIX}/experiences")
async def list_experiences(request: web.Request) -> web.Response:
    return ok({"experiences": CATALOGUE})


@routes.get(f"{PREFIX}/experiences/{{experience}}")
async def get_experience(request: web.Request) -> web.Response:
    found = next((e for e in CATALOGUE if e["experience"] == request.match_info["experience"]), None)
    if found is None:
        raise ApiError(404, 1005, "Unknown experience")
    return ok(found)
