"""The aiohttp application (``create_app``) and the ``Emulator`` object tests and ``linqbot dev`` use."""

import asyncio
import dataclasses
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from linqbot.emulator import admin, api
from linqbot.emulator.api.common import ENGINE, PREFIX
from linqbot.emulator.config import EmulatorConfig
from linqbot.emulator.engine import Engine
from linqbot.emulator.errors import ApiError, error_response, new_trace_id
from linqbot.emulator.faults import FaultConfig
from linqbot.emulator.state import Person

Json = dict[str, Any]
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("linqbot.emulator")
MAX_BODY = 101 * 1024 * 1024
HTTP_ERROR_CODES = {404: 1005, 405: 1005, 413: 5005}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes the Linq error envelope; nothing escapes as a bare 500."""
    request["trace_id"] = new_trace_id()
    request.app[ENGINE].public_url = f"{request.scheme}://{request.host}"
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc, request["trace_id"])
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_ERROR_CODES.get(exc.status, 1005)
        return error_response(ApiError(exc.status, code, exc.reason), request["trace_id"])
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError too: nothing is wrong on our side
        log.info("client disconnected before the answer to %s %s", request.method, request.path)
        return error_response(ApiError(400, 1003, "Client disconnected mid-request"), request["trace_id"])
    except Exception:
        log.exception("emulator bug while handling %s %s", request.method, request.path)
        return error_response(ApiError(500, 3006, "Internal server error"), request["trace_id"])


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Injected latency and 5xx errors for matching API requests (never for ``/_emulator``)."""
    if not request.path.startswith("/_emulator"):
        faults = request.app[ENGINE].faults
        for rule in faults.for_request(request.method, request.path):
            if rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if faults.chance(rule.error_rate):
                code = 3005 if rule.error_status == 504 else 3002
                raise ApiError(rule.error_status, code, "Injected fault: server operation failed")
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PREFIX + "/") or request.path == PREFIX:
        expected = f"Bearer {request.app[ENGINE].config.api_key}"
        if request.headers.get("Authorization") != expected:
            raise ApiError(401, 2004, "Unauthorized: missing or invalid API key")
    return await handler(request)


async def _trace_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Trace-ID"] = request.get("trace_id") or new_trace_id()


def create_app(engine: Engine | None = None, config: EmulatorConfig | None = None) -> web.Application:
    """Build the emulator app; pass an ``Engine`` to share it with an ``Emulator`` object."""
    engine = engine or Engine(config or EmulatorConfig())
    app = web.Application(middlewares=[errors_middleware, faults_middleware, auth_middleware], client_max_size=MAX_BODY)
    app[ENGINE] = engine
    api.add_routes(app)
    app.router.add_routes(admin.routes)
    app[admin.STREAMS] = set()
    app.on_response_prepare.append(_trace_header)
    app.on_shutdown.append(admin.close_streams)

    async def close_engine(_: web.Application) -> None:
        await engine.close()

    app.on_cleanup.append(close_engine)
    return app


class Emulator:
    """A running emulator plus in-process shortcuts for tests (same behaviour as the admin API)."""

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or EmulatorConfig(), **overrides)
        self.engine = Engine(self.config)
        self.app = create_app(self.engine)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---- running -------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the root URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound}"
        self.engine.public_url = self.url
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "Emulator":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return f"{self.url}/api/partner"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def line(self) -> str:
        """The first (default) line's phone number."""
        return self.engine.state.lines[0].phone_number

    # ---- simulated people ----------------------------------------------------------------------------

    async def inbound(
        self,
        from_: str,
        text: str | None = None,
        *,
        to: str | None = None,
        parts: list[Json] | None = None,
        group: list[str] | None = None,
        chat_id: str | None = None,
        reply_to: Json | None = None,
    ) -> Json:
        """A person sends ``text`` (or ``parts``) to a line; returns chat_id, message_id, event_ids."""
        return self.engine.inbound(
            from_=from_, to=to, text=text, parts=parts, group=group, chat_id=chat_id, reply_to=reply_to
        )

    async def react(
        self,
        from_: str,
        message_id: str,
        reaction_type: str = "love",
        operation: str = "add",
        custom_emoji: str | None = None,
    ) -> Json:
        return self.engine.inbound_reaction(
            from_=from_,
            message_id=message_id,
            reaction_type=reaction_type,
            operation=operation,
            custom_emoji=custom_emoji,
        )

    async def typing(self, from_: str, on: bool = True, *, chat_id: str | None = None, to: str | None = None) -> Json:
        return self.engine.inbound_typing(from_=from_, typing=on, chat_id=chat_id, to=to)

    def set_person(self, handle: str, **settings: Any) -> Person:
        """Script a simulated person (auto_read, read_delay, auto_reply, fail_code, imessage, rcs...)."""
        person = Person(handle=handle, **settings)
        self.engine.state.people[handle] = person
        self.engine.notify("person", person.model_dump())
        return person

    # ---- inspection ----------------------------------------------------------------------------------

    def messages(
        self, *, chat_id: str | None = None, handle: str | None = None, direction: str | None = None
    ) -> list[Json]:
        return self.engine.messages(chat_id=chat_id, handle=handle, direction=direction)

    def chats(self) -> list[Json]:
        return self.engine.chats()

    def events(self, event_type: str | None = None) -> list[Json]:
        """Every webhook event emitted (whether or not a subscription received it)."""
        return [e for e in self.engine.events if event_type is None or e["event_type"] == event_type]

    def webhook_log(self) -> list[Json]:
        return list(self.engine.webhooks.log)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Await the first truthy ``predicate()``; re-evaluated on every state change, never polled."""
        return await self.engine.wait_for(predicate, timeout)

    async def wait_for_message(
        self,
        *,
        direction: str = "outbound",
        chat_id: str | None = None,
        handle: str | None = None,
        status: str | None = None,
        text: str | None = None,
        timeout: float = 5.0,
    ) -> Json:
        """The first message matching every given field."""

        def find() -> Json | None:
            for m in self.messages(chat_id=chat_id, handle=handle, direction=direction):
                if (status is None or m["status"] == status) and (text is None or m["text"] == text):
                    return m
            return None

        found = await self.wait_for(find, timeout)
        assert found is not None
        return found

    async def settle(self) -> bool:
        """Wait until message lifecycles and webhook deliveries under way have finished; True if any were."""
        return await self.engine.settle()

    async def subscribe(self) -> AsyncGenerator[Json, None]:
        """Async iterator over every change (same items as the ``/_emulator/ws`` stream)."""
        queue = self.engine.subscribe()
        try:
            while True:
                yield await queue.get()
        finally:
            self.engine.unsubscribe(queue)

    # ---- control -------------------------------------------------------------------------------------

    def set_faults(self, faults: FaultConfig | Json) -> None:
        self.engine.faults.configure(faults if isinstance(faults, FaultConfig) else FaultConfig.model_validate(faults))

    def set_line_status(self, phone_number: str, *, status: str | None = None, reputation: str | None = None) -> Json:
        """ACTIVE/FLAGGED and HEALTHY/AT_RISK/CRITICAL; returns the emitted event data and its id."""
        line = self.engine.get_line(phone_number, "phone_number")
        return self.engine.set_line_status(line, status=status, reputation=reputation)

    def advance_clock(self, seconds: float) -> None:
        self.engine.advance_clock(seconds)

    async def reset(self) -> None:
        await self.engine.reset()
