"""Routers hold handlers by event type; the decorators are the public way to register them.

Handlers are tried in registration order (a router's own handlers, then its included routers' in include order); the
first whose filters all pass runs. A handler passes the event on to the next match with ``ctx.skip()``.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from linqbot.dispatch.filters import Filter, Predicate, build_filters, register_filter
from linqbot.dispatch.middleware import MiddlewareManager

if TYPE_CHECKING:
    from linqbot.dispatch.context import Context

HandlerFn = Callable[..., Awaitable[Any]]
ErrorHandlerFn = Callable[["Context", Exception], Awaitable[Any]]
F = TypeVar("F", bound=HandlerFn)
E = TypeVar("E", bound=ErrorHandlerFn)

MESSAGE_RECEIVED = "message.received"

OPT_OUT_EVENT = "linqbot.opt_out"
"""Synthetic event the opt-out safeguard dispatches when someone opts out; the keyword message itself."""
OPT_IN_EVENT = "linqbot.opt_in"
"""Synthetic event the opt-out safeguard dispatches when an opted-out person writes again, before the message."""
FLOOD_EVENT = "linqbot.flood"
"""Synthetic event flood control dispatches once per burst: the first message from a sender over the limit."""

# Short decorator names for the common lifecycle events: name -> event types.
LIFECYCLE_EVENTS: dict[str, tuple[str, ...]] = {
    "sent": ("message.sent",),
    "delivered": ("message.delivered",),
    "read": ("message.read",),
    "failed": ("message.failed",),
    "edited": ("message.edited",),
    "typing": ("chat.typing_indicator.started", "chat.typing_indicator.stopped"),
    "participant_added": ("participant.added",),
    "participant_removed": ("participant.removed",),
    "location": ("location.sharing.started", "location.sharing.stopped"),
    "chat_created": ("chat.created",),
    "group_updated": ("chat.group_name_updated", "chat.group_icon_updated"),
    "line_status": ("phone_number.status_updated",),
    "contact_card": ("contact_card.received",),
    "opt_out": (OPT_OUT_EVENT,),
    "opt_in": (OPT_IN_EVENT,),
    "flood": (FLOOD_EVENT,),
}

_generation = itertools.count(1)


def _bump() -> int:
    return next(_generation)


@dataclass(slots=True)
class Handler:
    """One registered callback with its filters."""

    callback: HandlerFn
    filters: tuple[Filter, ...]
    router: Router
    flags: dict[str, Any] = field(default_factory=dict)

    async def matches(self, ctx: Context) -> bool:
        for flt in self.filters:
            result = flt.check(ctx)
            if flt.is_async:
                result = await result  # type: ignore[misc]
            if not result:
                return False
        return True


@dataclass(frozen=True, slots=True)
class CommandDeclaration:
    """A command declared with ``@router.command``: data only; the ``commands`` plugin parses messages and runs it.

    Decorators run at import time, before any Bot (and so before plugins) exists, which is why this lives in core.
    """

    name: str
    aliases: tuple[str, ...]
    callback: HandlerFn
    router: Router
    hidden: bool = False


def _require_async(fn: Callable[..., Any], what: str) -> None:
    if not inspect.iscoroutinefunction(fn):
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(f"{what} {name} must be an async function (async def)")


def is_late(ctx: Context) -> bool:
    """Whether the event carries a message Linq recovered after the fact (``reconciled_at`` set)."""
    message = ctx.message
    return message is not None and message.reconciled_at is not None


@dataclass(frozen=True, slots=True)
class ReconciledGate:
    """The filter of every ``on_message`` handler: late (reconciled) messages are history, so by default no
    auto-reply fires for them. The dispatcher recognises it and asks `is_late` once per event, not once per handler.
    """

    accept: bool

    def __call__(self, ctx: Context) -> bool:
        return self.accept or not is_late(ctx)


register_filter("reconciled", ReconciledGate)


def _reaction_type(value: str | Iterable[str]) -> Predicate:
    wanted = frozenset((value,) if isinstance(value, str) else value)
    return lambda ctx: getattr(ctx.event, "reaction", None) is not None and ctx.event.reaction.reaction_type in wanted  # type: ignore[attr-defined]


def _from_people(ctx: Context) -> bool:
    """The bot's own tapbacks come back as webhooks too; answering them would loop."""
    reaction = getattr(ctx.event, "reaction", None)
    return reaction is None or not reaction.is_from_me


