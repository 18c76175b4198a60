"""The commands of one bot: settings, the table of every router's declared commands, matching a message, help.

Commands run before plain ``on_message`` handlers: one handler, first in the bot's list, matches a message against
the table and runs the command (through the inner middleware of the router that declared it). A message that is not
a command falls through to the plain handlers.
"""

from __future__ import annotations

import inspect
import re
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from linqbot.dispatch import UNHANDLED, Context, Router
from linqbot.dispatch.middleware import Next, compose
from linqbot.dispatch.router import CommandDeclaration
from linqbot_commands.signature import CommandSignature, UsageError

if TYPE_CHECKING:
    from linqbot.bot import Bot

MESSAGE_RECEIVED = "message.received"
DEFAULT_PREFIXES: tuple[str, ...] = ("/", "")
UNKNOWN_MIDDLEWARE = "commands_unknown"

UnknownHandler = Callable[[Context, str], Awaitable[Any]]
"""``async def fn(ctx, name)``: called for a message no command and no handler took; ``name`` is its first word."""

_WORD = re.compile(r"(\S+)\s*(.*)", re.DOTALL)  # no space between prefix and name


@dataclass(frozen=True, slots=True)
class Command:
    """A declared command, ready to run: its parsed signature and its middleware chain."""

    declaration: CommandDeclaration
    signature: CommandSignature
    run: Next[Context]

    @property
    def name(self) -> str:
        return self.declaration.name

    def usage(self, prefix: str) -> str:
        args = self.signature.usage()
        return f"{prefix}{self.name} {args}" if args else f"{prefix}{self.name}"

    def summary(self) -> str:
        doc = inspect.getdoc(self.declaration.callback) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclass(frozen=True, slots=True)
class Invocation:
    """A message that invokes a command; left on ``ctx.data["command"]`` for middleware and handlers."""

    command: Command
    prefix: str
    name: str
    args: str


class Commands:
    """The commands plugin's state for one bot; get it with ``linqbot_commands.configure(bot)``."""

    def __init__(self, bot: Bot) -> None:
        self._bot = weakref.ref(bot)  # the per-bot index is keyed weakly by the bot; don't keep it alive
        self.prefixes: tuple[str, ...] = DEFAULT_PREFIXES
        """What may come before a command name; ``""`` means a bare word (``weather paris``)."""
        self.help = True
        """Answer ``help`` / ``help <command>`` from the docstrings (only once the bot declares some command)."""
        self.unknown: Literal["ignore", "reply"] | UnknownHandler = "ignore"
        self._generation = -1
        self._table: dict[str, Command] = {}
        self._commands: list[Command] = []
        self._sorted_for: tuple[str, ...] | None = None
        self._sorted_prefixes: list[str] = []
        """``prefixes`` longest first, sorted again whenever ``prefixes`` is replaced."""
        self._help = Router("commands.help")
        self._help.command("help")(self._answer_help)

    @property
    def bot(self) -> Bot:
        bot = self._bot()
        if bot is None:
            raise RuntimeError("this bot no longer exists")
        return bot

    # -- the table -------------------------------------------------------------------------------------------------

    def all(self) -> list[Command]:
        """Every command in declaration order (routers depth first, as included)."""
        self._refresh()
        return list(self._commands)

    def find(self, name: str) -> Command | None:
        self._refresh()
        return self._table.get(name.casefold())

    def _refresh(self) -> None:
        if self._generation != self.bot.generation:
            self._build()

    def _build(self) -> None:
        """Index every declared command; a clash or an unsupported signature raises, naming the command."""
        declared = [decl for router in self.bot.walk() for decl in router.commands]
        names = {label.casefold() for decl in declared for label in (decl.name, *decl.aliases)}
        if self.help and declared and "help" not in names:
            declared.extend(self._help.commands)
        table: dict[str, Command] = {}
        commands: list[Command] = []
        for decl in declared:
            signature = CommandSignature.of(decl.callback, decl.name)
            command = Command(decl, signature, self._chain(decl, signature))
            for label in (decl.name, *decl.aliases):
                key = label.casefold()
                if key in table:
                    routers = f"{table[key].declaration.router.name!r} and {decl.router.name!r}"
                    raise ValueError(f"command {label!r} is declared twice (routers {routers})")
                table[key] = command
            commands.append(command)
        self._table, self._commands = table, commands
        self._generation = self.bot.generation

    def _chain(self, decl: CommandDeclaration, signature: CommandSignature) -> Next[Context]:
        """The handler wrapped by the inner middleware of the routers between the bot and the declaring router.

        The bot's own inner middleware already wraps the dispatch handler, so it is not repeated here.
        """
        below_bot = [r for r in decl.router.lineage() if r is not self.bot]
        middleware = [mw for router in below_bot for mw in router.middleware.items()]

        async def call(ctx: Context) -> Any:
            invocation: Invocation = ctx.data["command"]
            try:
                args = signature.bind(invocation.args)
            except UsageError as exc:
                return await ctx.reply(f"{exc}\nUsage: {invocation.command.usage(invocation.prefix)}")
            return await decl.callback(ctx, *args)

        return compose(middleware, call)

    # -- matching messages -----------------------------------------------------------------------------------------

    def _splits(self, text: str) -> Iterator[tuple[str, str, str]]:
        """(prefix as typed, first word, rest of the line) for each prefix the text starts with, longest first."""
        stripped = text.strip()
        if self._sorted_for is not self.prefixes:
            self._sorted_prefixes = sorted(self.prefixes, key=len, reverse=True)
            self._sorted_for = self.prefixes
        for prefix in self._sorted_prefixes:
            typed = stripped[: len(prefix)]
            if typed.casefold() != prefix.casefold():
                continue
            found = _WORD.fullmatch(stripped[len(prefix) :])
            if found is not None:
                yield typed, found.group(1), found.group(2)

    def match(self, ctx: Context) -> bool:
        """The dispatch filter: is this message a command? Leaves the `Invocation` on ``ctx.data["command"]``."""
        if ctx.message is None or ctx.message.reconciled_at is not None or not ctx.text:
            return False
        self._refresh()
        if not self._table:
            return False  # a bot that declares no command pays nothing per message
        for prefix, word, args in self._splits(ctx.text):
            command = self.find(word)
            if command is not None:
                ctx.data["command"] = Invocation(command, prefix, word, args)
                return True
        return False

    async def dispatch(self, ctx: Context) -> Any:
        """The one handler that runs every command."""
        invocation: Invocation = ctx.data["command"]
        return await invocation.command.run(ctx)

    async def unknown_fallback(self, ctx: Context, call_next: Next[Context]) -> Any:
        """Outer middleware: after routing, answer a message that no command and no handler took."""
        result = await call_next(ctx)
        if result is not UNHANDLED or ctx.event.event_type != MESSAGE_RECEIVED or ctx.message is None:
            return result
        if ctx.message.reconciled_at is not None:
            return result
        parts = next(self._splits(ctx.text), None)
        if parts is None:
            return result
        prefix, word, _ = parts
        if self.unknown == "reply":
            hint = f" — type {self.display_prefix()}help" if self.find("help") is not None else ""
            return await ctx.reply(f"Unknown command “{prefix}{word}”{hint}")
        if callable(self.unknown):
            return await self.unknown(ctx, word)
        return result

    # -- help ----------------------------------------------------------------------------------------------------

    def display_prefix(self) -> str:
        """The prefix shown in help: the first configured one."""
        return self.prefixes[0] if self.prefixes else ""

    def help_text(self, name: str | None = None) -> str:
        prefix = self.display_prefix()
        if name is None:
            lines = ["Commands:"]
            for listed in self.all():
                if listed.declaration.hidden:
                    continue
                summary = listed.summary()
                lines.append(f"{listed.usage(prefix)} — {summary}" if summary else listed.usage(prefix))
            lines.append(f"Type {prefix}help <command> for more.")
            return "\n".join(lines)
        command = self.find(name.removeprefix(prefix) if prefix else name)
        if command is None:
            return f"No command “{name}”. Type {prefix}help for the list."
        lines = [f"Usage: {command.usage(prefix)}"]
        if command.declaration.aliases:
            lines.append("Also: " + ", ".join(prefix + alias for alias in command.declaration.aliases))
        doc = inspect.getdoc(command.declaration.callback)
        if doc:
            lines.append(doc.strip())
        return "\n".join(lines)

    async def _answer_help(self, ctx: Context, command: str | None = None) -> None:
        """List the commands, or explain one."""
        await ctx.reply(self.help_text(command))


