"""``/v3/webhook-subscriptions`` CRUD and ``/v3/webhook-events``; the signing secret is shown once."""

import base64
import secrets
import typing
from typing import Any

from aiohttp import web
from linq.types.webhook_event_type import WebhookEventType

from linqbot.emulator.api.common import PREFIX, empty, engine, json_body, ok, opt_bool, opt_str, req_str, str_list
from linqbot.emulator.clock import iso
from linqbot.emulator.content import is_url
from linqbot.emulator.engine import Engine
from linqbot.emulator.errors import ApiError, invalid, missing
from linqbot.emulator.state import Subscription

EVENT_TYPES: tuple[str, ...] = typing.get_args(WebhookEventType)
EVENTS_DOC = "https://docs.linqapp.com/channel/imessage/guides/webhooks/events"
routes = web.RouteTableDef()


def subscription_json(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "target_url": sub.target_url,
        "subscribed_events": sub.subscribed_events,
        "phone_numbers": sub.phone_numbers,
        "is_active": sub.is_active,
        "created_at": iso(sub.created_at),
        "updated_at": iso(sub.updated_at),
        "routing_id_header": sub.routing_id_header,
        "routing_key_header": sub.routing_key_header,
    }


def _target(emu: Engine, url: str, current: Subscription | None = None) -> str:
    if not is_url(url):
        raise invalid("target_url must be an http(s) URL")
    if any(s.target_url == url and s is not current for s in emu.state.subscriptions.values()):
        raise ApiError(409, 2015, "target_url is already used by another subscription")
    return url


def _events(body: dict[str, Any]) -> list[str] | None:
    events = str_list(body, "subscribed_events", required=False)
    if events is None:
        return None
    if not events:
        raise invalid("subscribed_events must not be empty")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise invalid(f"unknown event types: {unknown}")
    return list(dict.fromkeys(events))


def _lines(emu: Engine, body: dict[str, Any]) -> list[str] | None:
    numbers = str_list(body, "phone_numbers", required=False)
    for number in numbers or []:
        emu.get_line(number, "phone_numbers")
    return numbers or None


def _header(body: dict[str, Any], key: str) -> str | None:
    return opt_str(body, key) or None


@routes.post(f"{PREFIX}/webhook-subscriptions")
async def create_subscription(request: web.Request) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    target = req_str(body, "target_url")
    events = _events(body)
    if events is None:
        raise missing("subscribed_events")
    now = emu.clock.now()
    sub = Subscription(
        target_url=_target(emu, target),
        subscribed_events=events,
        phone_numbers=_lines(emu, body),
        created_at=now,
        updated_at=now,
        signing_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        routing_id_header=_header(body, "routing_id_header"),
        routing_key_header=_header(body, "routing_key_header"),
    )
    emu.state.subscriptions[sub.id] = sub
    emu.notify("subscription.created", subscription_json(sub))
    return ok({**subscription_json(sub), "signing_secret": sub.signing_secret}, status=201)


@routes.get(f"{PREFIX}/webhook-subscriptions")
async def list_subscriptions(request: web.Request) -> web.Response:
    subs = engine(request).state.subscriptions.values()
    return ok({"subscriptions": [subscription_json(s) for s in subs]})


def _sub(request: web.Request) -> Subscription:
    sub = engine(request).state.subscriptions.get(request.match_info["subscription_id"])
    if sub is None:
        raise ApiError(404, 2010, "Webhook subscription not found")
    return sub


@routes.get(f"{PREFIX}/webhook-subscriptions/{{subscription_id}}")
async def get_subscription(request: web.Request) -> web.Response:
    return ok(subscription_json(_sub(request)))


@routes.put(f"{PREFIX}/webhook-subscriptions/{{subscription_id}}")
async def update_subscription(request: web.Request) -> web.Response:
    emu = engine(request)
    sub = _sub(request)
    body = await json_body(request)
    target = opt_str(body, "target_url")
    events = _events(body)
    if target is not None:
        sub.target_url = _target(emu, target, sub)
    if events is not None:
        sub.subscribed_events = events
    if "is_active" in body:
        sub.is_active = opt_bool(body, "is_active", sub.is_active)
    if "phone_numbers" in body:
        sub.phone_numbers = _lines(emu, body)
    for key in ("routing_id_header", "routing_key_header"):
        if key in body:
            setattr(sub, key, _header(body, key))
    sub.updated_at = emu.clock.now()
    emu.notify("subscription.updated", subscription_json(sub))
    return ok(subscription_json(sub))


@routes.delete(f"{PREFIX}/webhook-subscriptions/{{subscription_id}}")
async def delete_subscription(request: web.Request) -> web.Response:
    emu = engine(request)
    sub = _sub(request)
    del emu.state.subscriptions[sub.id]
    emu.notify("subscription.deleted", {"id": sub.id})
    return empty()


@routes.get(f"{PREFIX}/webhook-events")
async def list_event_types(request: web.Request) -> web.Response:
    return ok({"doc_url": EVENTS_DOC, "events": list(EVENT_TYPES)})
