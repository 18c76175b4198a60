"""The REST surface under ``/api/partner/v3``, one module per resource."""

from aiohttp import web

from linqbot.emulator.api import (
    attachments,
    blocked_handles,
    capability,
    chat_features,
    chat_messages,
    chats,
    contact_card,
    experiences,
    messages,
    phone_numbers,
    webhook_subscriptions,
)
from linqbot.emulator.api.common import ENGINE, PREFIX

__all__ = ["ENGINE", "PREFIX", "add_routes"]
MODULES = (
    attachments,
    blocked_handles,
    capability,
    chat_features,
    chat_messages,
    chats,
    contact_card,
    experiences,
    messages,
    phone_numbers,
    webhook_subscriptions,
)


def add_routes(app: web.Application) -> None:
    for module in MODULES:
        app.router.add_routes(module.routes)