_BY_BOT: weakref.WeakKeyDictionary[Router, Commands] = weakref.WeakKeyDictionary()


def attach(bot: Bot) -> Commands:
    """Give ``bot`` its commands: the dispatch handler goes first, so commands run before plain handlers."""
    commands = Commands(bot)
    _BY_BOT[bot] = commands
    bot.register(MESSAGE_RECEIVED, commands.dispatch, commands.match)
    handlers = bot.handlers[MESSAGE_RECEIVED]
    handlers.insert(0, handlers.pop())
    return commands


def configure(
    bot: Bot,
    *,
    prefixes: tuple[str, ...] | list[str] | None = None,
    unknown: Literal["ignore", "reply"] | UnknownHandler | None = None,
    help: bool | None = None,
) -> Commands:
    """Change how ``bot`` reads commands; returns its `Commands`. Raises if the commands plugin is not loaded.

    ``prefixes``: what may come before a name (default ``("/", "")``: ``/weather`` and ``weather``).
    ``unknown``: for a message no command and no handler took, ``"ignore"`` (default), ``"reply"`` ("Unknown command
    — type help") or ``async def fn(ctx, name)``. ``help``: answer ``help`` from docstrings (default True).
    """
    commands = _BY_BOT.get(bot)
    if commands is None:
        raise RuntimeError(
            "the commands plugin is not loaded for this bot: LINQBOT_PLUGINS / Bot(plugins=...) must include 'commands'"
        )
    if prefixes is not None:
        if isinstance(prefixes, str) or not all(isinstance(p, str) and not p.isspace() for p in prefixes):
            raise TypeError("prefixes= takes a list of strings, e.g. ('/', '')")
        commands.prefixes = tuple(prefixes)
    if help is not None:
        commands.help = help
        commands._generation = -1
    if unknown is not None:
        if unknown not in ("ignore", "reply") and not callable(unknown):
            raise ValueError("unknown= takes 'ignore', 'reply' or an async function (ctx, name)")
        commands.unknown = unknown
        installed = UNKNOWN_MIDDLEWARE in bot.outer_middleware
        if unknown == "ignore" and installed:
            bot.outer_middleware.remove(UNKNOWN_MIDDLEWARE)
        elif unknown != "ignore" and not installed:
            bot.outer_middleware.add(commands.unknown_fallback, name=UNKNOWN_MIDDLEWARE)
    return commands
