"""`Bot`: the root router plus everything that connects it to Linq — config, webhook app, inbox, client.

bot = Bot()

@bot.on_message(text="hi")
async def hi(ctx: Context) -> None:
    await ctx.reply("Hello!")

bot.run()
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from linqbot.config import Config, ConfigError, load_config
from linqbot.dispatch.context import Context
from linqbot.dispatch.dispatcher import Dispatcher
from linqbot.dispatch.middleware import Next
from linqbot.dispatch.router import Router
from linqbot.events import EVENT_TABLE, Event, MessageEvent
from linqbot.inbox import Inbox, InboxStore, Leadership, StatusTracker, default_file_url, store_from_url
from linqbot.middleware import Safeguards, install_safeguards
from linqbot.observability import Metrics, configure_logging
from linqbot.outbound import LinqClient, OutboundChain, RetryPolicy, build_message
from linqbot.plugins import PluginError, PluginManager
from linqbot.redact import mask_url
from linqbot.webhook.app import build_app
from linqbot.webhook.signature import Verifier

log = logging.getLogger("linqbot")

DEFAULT_BODY_LIMIT = 1024 * 1024
COMMANDS_PLUGIN = "linqbot_commands"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Bot(Router):
    """A Linq bot. Settings not given here come from the environment (``LINQ_API_KEY``, ``LINQ_WEBHOOK_SECRET``,
    ``LINQ_BASE_URL``, ``LINQ_PHONE_NUMBER``) or a ``.env`` file, and are checked at start-up.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        base_url: str | None = None,
        phone_number: str | None = None,
        webhook_path: str = "/webhook",
        max_concurrency: int = 64,
        body_limit: int = DEFAULT_BODY_LIMIT,
        drain_timeout: float = 25.0,
        inbox: str | InboxStore | None = None,
        retry: RetryPolicy | None = None,
        env_file: str | None = ".env",
        plugins: str | Sequence[str | object] | None = None,
        safeguards: Safeguards | None = None,
        name: str = "bot",
    ) -> None:
        super().__init__(name)
        secrets = [webhook_secret] if isinstance(webhook_secret, str) else webhook_secret
        self._settings: dict[str, Any] = {
            "api_key": api_key,
            "webhook_secret": list(secrets) if secrets is not None else None,
            "base_url": base_url,
            "phone_number": phone_number,
            "env_file": env_file,
        }
        self.webhook_path = webhook_path
        self.body_limit = body_limit
        self.drain_timeout = drain_timeout
        self.retry = retry
        self.dispatcher = Dispatcher(self)
        self.inbox = Inbox(self.process, max_concurrency=max_concurrency)
        """Durable, deduplicated, per-chat ordered intake: ``inbox=`` / ``LINQBOT_INBOX_URL`` pick the store
        (``memory://``, ``sqlite:///inbox.db``, ``redis://…``); ``run()`` defaults to a file, everything else to memory.
        """
        self._inbox_default: str | None = None
        self._inbox_explicit = inbox is not None
        if inbox is not None:
            self.inbox.use(store_from_url(inbox) if isinstance(inbox, str) else inbox)
        self.status = StatusTracker()
        """The furthest status of each recent message; stale status webhooks never reach handlers."""
        self.outer_middleware.add(self.status.middleware, name="message_status", first=True)
        self.outbound_middleware = OutboundChain()
        """Middleware around every API call the bot makes: ``async def mw(call, call_next)``."""
        self.metrics = Metrics()
        """Prometheus metrics, off (and free) until the admin server or `linqbot.observability.instrument` is on."""
        self.closing = False
        self._failure: Exception | None = None
        self._stop: asyncio.Event | None = None
        self._config: Config | None = None
        self._client: LinqClient | None = None
        self._verifier: Verifier | None = None
        self._app: web.Application | None = None
        self.plugins = PluginManager(plugins)
        """The loaded plugins (``LINQBOT_PLUGINS`` / ``plugins=`` choose which)."""
        self.safeguards = install_safeguards(self, safeguards or Safeguards())
        """Deliverability safeguards (pacing, typing, health, opt-out …), all on unless ``safeguards=`` says."""
        self._install_plugins()

    def _install_plugins(self) -> None:
        """Let plugins extend the bot; hooks nobody implements add nothing to the per-event path.

        A plugin that raises here stops ``Bot()`` with a `PluginError` naming it: skipping a plugin that is half set
        up (some of its handlers registered) would run a bot nobody asked for.
        """
        try:
            self._extend_by_plugins()
        except Exception as exc:
            culprit = self.plugins.blame(exc)
            if culprit is None:
                raise
            raise PluginError(culprit, exc) from exc

    def _extend_by_plugins(self) -> None:
        plugins = self.plugins
        plugins.hook.linqbot_setup(bot=self)
        for router in plugins.collect("linqbot_routers", bot=self):
            self.include_router(router)
        for mw in plugins.collect("linqbot_outer_middleware", bot=self):
            self.outer_middleware.add(mw)
        for mw in plugins.collect("linqbot_middleware", bot=self):
            self.middleware.add(mw)
        for mw in plugins.collect("linqbot_outbound_middleware", bot=self):
            self.outbound_middleware.add(mw)
        if plugins.implemented("linqbot_event"):
            self.outer_middleware.add(self._notify_observers, name="plugin_observers", first=True)
        if plugins.implemented("linqbot_handle_error"):
            self.dispatcher.fallback_error_handler = self._plugin_error_handler

    async def _notify_observers(self, ctx: Context, call_next: Next[Context]) -> Any:
        await self.plugins.call("linqbot_event", ctx=ctx)
        return await call_next(ctx)

    async def _plugin_error_handler(self, ctx: Context, error: Exception) -> bool:
        return any(result is True for result in await self.plugins.call("linqbot_handle_error", ctx=ctx, error=error))

    def _describe_handlers(self) -> str:
        """``5 handlers (message.received 4, reaction.added 1), 2 commands``: what start-up found to dispatch."""
        per_type: Counter[str] = Counter()
        commands = 0
        for router in self.walk():
            commands += len(router.commands)
            for event_type, handlers in router.handlers.items():
                per_type[event_type] += len(handlers)
        listed = ", ".join(f"{event_type} {count}" for event_type, count in sorted(per_type.items()) if count)
        text = f"{per_type.total()} handlers" + (f" ({listed})" if listed else "")
        return text + (f", {commands} commands" if commands else "")

    def _warn_of_dead_commands(self) -> None:
        """Declared commands answer only through the commands plugin: without it, say once which ones never will.

        A warning, not an error: the plugin selection (``LINQBOT_PLUGINS``) is often set per deployment, a bot whose
        other handlers work should still start, and a plugin dropped on purpose then costs one line at start-up.
        """
        loaded = {getattr(plugin, "__name__", None) for _, plugin in self.plugins.pm.list_name_plugin()}
        names = [decl.name for router in self.walk() for decl in router.commands]
        if names and COMMANDS_PLUGIN not in loaded:
            log.warning(
                "the commands plugin is not loaded, so these commands will never answer: %s; add 'commands' to "
                "LINQBOT_PLUGINS / Bot(plugins=...), or leave both unset to load every installed plugin",
                ", ".join(names),
            )

    def configure(
        self,
        *,
        api_key: str | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        base_url: str | None = None,
        phone_number: str | None = None,
    ) -> None:
        """Override settings before start-up (``linqbot dev`` and the testing kit point a bot at the emulator)."""
        if self._client is not None:
            raise RuntimeError("configure() must be called before the bot starts")
        given: dict[str, str | list[str] | None] = {
            "api_key": api_key,
            "base_url": base_url,
            "phone_number": phone_number,
        }
        if webhook_secret is not None:
            given["webhook_secret"] = [webhook_secret] if isinstance(webhook_secret, str) else list(webhook_secret)
        self._settings.update({key: value for key, value in given.items() if value is not None})
        self._config = None
        self._verifier = None

    # -- lazily built parts (so a module can create its Bot before the environment is complete) ------------------

    @property
    def config(self) -> Config:
        """The resolved settings; raises `ConfigError` naming a missing or malformed setting."""
        if self._config is None:
            self._config = load_config(**self._settings)
        return self._config

    @property
    def client(self) -> LinqClient:
        """The Linq API client; every call passes ``outbound_middleware`` and the retry policy."""
        if self._client is None:
            config = self.config
            self._client = LinqClient(
                config.api_key,
                config.base_url,
                phone_number=config.phone_number,
                retry=self.retry,
                middleware=self.outbound_middleware,
            )
            self.metrics.watch_http(self._client.http)
        return self._client

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:
            self._verifier = Verifier(self.config.webhook_secrets)
        return self._verifier

    @property
    def app(self) -> web.Application:
        """The aiohttp application: ``POST <webhook_path>`` and ``GET /healthz``."""
        if self._app is None:
            app = build_app(self, self.webhook_path)
            app.on_startup.append(self._on_startup)
            app.on_shutdown.append(self._on_shutdown)
            self._app = app
        return self._app

    async def _on_startup(self, _: web.Application) -> None:
        await self.startup()

    async def _on_shutdown(self, _: web.Application) -> None:
        await self.shutdown()

    async def startup(self) -> None:
        """Check the settings and open the client; fails fast with a `ConfigError` naming what is wrong."""
        self.closing = False
        self._failure = None
        _ = self.client, self.verifier
        if not self.inbox.started:
            self._choose_inbox_store()
            await self.inbox.start()
        await self.safeguards.startup()
        await self.plugins.call("linqbot_startup", bot=self)
        self._warn_of_dead_commands()
        log.info(
            "linqbot ready: %s; webhook at %s; Linq API at %s",
            self._describe_handlers(),
            self.webhook_path,
            mask_url(self.config.base_url),
        )

    def _choose_inbox_store(self) -> None:
        """``inbox=`` wins, then ``LINQBOT_INBOX_URL``, then run()'s file default; otherwise memory."""
        url = self.config.extra.get("LINQBOT_INBOX_URL") or self._inbox_default
        if url is None or self._inbox_explicit:
            return
        try:
            self.inbox.use(store_from_url(url))
        except ValueError as exc:
            raise ConfigError(f"LINQBOT_INBOX_URL: {exc}") from None

    async def shutdown(self) -> None:
        """Stop accepting webhooks (503 makes Linq retry them), finish in-flight events, close the client.

        Events still unfinished after ``drain_timeout`` stay in a durable inbox and run after the next start.
        """
        self.closing = True
        if not await self.inbox.drain(self.drain_timeout):
            log.warning("shutdown: %d events still running after %.0f s", self.inbox.pending, self.drain_timeout)
            await self.inbox.cancel()
        await self.safeguards.shutdown()
        await self.plugins.call("linqbot_shutdown", bot=self)
        await self.inbox.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def dispatcher_types(self) -> list[str]:
        return sorted({t for router in self.walk() for t in router.handlers})

    # -- the way in ------------------------------------------------------------------------------------------------

    def message_status(self, message_id: str) -> str | None:
        """The furthest status seen for a message (sent, delivered, read or failed); it never goes backwards."""
        return self.status.get(message_id)

    def leadership(self, name: str) -> Leadership:
        """Leader election among every process sharing this bot's inbox (e.g. for scheduled jobs)."""
        return self.inbox.leadership(name)

    async def ingest(self, event: Event) -> str:
        """Accept a verified event (its body is stored for re-runs): returns "accepted", "duplicate", "echo" or
        "ignored". Raises `InboxUnavailable` when the inbox store is unreachable."""
        if isinstance(event, MessageEvent) and event.event_type == "message.received" and event.message.is_from_me:
            return "echo"
        known = isinstance(EVENT_TABLE.get(event.event_type), type)
        if not known and not self.dispatcher.handles(event.event_type):
            log.info("acknowledged %s event %s: no handler for this type", event.event_type, event.event_id)
            return "ignored"
        return "accepted" if await self.inbox.accept(event) else "duplicate"

    async def process(self, event: Event) -> Any:
        """Dispatch one event now (the inbox calls this; tests and benchmarks may too)."""
        return await self.dispatcher.feed(Context(self, event))

    def run(self, host: str = "0.0.0.0", port: int = 8080) -> None:
        """Serve the webhook until SIGTERM/SIGINT; the inbox defaults to ``.linqbot/inbox.db`` (SQLite)."""
        configure_logging()
        _ = self.config  # fail before binding the port
        self._inbox_default = default_file_url()
        asyncio.run(self.serve(host, port))

    async def serve(self, host: str = "0.0.0.0", port: int = 8080) -> None:
        """Serve until SIGTERM/SIGINT, then drain while still listening: new webhooks get 503 (Linq retries them)
        and in-flight events get ``drain_timeout`` seconds to finish before the server closes."""
        runner = web.AppRunner(self.app, shutdown_timeout=5.0)
        await runner.setup()  # starts the bot: settings checked, unfinished events resumed
        try:
            await web.TCPSite(runner, host, port).start()
            log.info("listening on %s:%d", host, port)
            stop = self._stop = asyncio.Event()
            if self._failure is not None:  # found before the server was up
                stop.set()
            loop = asyncio.get_running_loop()
            for sig in _STOP_SIGNALS:
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:  # an application serving again, or going on, gets its signals back
                for sig in _STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            log.info("stopping: new webhooks get 503 while %d events finish", self.inbox.pending)
            self.closing = True
            await self.inbox.drain(self.drain_timeout)
        finally:
            self._stop = None
            await runner.cleanup()
        if self._failure is not None:
            raise self._failure

    def fail(self, error: Exception) -> None:
        """Something the bot cannot work without is wrong, found after start-up (a key Linq rejects): `serve` stops
        as on SIGTERM and then raises ``error``; a bot served otherwise (tests, ``linqbot dev``) only logs it."""
        log.error("%s", error)
        self._failure = error
        if self._stop is not None:
            self._stop.set()

    # -- proactive sends ---------------------------------------------------------------------------------------

    async def send(
        self,
        to: str | Sequence[str],
        text: str | None = None,
        *,
        media: str | Sequence[str] | None = None,
        link: str | None = None,
        effect: str | dict[str, str] | None = None,
        service: str | None = None,
        override_optout: bool = False,
        idempotency_key: str | None = None,
    ) -> Any:
        """Message a person (or several: a group) first.

        With a configured line (``LINQ_PHONE_NUMBER``) the chat is opened or reused on that line; without one, Linq
        picks the line (``POST /v3/messages``).
        """
        recipients = [to] if isinstance(to, str) else list(to)
        message = build_message(text, media=media, link=link, effect=effect, service=service)
        if self.config.phone_number:
            return await self.client.create_chat(
                recipients, message, override_optout=override_optout, idempotency_key=idempotency_key
            )
        return await self.client.send_auto(
            recipients, message, override_optout=override_optout, idempotency_key=idempotency_key
        )

    async def send_to_chat(
        self,
        chat_id: str,
        text: str | None = None,
        *,
        media: str | Sequence[str] | None = None,
        link: str | None = None,
        effect: str | dict[str, str] | None = None,
        reply_to: str | None = None,
        service: str | None = None,
        override_optout: bool = False,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send into an existing chat by id."""
        message = build_message(text, media=media, link=link, effect=effect, reply_to=reply_to, service=service)
        return await self.client.send_message(
            chat_id, message, override_optout=override_optout, idempotency_key=idempotency_key
        )

    async def create_group(self, to: Sequence[str], text: str, *, name: str | None = None) -> Any:
        """Open a group chat with a first message, and name it."""
        return await self.client.create_group(list(to), build_message(text), name=name)

    async def check_imessage(self, address: str) -> bool:
        """Whether ``address`` can receive iMessage now (rate-limited by Linq: cache for minutes)."""
        result = await self.client.check_imessage(address)
        return bool(result.available)

    async def check_rcs(self, address: str) -> bool:
        """Whether ``address`` can receive RCS now."""
        result = await self.client.check_rcs(address)
        return bool(result.available)
