"""Fixtures: a running emulator, a webhook receiver, SDK clients, and strict SDK-model validation."""

import base64
import hashlib
import hmac
import importlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import linq
import pydantic
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from linqbot.emulator import Emulator

M = TypeVar("M", bound=pydantic.BaseModel)
PERSON = "+15551230001"
OTHER = "+15551230002"
THIRD = "+15551230003"
FOURTH = "+15551230004"


def unknown_keys(obj: object, path: str = "$") -> Iterator[str]:
    """Every key the SDK model did not declare (its models allow extras, so we look for them)."""
    if isinstance(obj, pydantic.BaseModel):
        for key in obj.model_extra or {}:
            yield f"{path}.{key}"
        for name in type(obj).model_fields:
            yield from unknown_keys(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            yield from unknown_keys(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from unknown_keys(value, f"{path}.{key}")


def strict(model: type[M], raw: str | bytes) -> M:
    """Strict validation of raw JSON against an SDK model; fails on unknown keys anywhere."""
    parsed = model.model_validate_json(raw, strict=True)
    extra = list(unknown_keys(parsed))
    assert not extra, f"{model.__name__}: unknown keys {extra}"
    return parsed


def event_model(event_type: str) -> type[pydantic.BaseModel]:
    """``chat.typing_indicator.started`` -> linq.types.chat_typing_indicator_started_webhook_event:Chat...Event"""
    words = event_type.replace(".", "_").split("_")
    module = importlib.import_module(f"linq.types.{'_'.join(words)}_webhook_event")
    model: type[pydantic.BaseModel] = getattr(module, "".join(w.capitalize() for w in words) + "WebhookEvent")
    return model


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result

    @property
    def event_type(self) -> str:
        return str(self.json["event_type"])


@dataclass
class Receiver:
    """A webhook endpoint; ``statuses`` are answered first, then 200."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def of(self, event_type: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.event_type == event_type]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(sent_delay=0.005, delivered_delay=0.01, read_delay=0.02, webhook_backoff=0.02) as emulator:
        yield emulator


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        state.deliveries.append(Delivery(dict(request.headers), await request.text()))
        return web.Response(status=state.statuses.pop(0) if state.statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield state
    await runner.cleanup()


@pytest.fixture
def client(emu: Emulator) -> linq.AsyncLinqAPIV3:
    return linq.AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)


@pytest.fixture
def sync_client(emu: Emulator) -> linq.LinqAPIV3:
    return linq.LinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)


ALL_EVENTS = [
    "message.sent", "message.received", "message.delivered", "message.read", "message.failed", "message.edited",
    "reaction.added", "reaction.removed", "chat.created", "chat.group_name_updated", "chat.group_icon_updated",
    "chat.typing_indicator.started", "chat.typing_indicator.stopped", "participant.added", "participant.removed",
    "location.sharing.started", "location.sharing.stopped", "phone_number.status_updated", "contact_card.received",
    "chat.background_updated", "poll.sent", "poll.updated", "poll.vote.added", "poll.vote.removed",
]  # fmt: skip


async def subscribe(client: linq.AsyncLinqAPIV3, url: str, events: list[str] | None = None) -> str:
    """Create a subscription for ``url``; returns the signing secret."""
    created = await client.webhook_subscriptions.create(target_url=url, subscribed_events=events or ALL_EVENTS)  # type: ignore[arg-type]
    return created.signing_secret


def verify_legacy(secret: str, delivery: Delivery) -> bool:
    timestamp = delivery.headers["X-Webhook-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.{delivery.body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, delivery.headers["X-Webhook-Signature"])


def verify_standard(secret: str, delivery: Delivery) -> None:
    Webhook(secret).verify(delivery.body, {k.lower(): v for k, v in delivery.headers.items()})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
