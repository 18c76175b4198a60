"""The ``linqbot dev`` command: serve the phone simulator until Ctrl-C, or run a scripted ``--say`` conversation."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator

from linqbot.admin import start_admin
from linqbot.bot import Bot
from linqbot.dev.conversation import converse
from linqbot.dev.session import DEFAULT_PEOPLE, dev_session, phone_url
from linqbot.emulator.errors import ApiError
from linqbot.local_files import HOME_SETTING
from linqbot.observability.logs import quiet_chatty_libraries

DEFAULT_PORT = 8700
DEFAULT_BOT_PORT = 8701
DEFAULT_DASHBOARD_PORT = 8702


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="path/to/bot.py[:attr] or package.module[:attr]")
    parser.add_argument("--host", default="127.0.0.1", help="interface for the emulator, page and bot (%(default)s)")
    parser.add_argument(
        "--port", type=int, help=f"emulator and phone page port (default {DEFAULT_PORT}; with --say any free port)"
    )
    parser.add_argument(
        "--bot-port", type=int, help=f"the bot's webhook port (default {DEFAULT_BOT_PORT}; with --say any free port)"
    )
    parser.add_argument(
        "--dashboard-port",
        type=int,
        help=f"the dashboard and /metrics (default {DEFAULT_DASHBOARD_PORT}; with --port, any free port)",
    )
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="keep the bot's local files (state, jobs, campaigns) in DIR between sessions (default: a fresh folder)",
    )
    parser.add_argument(
        "--say", action="append", metavar="TEXT", help="headless: send TEXT, print the bot's answer (repeatable)"
    )
    parser.add_argument("--from", dest="sender", default=DEFAULT_PEOPLE[0], help="headless: who says it (%(default)s)")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="headless: seconds to wait for the bot per message (%(default)s)"
    )


def run(bot: Bot, args: argparse.Namespace) -> int:
    """Run the command for an already loaded bot; returns the exit status."""
    quiet = bool(args.say)
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet_chatty_libraries(level)
    try:
        with _local_files_of_this_session(args.home):
            return asyncio.run(_say(bot, args) if quiet else _serve(bot, args))
    except OSError as exc:
        print(f"linqbot dev: cannot listen on {args.host}: {exc.strerror}; choose --port / --bot-port", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the server was up
        return 130


@contextlib.contextmanager
def _local_files_of_this_session(home: str | None) -> Iterator[None]:
    """Keep the bot's local files (state, scheduled jobs, campaigns) in ``home`` (``--home``), else in a fresh
    folder removed afterwards — never where ``LINQBOT_HOME`` or ``.linqbot/`` keep a real bot's: the emulator starts
    empty every time, and a session's jobs left there fired at chats that no longer exist, or, under ``linqbot run``,
    at the real API."""
    before = os.environ.get(HOME_SETTING)
    with contextlib.ExitStack() as stack:
        if home is None:
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="linqbot-dev-", ignore_cleanup_errors=True))
        os.environ[HOME_SETTING] = home
        try:
            yield
        finally:
            if before is None:
                del os.environ[HOME_SETTING]
            else:
                os.environ[HOME_SETTING] = before


async def _serve(bot: Bot, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' default loop
            loop.add_signal_handler(signum, stop.set)
    port = DEFAULT_PORT if args.port is None else args.port
    bot_port = DEFAULT_BOT_PORT if args.bot_port is None else args.bot_port
    async with dev_session(bot, host=args.host, port=port, bot_port=bot_port) as sim:
        webhook = next(iter(sim.emulator.engine.state.subscriptions.values())).target_url
        print(f"linqbot dev: phone simulator at {phone_url(sim)}", flush=True)
        print(f"  the bot's webhook: {webhook}", flush=True)
        print(f"  Linq API emulator: {sim.emulator.base_url} (api key {sim.emulator.api_key!r})", flush=True)
        dashboard_port = args.dashboard_port
        if dashboard_port is None:
            dashboard_port = DEFAULT_DASHBOARD_PORT if args.port is None else 0
        admin = await start_admin(bot, host=args.host, port=dashboard_port)
        try:
            print(f"  dashboard: {admin.url}/", flush=True)
            print(f"  local files (state, jobs): {os.environ[HOME_SETTING]}", flush=True)
            print("  press Ctrl-C to stop", flush=True)
            await stop.wait()
        finally:
            await admin.close()
    print("linqbot dev: stopped", flush=True)
    return 0


async def _say(bot: Bot, args: argparse.Namespace) -> int:
    port = 0 if args.port is None else args.port
    bot_port = 0 if args.bot_port is None else args.bot_port
    try:
        async with dev_session(bot, host=args.host, port=port, bot_port=bot_port) as sim:
            conversation = await converse(
                sim, args.say, sender=args.sender, timeout=args.timeout, echo=lambda line: print(line, flush=True)
            )
    except ApiError as exc:
        print(f"linqbot dev: the emulator refused the message: {exc.message}", file=sys.stderr)
        return 2
    if conversation.answered_all:
        return 0
    print(f"linqbot dev: the bot did not answer {', '.join(conversation.unanswered)}", file=sys.stderr)
    return 1
