"""The ``linqbot`` command: ``run`` a bot, start the ``emulator``, and the commands plugins add."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from linqbot.admin import serve_alongside
from linqbot.bot import Bot
from linqbot.config import ConfigError
from linqbot.dev import cli as dev_cli
from linqbot.emulator import cli as emulator_cli
from linqbot.live import cli as live_cli
from linqbot.observability import log_handler
from linqbot.plugins import PluginManager
from linqbot.plugins.manager import missing_itself
from linqbot.scaffold import add_arguments as add_new_arguments
from linqbot.scaffold import run as run_new


class LoadError(Exception):
    """The bot target could not be found, is not a Bot, or raised while being imported (that error is the cause)."""


def load_bot(target: str) -> Bot:
    """Load ``path/to/bot.py[:attr]`` or ``package.module[:attr]``; without ``attr``, the module's one `Bot`."""
    location, _, attr = target.partition(":")
    with _log_lines_while_loading():
        module = _import(location)
    if attr:
        found = getattr(module, attr, None)
        if not isinstance(found, Bot):
            raise LoadError(f"{location} has no Bot named {attr!r}")
        return found
    bots = [value for value in vars(module).values() if isinstance(value, Bot)]
    if len(bots) != 1:
        raise LoadError(f"{location} defines {len(bots)} Bot objects; name one as {location}:NAME")
    return bots[0]


def _import(location: str) -> ModuleType:
    """Import the bot's module; an error in the bot's own code becomes a `LoadError` caused by it.

    A `ConfigError` passes as it is: it names the setting to fix, and the command reports it like any other.
    """
    is_file = location.endswith(".py") or "/" in location or Path(location).is_file()
    try:
        return _import_file(location) if is_file else _import_module(location)
    except (ConfigError, LoadError):
        raise
    except Exception as exc:
        raise LoadError(f"cannot load {location}: {type(exc).__name__}: {exc}") from exc


def _import_module(location: str) -> ModuleType:
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as exc:
        if missing_itself(exc, location):
            raise LoadError(f"cannot import module {location!r}: {exc}") from None
        raise  # a module the bot imports is missing: the bot's own error


def _import_file(location: str) -> ModuleType:
    path = Path(location).resolve()
    if not path.is_file():
        raise LoadError(f"no such file: {location}")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {location}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[path.stem]  # as a failed import does: a later import must not find half a module
        raise
    return module


@contextlib.contextmanager
def _log_lines_while_loading() -> Iterator[None]:
    """Warnings logged while the bot is imported (a plugin that failed to load) print as log lines, not bare text:
    the commands configure logging only once the bot is loaded."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler = log_handler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _bot_traceback(error: BaseException) -> str:
    """The traceback from the bot's own code down: the frames of this command and of importlib above it don't help."""
    tb = error.__traceback__
    while tb is not None and _is_loading_frame(tb.tb_frame.f_globals.get("__name__", "")):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _is_loading_frame(module: str) -> bool:
    return module in (__name__, "importlib") or module.startswith("importlib.")


def _run(args: argparse.Namespace) -> int:
    bot = load_bot(args.target)
    if args.admin_port is not None:
        serve_alongside(bot, args.admin_port)
    bot.run(host=args.host, port=args.port)
    return 0


def _dev(args: argparse.Namespace) -> int:
    return dev_cli.run(load_bot(args.target), args)


def _emulator(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(emulator_cli.serve(emulator_cli.config_from_args(args), args.host, args.port))
    return 0


def _plugins(args: argparse.Namespace) -> int:
    manager = PluginManager(args.select, log_failures=False) if args.select is not None else args.loaded
    for info in manager.describe():
        print(f"{info.name}  ({info.module})")
        for hook in info.hooks:
            print(f"    {hook}")
    for name, reason in manager.failed.items():
        print(f"{name}  FAILED TO LOAD: {reason}")
    for name, reason in manager.ignored.items():
        print(f"-{name}  IGNORED: {reason}")
    return 1 if manager.failed else 0


def build_parser(plugins: PluginManager | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linqbot", description="Build and run Linq iMessage/RCS/SMS bots.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve a bot's webhook")
    run.add_argument("target", help="path/to/bot.py[:attr] or package.module[:attr]")
    run.add_argument("--host", default="0.0.0.0")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--admin-port", type=int, help="serve /metrics and the dashboard on this port (not the webhook's)")
    run.set_defaults(func=_run)

    dev = commands.add_parser("dev", help="run a bot against the local emulator, with a phone simulator in the browser")
    dev_cli.add_arguments(dev)
    dev.set_defaults(func=_dev)

    emulator = commands.add_parser(
        "emulator", help="run the local Linq API emulator", parents=[emulator_cli.build_parser()], add_help=False
    )
    emulator.set_defaults(func=_emulator)

    new = commands.add_parser("new", help="create a bot project: bot.py, tests, .env.example, README")
    add_new_arguments(new)
    new.set_defaults(func=run_new)

    live_cli.add_commands(commands, load_bot)

    loaded = plugins or PluginManager(log_failures=False)
    listing = commands.add_parser("plugins", help="list loaded plugins and the hooks each implements")
    listing.add_argument("--select", default=None, help="a LINQBOT_PLUGINS-style selection to try")
    listing.set_defaults(func=_plugins, loaded=loaded)

    loaded.hook.linqbot_cli(subparsers=commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    plugins = PluginManager(log_failures=False)  # the bot's own manager logs what fails to load
    parser = build_parser(plugins)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code:  # a usage error, perhaps a command whose plugin could not load: say why it is missing
            for name, reason in plugins.failed.items():
                print(f"linqbot: plugin {name} failed to load, so its commands are missing: {reason}", file=sys.stderr)
        raise
    try:
        return int(args.func(args))
    except LoadError as exc:
        if exc.__cause__ is not None:
            print(_bot_traceback(exc.__cause__), end="", file=sys.stderr)
        print(f"linqbot: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"linqbot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
