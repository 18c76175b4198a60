"""Webhook subscriptions through the official SDK: create (pinned to the payload version linqbot parses), list,
update and delete."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from linq import AsyncLinqAPIV3
from linq.types.webhook_event_type import WebhookEventType

from linqbot.events import EVENT_TABLE

PINNED_VERSION = "2026-02-03"
"""The webhook payload version linqbot is written against; without the pin Linq picks one by account age."""

ALL_EVENT_TYPES: tuple[str, ...] = typing.get_args(WebhookEventType)


def handled_event_types() -> list[str]:
    """Every event type linqbot turns into a typed event (the ones it deliberately ignores are left out)."""
    return [event_type for event_type in ALL_EVENT_TYPES if isinstance(EVENT_TABLE.get(event_type), type)]


def pin_version(url: str) -> str:
    """``url`` with ``version=2026-02-03`` in its query, replacing any other version and keeping other params."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the webhook URL must be an absolute http(s) URL, got {url!r}")
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "version"]
    query.append(("version", PINNED_VERSION))
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_pinned(url: str) -> bool:
    return ("version", PINNED_VERSION) in parse_qsl(urlsplit(url).query)


def check_events(events: Sequence[str]) -> list[str]:
    """The event types, de-duplicated; raises `ValueError` naming any that Linq does not know."""
    unknown = [event for event in events if event not in ALL_EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)} (see `linqbot webhooks events`)")
    if not events:
        raise ValueError("at least one event type is needed")
    return list(dict.fromkeys(events))


async def register(
    sdk: AsyncLinqAPIV3, url: str, *, events: Sequence[str] | None = None, lines: Sequence[str] = ()
) -> Any:
    """Create a subscription; the response carries ``signing_secret``, which Linq never shows again."""
    subscribed = check_events(events) if events else handled_event_types()
    options: dict[str, Any] = {"phone_numbers": list(lines)} if lines else {}
    return await sdk.webhook_subscriptions.create(
        target_url=pin_version(url),
        subscribed_events=typing.cast(list[WebhookEventType], subscribed),
        **options,
    )


async def list_subscriptions(sdk: AsyncLinqAPIV3) -> list[Any]:
    return list((await sdk.webhook_subscriptions.list()).subscriptions)


async def update(
    sdk: AsyncLinqAPIV3,
    subscription_id: str,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    lines: Sequence[str] | None = None,
    active: bool | None = None,
) -> Any:
    """Change only what is given; a new URL is pinned like on register, an empty ``lines`` clears the filter."""
    changes: dict[str, Any] = {}
    if url is not None:
        changes["target_url"] = pin_version(url)
    if events is not None:
        changes["subscribed_events"] = check_events(events)
    if lines is not None:
        changes["phone_numbers"] = list(lines) or None
    if active is not None:
        changes["is_active"] = active
    if not changes:
        raise ValueError("nothing to update: give --url, --events, --line/--all-lines, --enable or --disable")
    return await sdk.webhook_subscriptions.update(subscription_id, **changes)


async def delete(sdk: AsyncLinqAPIV3, subscription_id: str) -> None:
    await sdk.webhook_subscriptions.delete(subscription_id)
