"""``linqbot webhooks …``, ``linqbot doctor`` and ``linqbot send``: the commands for going live."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import linq

from linqbot.bot import Bot
from linqbot.config import ConfigError
from linqbot.live import webhooks
from linqbot.live.doctor import run_checks
from linqbot.live.secrets import SECRET_FILE, save_secret, write_env_secret
from linqbot.live.settings import NOT_RECEIVING, api_settings
from linqbot.middleware import SafeguardHold
from linqbot.outbound import LinqAPIError
from linqbot.redact import mask_handle, mask_secret

BotLoader = Callable[[str], Bot]


def _events(raw: str | None) -> list[str] | None:
    return [event.strip() for event in raw.split(",") if event.strip()] if raw else None


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], load_bot: BotLoader) -> None:
    hooks = commands.add_parser("webhooks", help="manage the Linq webhook subscriptions that deliver to your bot")
    hooks.add_argument("--env-file", default=".env", help="settings file read besides the environment (%(default)s)")
    actions = hooks.add_subparsers(dest="action", required=True)

    register = actions.add_parser("register", help=f"subscribe URL (pinned to ?version={webhooks.PINNED_VERSION})")
    register.add_argument("url", help="the bot's public webhook URL, e.g. https://bot.example.com/webhook")
    register.add_argument("--events", help="comma-separated event types (default: every type linqbot handles)")
    register.add_argument("--line", action="append", default=[], help="only events of this line (repeatable)")
    register.add_argument("--secret-file", type=Path, default=SECRET_FILE, help="where to save the secret (0600)")
    register.add_argument("--write-env", action="store_true", help="also set LINQ_WEBHOOK_SECRET in --env-file")
    register.add_argument("--show-secret", action="store_true", help="print the whole signing secret")
    register.set_defaults(func=_register)

    listing = actions.add_parser("list", help="list subscriptions")
    listing.set_defaults(func=_list)

    update = actions.add_parser("update", help="change a subscription")
    update.add_argument("id")
    update.add_argument("--url", help="a new target URL (pinned like on register)")
    update.add_argument("--events", help="comma-separated event types replacing the current ones")
    lines = update.add_mutually_exclusive_group()
    lines.add_argument("--line", action="append", help="deliver only this line's events (repeatable)")
    lines.add_argument("--all-lines", action="store_true", help="drop the line filter")
    active = update.add_mutually_exclusive_group()
    active.add_argument("--enable", dest="active", action="store_const", const=True)
    active.add_argument("--disable", dest="active", action="store_const", const=False)
    update.set_defaults(func=_update)

    delete = actions.add_parser("delete", help="delete a subscription")
    delete.add_argument("id")
    delete.set_defaults(func=_delete)

    events = actions.add_parser("events", help="list the event types linqbot handles")
    events.set_defaults(func=_list_events)

    doctor = commands.add_parser("doctor", help="check the key, lines, webhooks and secret before going live")
    doctor.add_argument("--env-file", default=".env", help="settings file read besides the environment (%(default)s)")
    doctor.add_argument("--url", help="also check that this public webhook URL is a running linqbot webhook")
    doctor.set_defaults(func=_doctor)

    send = commands.add_parser("send", help="send one message through the bot's client and outbound middleware")
    send.add_argument("text")
    send.add_argument("--to", action="append", required=True, help="recipient handle (repeat for a group)")
    send.add_argument("--bot", help="path/to/bot.py[:attr] whose middleware should apply (default: a plain Bot)")
    send.add_argument("--env-file", default=".env", help="settings file read besides the environment (%(default)s)")
    send.set_defaults(func=_send, load_bot=load_bot)


def _api_call(args: argparse.Namespace, action: Callable[[linq.AsyncLinqAPIV3], Awaitable[int]]) -> int:
    async def run() -> int:
        async with api_settings(args.env_file).sdk() as sdk:
            return await action(sdk)

    try:
        return asyncio.run(run())
    except linq.APIStatusError as exc:
        print(f"linqbot: Linq answered {exc.status_code}: {exc.message}", file=sys.stderr)
    except linq.APIConnectionError as exc:
        print(f"linqbot: cannot reach the Linq API: {exc}", file=sys.stderr)
    except ConfigError:
        raise  # the command line reports it with status 2, like every command
    except ValueError as exc:
        print(f"linqbot: {exc}", file=sys.stderr)
    return 1


def _describe(sub: Any) -> str:
    state = "active" if sub.is_active else "INACTIVE"
    lines = ", ".join(sub.phone_numbers) if sub.phone_numbers else "all lines"
    return f"{sub.id}  {state}  {sub.target_url}  {len(sub.subscribed_events)} event types  {lines}"


def _register(args: argparse.Namespace) -> int:
    async def action(sdk: linq.AsyncLinqAPIV3) -> int:
        created = await webhooks.register(sdk, args.url, events=_events(args.events), lines=args.line)
        print(f"created {_describe(created)}")
        path = save_secret(created.signing_secret, args.secret_file)
        print(f"signing secret {mask_secret(created.signing_secret)} saved to {path} (mode 0600); Linq shows it once")
        if args.write_env:
            print(f"LINQ_WEBHOOK_SECRET set in {write_env_secret(created.signing_secret, Path(args.env_file))}")
        else:
            print(f'set it where the bot runs: export LINQ_WEBHOOK_SECRET="$(cat {path})"  (or use --write-env)')
        if args.show_secret:
            print(f"LINQ_WEBHOOK_SECRET={created.signing_secret}")
        return 0

    return _api_call(args, action)


def _list(args: argparse.Namespace) -> int:
    async def action(sdk: linq.AsyncLinqAPIV3) -> int:
        subscriptions = await webhooks.list_subscriptions(sdk)
        for sub in subscriptions:
            print(_describe(sub))
        if not subscriptions:
            print("no webhook subscriptions (create one with `linqbot webhooks register URL`)")
        return 0

    return _api_call(args, action)


def _update(args: argparse.Namespace) -> int:
    async def action(sdk: linq.AsyncLinqAPIV3) -> int:
        lines = [] if args.all_lines else args.line
        changed = await webhooks.update(
            sdk, args.id, url=args.url, events=_events(args.events), lines=lines, active=args.active
        )
        print(f"updated {_describe(changed)}")
        return 0

    return _api_call(args, action)


def _delete(args: argparse.Namespace) -> int:
    async def action(sdk: linq.AsyncLinqAPIV3) -> int:
        await webhooks.delete(sdk, args.id)
        print(f"deleted {args.id}")
        return 0

    return _api_call(args, action)


def _list_events(_: argparse.Namespace) -> int:
    print("\n".join(webhooks.handled_event_types()))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    checks = asyncio.run(run_checks(env_file=args.env_file, url=args.url))
    for check in checks:
        print(check.render())
    failed = sum(not check.ok for check in checks)
    print(f"{failed} problem(s) to fix" if failed else "ready to go live")
    return 1 if failed else 0


def _send(args: argparse.Namespace) -> int:
    bot: Bot = args.load_bot(args.bot) if args.bot else Bot(env_file=args.env_file, webhook_secret=NOT_RECEIVING)

    async def run() -> Any:
        try:
            return await bot.send(args.to, args.text)
        finally:
            await bot.client.aclose()

    try:
        result = asyncio.run(run())
    except (LinqAPIError, SafeguardHold) as exc:
        print(f"linqbot: not sent: {exc}", file=sys.stderr)
        return 1
    chat_id = getattr(getattr(result, "chat", None), "id", None) or getattr(result, "chat_id", "?")
    print(f"sent to {', '.join(mask_handle(h) for h in args.to)} in chat {chat_id}")
    return 0