class Router:
    """A group of handlers, error handlers and middleware; include routers to split a bot into modules."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.handlers: dict[str, list[Handler]] = {}
        self.error_handlers: list[tuple[type[BaseException], ErrorHandlerFn]] = []
        self.commands: list[CommandDeclaration] = []
        """Commands declared on this router (``@router.command``)."""
        self.routers: list[Router] = []
        self.parent: Router | None = None
        self.generation = _bump()
        self.middleware: MiddlewareManager[Context] = MiddlewareManager(self._changed)
        """Inner middleware: wraps the matched handlers of this router and the routers it includes."""
        self.outer_middleware: MiddlewareManager[Context] = MiddlewareManager(self._changed)
        """Outer middleware: sees every event the bot receives, before routing and filters."""

    def _changed(self) -> None:
        router: Router | None = self
        stamp = _bump()
        while router is not None:
            router.generation = stamp
            router = router.parent

    # -- registration -------------------------------------------------------------------------------------------

    def register(
        self,
        event_types: str | Iterable[str],
        callback: HandlerFn,
        *predicates: Predicate,
        **filters: Any,
    ) -> HandlerFn:
        """Register ``callback`` for one or more event types (what the decorators do)."""
        return self._add(event_types, callback, build_filters(predicates, filters))

    def _add(self, event_types: str | Iterable[str], callback: HandlerFn, built: tuple[Filter, ...]) -> HandlerFn:
        _require_async(callback, "handler")
        types = (event_types,) if isinstance(event_types, str) else tuple(event_types)
        if not types:
            raise ValueError("a handler needs at least one event type")
        for event_type in types:
            self.handlers.setdefault(event_type, []).append(Handler(callback, built, self))
        self._changed()
        return callback

    def on_event(self, event_type: str | Iterable[str], *predicates: Predicate, **filters: Any) -> Callable[[F], F]:
        """Handle any Linq event type by name, e.g. ``@bot.on_event("poll.vote.added")``."""
        built = build_filters(predicates, filters)  # a bad filter fails here, at import time

        def decorator(fn: F) -> F:
            self._add(event_type, fn, built)
            return fn

        return decorator

    def on_message(
        self,
        *predicates: Predicate,
        text: str | Iterable[str] | None = None,
        contains: str | Iterable[str] | None = None,
        startswith: str | Iterable[str] | None = None,
        regex: Any = None,
        sender: str | Iterable[str] | None = None,
        group: bool | None = None,
        service: str | Iterable[str] | None = None,
        has_media: bool | None = None,
        reconciled: bool = False,
        **more: Any,
    ) -> Callable[[F], F]:
        """Handle inbound messages from people. The bot's own outbound messages never arrive here.

        ``reconciled=True`` also accepts late messages Linq recovered after the fact (history, by default ignored).
        Plugins add more keyword filters (e.g. ``state=``).
        """
        keywords = dict(
            text=text,
            contains=contains,
            startswith=startswith,
            regex=regex,
            sender=sender,
            group=group,
            service=service,
            has_media=has_media,
            reconciled=reconciled,
            **more,
        )
        return self.on_event(MESSAGE_RECEIVED, *predicates, **keywords)

    def on_reaction(
        self,
        *predicates: Predicate,
        reaction: str | Iterable[str] | None = None,
        removed: bool = False,
        include_own: bool = False,
        **filters: Any,
    ) -> Callable[[F], F]:
        """Handle tapbacks people add (``removed=True``: take away); ``reaction="love"`` filters by type.

        The bot's own tapbacks are left out unless ``include_own=True``.
        """
        extra = predicates if include_own else (_from_people, *predicates)
        if reaction is not None:
            extra = (*extra, _reaction_type(reaction))
        event_type = "reaction.removed" if removed else "reaction.added"
        return self.on_event(event_type, *extra, **filters)

    def command(self, name: str, *, aliases: Iterable[str] = (), hidden: bool = False) -> Callable[[F], F]:
        """Answer a typed command, ``weather paris`` or ``/weather paris``: ``async def fn(ctx, city: str)``.

        Arguments are parsed from the signature after ``ctx``; the docstring is the help text. Needs the ``commands``
        plugin (``linqbot_commands``, loaded by default); see docs/plugins.md.
        """
        names = (name, *((aliases,) if isinstance(aliases, str) else tuple(aliases)))
        for label in names:
            if not isinstance(label, str) or not label or any(ch.isspace() for ch in label):
                raise ValueError(f"a command name must be one word without spaces, got {label!r}")

        def decorator(fn: F) -> F:
            _require_async(fn, "command")
            self.commands.append(CommandDeclaration(names[0], names[1:], fn, self, hidden))
            self._changed()
            return fn

        return decorator

    def on_error(self, *exception_types: type[BaseException]) -> Callable[[E], E]:
        """Handle exceptions raised while processing an event: ``async def fn(ctx, error)``."""
        types = exception_types or (Exception,)

        def decorator(fn: E) -> E:
            _require_async(fn, "error handler")
            for exc_type in types:
                self.error_handlers.append((exc_type, fn))
            self._changed()
            return fn

        return decorator

    def include_router(self, router: Router) -> Router:
        """Attach ``router``: its handlers run after this router's own, in include order."""
        if router is self or router.parent is not None:
            raise ValueError(f"router {router.name!r} is already included somewhere")
        ancestor: Router | None = self
        while ancestor is not None:
            if ancestor is router:
                raise ValueError("including this router would create a cycle")
            ancestor = ancestor.parent
        router.parent = self
        self.routers.append(router)
        self._changed()
        return router

    # Short names for the common lifecycle events -----------------------------------------------------------------

    def _lifecycle(self, name: str, predicates: tuple[Predicate, ...], filters: dict[str, Any]) -> Callable[[F], F]:
        return self.on_event(LIFECYCLE_EVENTS[name], *predicates, **filters)

    def on_sent(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """The bot's own message was sent (``message.sent``)."""
        return self._lifecycle("sent", p, f)

    def on_delivered(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """A message reached the recipient's device (``message.delivered``)."""
        return self._lifecycle("delivered", p, f)

    def on_read(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """The recipient read a message (``message.read``; iMessage and RCS only)."""
        return self._lifecycle("read", p, f)

    def on_failed(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """A message could not be delivered (``message.failed``)."""
        return self._lifecycle("failed", p, f)

    def on_edited(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone edited a message (``message.edited``)."""
        return self._lifecycle("edited", p, f)

    def on_typing(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone started or stopped typing (``chat.typing_indicator.*``)."""
        return self._lifecycle("typing", p, f)

    def on_participant_added(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone joined a group chat (``participant.added``)."""
        return self._lifecycle("participant_added", p, f)

    def on_participant_removed(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone left or was removed from a group chat (``participant.removed``)."""
        return self._lifecycle("participant_removed", p, f)

    def on_location(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone started or stopped sharing their location (``location.sharing.*``)."""
        return self._lifecycle("location", p, f)

    def on_chat_created(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """A chat was created (``chat.created``)."""
        return self._lifecycle("chat_created", p, f)

    def on_group_updated(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """A group's name or icon changed (``chat.group_name_updated`` / ``chat.group_icon_updated``)."""
        return self._lifecycle("group_updated", p, f)

    def on_line_status(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """A line's status or reputation changed (``phone_number.status_updated``)."""
        return self._lifecycle("line_status", p, f)

    def on_opt_out(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone sent an opt-out keyword (STOP …): sends to them now raise `OptedOut`; one courtesy reply may
        pass with ``ctx.reply(..., override_optout=True)``."""
        return self._lifecycle("opt_out", p, f)

    def on_opt_in(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """An opted-out person wrote again, which opts them back in (their message is dispatched next)."""
        return self._lifecycle("opt_in", p, f)

    def on_flood(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone sent more messages at once than flood control dispatches: the first message over the limit, once
        per burst; the rest of the burst reaches no handler."""
        return self._lifecycle("flood", p, f)

    def on_contact_card(self, *p: Predicate, **f: Any) -> Callable[[F], F]:
        """Someone shared their contact card (``contact_card.received``)."""
        return self._lifecycle("contact_card", p, f)

    # -- flattening for the dispatcher ------------------------------------------------------------------------------

    def walk(self) -> Iterable[Router]:
        """This router and every included router, depth first in include order."""
        yield self
        for child in self.routers:
            yield from child.walk()

    def lineage(self) -> list[Router]:
        """The routers from the root down to this one."""
        chain: list[Router] = []
        router: Router | None = self
        while router is not None:
            chain.append(router)
            router = router.parent
        return chain[::-1]
