"""The one way linqbot talks to Linq: the official SDK behind outbound middleware and our retry policy.

Each method describes its request as an :class:`OutboundCall`, runs it through :attr:`LinqClient.middleware`
and finally through :func:`call_with_retry` around the SDK call. The SDK's own retries are off
(``max_retries=0``) because they retry permanent 409s and cap ``Retry-After`` at 60 s; sends always carry
``message.idempotency_key`` so our retries cannot double-post.

Requests go over the SDK's aiohttp transport (``linq.DefaultAioHttpClient``), one pool per client: httpx's own
pool (httpcore over anyio) spent more CPU per request than everything else a send does. Message sends, the hot
path, call the SDK's typed ``request`` with pre-built options and a body already in wire shape, skipping the SDK's
per-call parameter transform and options building (see ``tests/outbound/test_wire_shape.py``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, cast

import httpx
import linq
import pydantic
from linq._models import FinalRequestOptions
from linq._utils import path_template
from linq.types import (
    AttachmentCreateResponse,
    Chat,
    ChatCreateResponse,
    ChatLeaveChatResponse,
    ChatSendVoicememoResponse,
    ChatUpdateResponse,
    HandleCheckResponse,
    Message,
    MessageAddReactionResponse,
    MessageCreateResponse,
    PhoneNumberListResponse,
)
from linq.types.chats import (
    LocationRequestResponse,
    MessageSendResponse,
    ParticipantAddResponse,
    ParticipantRemoveResponse,
)

from .errors import LinqAPIError, LinqConnectionError, error_for
from .pipeline import OutboundCall, OutboundChain
from .retry import RetryPolicy, call_with_retry

__all__ = ["LinqClient"]

log = logging.getLogger("linqbot.outbound")

_MESSAGE_SENDS = frozenset({"send_message", "create_chat", "send_auto"})
"""Ops whose body carries ``message.idempotency_key``."""

_NOT_REPEATABLE = frozenset({"send_voice_memo"})
"""POSTs that deliver to a person without any idempotency key: a retry after a 5xx could double-send."""

_Request = Callable[[], Awaitable[Any]]

_POST = FinalRequestOptions.construct(method="post", url="/v3", json_data=None)
"""Built once and copied per send: the SDK's ``post`` builds its options anew on every call, resolving and copying
every field default (as much CPU as the rest of our part of a send)."""


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, skipping its urllib round trip for answers that set no cookie (Linq's never do)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _HTTP(linq.DefaultAioHttpClient):
    """The SDK's aiohttp-backed HTTP client with the cheaper cookie jar."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _Cookies(self._cookies)


class _SDK(linq.AsyncLinqAPIV3):
    """The SDK client, building response models with pydantic's native validation first.

    The SDK builds every response with ``construct``, a lenient walk in Python over each nested field (half a
    millisecond for a chat-creating send, a tenth of a send's CPU); validation gives the same model about 20 times
    faster. An answer validation rejects (a field Linq added or changed) still gets the SDK's lenient build, so
    nothing that parsed before fails now.
    """

    def _process_response_data(self, *, data: object, cast_to: type[Any], response: httpx.Response) -> Any:
        if isinstance(data, dict) and isinstance(cast_to, type) and issubclass(cast_to, pydantic.BaseModel):
            try:
                return cast_to.model_validate(data)
            except pydantic.ValidationError:
                pass
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


def _log_retry(error: LinqAPIError, delay: float) -> None:
    log.warning("retrying Linq call in %.2fs after %s", delay, error)


def _recipients(to: Sequence[str]) -> tuple[str, ...]:
    """Accept one handle as a plain string: iterating it would send to each character."""
    handles = (to,) if isinstance(to, str) else tuple(to)
    if not handles:
        raise ValueError("at least one recipient handle is required")
    return handles


class LinqClient:
    """Typed, retried, middleware-aware access to the Linq Partner API v3.

    ``sdk`` is the raw :class:`linq.AsyncLinqAPIV3` for endpoints not wrapped here; calls made on it
    directly bypass middleware and retries.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        phone_number: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        middleware: OutboundChain | None = None,
    ) -> None:
        self.phone_number = phone_number
        self.retry = retry or RetryPolicy()
        self.middleware = middleware if middleware is not None else OutboundChain()
        self._sleep = sleep
        self._owns_http = http_client is None
        self._http = http_client or _HTTP(timeout=timeout)
        self.sdk: linq.AsyncLinqAPIV3 = _SDK(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout, http_client=self._http
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client under the SDK, for transport hooks (metrics count 429s here, retries included)."""
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP pool, unless the caller supplied (and so owns) it."""
        if self._owns_http:
            await self.sdk.close()

    async def __aenter__(self) -> LinqClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- sending -----------------------------------------------------------------------------------

    async def send_message(
        self,
        chat_id: str,
        message: dict[str, Any],
        *,
        override_optout: bool = False,
        idempotency_key: str | None = None,
        extras: dict[str, Any] | None = None,
    ) -> MessageSendResponse:
        """Send into an existing chat (``POST /v3/chats/{id}/messages``).

        ``extras`` reaches outbound middleware as ``call.extras`` (e.g. ``bubble=(index, count)`` for paced bubbles).
        """
        call = OutboundCall(
            "send_message",
            {"message": message},
            chat_id=chat_id,
            is_send=True,
            override_optout=override_optout,
            idempotency_key=idempotency_key,
            extras=dict(extras or {}),
        )
        return cast(MessageSendResponse, await self._run(call))

    async def create_chat(
        self,
        to: Sequence[str],
        message: dict[str, Any],
        *,
        from_: str | None = None,
        override_optout: bool = False,
        idempotency_key: str | None = None,
    ) -> ChatCreateResponse:
        """Open (or reuse) the chat between ``from_`` and ``to`` with a first message (``POST /v3/chats``)."""
        sender = from_ or self.phone_number
        if sender is None:
            raise ValueError("create_chat needs from_= or LinqClient(phone_number=...), or use send_auto")
        call = OutboundCall(
            "create_chat",
            {"message": message},
            to=_recipients(to),
            from_=sender,
            is_send=True,
            override_optout=override_optout,
            idempotency_key=idempotency_key,
        )
        return cast(ChatCreateResponse, await self._run(call))

    async def send_auto(
        self,
        to: Sequence[str],
        message: dict[str, Any],
        *,
        override_optout: bool = False,
        idempotency_key: str | None = None,
    ) -> MessageCreateResponse:
        """Send without choosing a line (``POST /v3/messages``): Linq reuses the chat or picks a line."""
        call = OutboundCall(
            "send_auto",
            {"message": message},
            to=_recipients(to),
            is_send=True,
            override_optout=override_optout,
            idempotency_key=idempotency_key,
        )
        return cast(MessageCreateResponse, await self._run(call))

    async def send_voice_memo(
        self,
        chat_id: str,
        *,
        url: str | None = None,
        attachment_id: str | None = None,
        override_optout: bool = False,
    ) -> ChatSendVoicememoResponse:
        """Send an iMessage voice-memo bubble from a public HTTPS URL or an uploaded attachment.

        The endpoint takes no idempotency key, so it is not retried after server errors.
        """
        if (url is None) == (attachment_id is None):
            raise ValueError("send_voice_memo needs exactly one of url= or attachment_id=")
        params = {"voice_memo_url": url} if url is not None else {"attachment_id": attachment_id}
        call = OutboundCall("send_voice_memo", params, chat_id=chat_id, is_send=True, override_optout=override_optout)
        return cast(ChatSendVoicememoResponse, await self._run(call))

    async def share_contact_card(self, chat_id: str) -> None:
        """Share the line's contact card (Linq allows one share per chat per 5 minutes)."""
        await self._run(OutboundCall("share_contact_card", {}, chat_id=chat_id, is_send=True))

    async def request_location(self, chat_id: str) -> LocationRequestResponse:
        """Ask the contact of a 1:1 iMessage chat to share their location."""
        call = OutboundCall("request_location", {}, chat_id=chat_id, is_send=True)
        return cast(LocationRequestResponse, await self._run(call))

    # -- message interactions ----------------------------------------------------------------------

    async def react(
        self,
        message_id: str,
        reaction: str,
        *,
        operation: Literal["add", "remove"] = "add",
        part_index: int | None = None,
        custom_emoji: str | None = None,
    ) -> MessageAddReactionResponse:
        """Add or remove a tapback (``love``, ``like``, …, or ``custom`` with ``custom_emoji``)."""
        params: dict[str, Any] = {"message_id": message_id, "operation": operation, "type": reaction}
        if part_index is not None:
            params["part_index"] = part_index
        if custom_emoji is not None:
            params["custom_emoji"] = custom_emoji
        return cast(MessageAddReactionResponse, await self._run(OutboundCall("react", params)))

    async def edit_message(self, message_id: str, text: str, *, part_index: int = 0) -> Message:
        """Edit a sent text part (at most 5 edits, within 15 minutes of sending)."""
        params = {"message_id": message_id, "text": text, "part_index": part_index}
        return cast(Message, await self._run(OutboundCall("edit_message", params)))

    async def delete_message(self, message_id: str) -> None:
        """Delete from Linq's storage only; recipients keep the message."""
        await self._run(OutboundCall("delete_message", {"message_id": message_id}))

    # -- chat state --------------------------------------------------------------------------------

    async def typing_start(self, chat_id: str) -> None:
        """Show the typing indicator (~85-90 s; refresh every 60 s to keep it visible)."""
        await self._run(OutboundCall("typing_start", {}, chat_id=chat_id))

    async def typing_stop(self, chat_id: str) -> None:
        await self._run(OutboundCall("typing_stop", {}, chat_id=chat_id))

    async def mark_read(self, chat_id: str) -> None:
        await self._run(OutboundCall("mark_read", {}, chat_id=chat_id))

    async def get_chat(self, chat_id: str) -> Chat:
        return cast(Chat, await self._run(OutboundCall("get_chat", {}, chat_id=chat_id)))

    # -- groups ------------------------------------------------------------------------------------

    async def create_group(
        self,
        to: Sequence[str],
        message: dict[str, Any],
        *,
        name: str | None = None,
        from_: str | None = None,
        idempotency_key: str | None = None,
    ) -> ChatCreateResponse:
        """Create a group chat, then name it.

        Naming right away also stops a later create with the same members from reusing this group.
        """
        if len(_recipients(to)) < 2:
            raise ValueError("a group needs at least two recipients; use create_chat for a DM")
        created = await self.create_chat(to, message, from_=from_, idempotency_key=idempotency_key)
        if name is not None:
            await self.rename_group(created.chat.id, name)
        return created

    async def rename_group(self, chat_id: str, name: str) -> ChatUpdateResponse:
        call = OutboundCall("rename_group", {"display_name": name}, chat_id=chat_id)
        return cast(ChatUpdateResponse, await self._run(call))

    async def set_group_icon(self, chat_id: str, url: str) -> ChatUpdateResponse:
        call = OutboundCall("set_group_icon", {"group_chat_icon": url}, chat_id=chat_id)
        return cast(ChatUpdateResponse, await self._run(call))

    async def add_participant(self, chat_id: str, handle: str) -> ParticipantAddResponse:
        call = OutboundCall("add_participant", {"handle": handle}, chat_id=chat_id)
        return cast(ParticipantAddResponse, await self._run(call))

    async def remove_participant(self, chat_id: str, handle: str) -> ParticipantRemoveResponse:
        call = OutboundCall("remove_participant", {"handle": handle}, chat_id=chat_id)
        return cast(ParticipantRemoveResponse, await self._run(call))

    async def leave_chat(self, chat_id: str) -> ChatLeaveChatResponse:
        """Leave an iMessage group; afterwards the chat answers 409/2013 (:class:`ChatUnavailable`)."""
        return cast(ChatLeaveChatResponse, await self._run(OutboundCall("leave_chat", {}, chat_id=chat_id)))

    # -- lines, capabilities, attachments ----------------------------------------------------------

    async def check_imessage(self, address: str) -> HandleCheckResponse:
        """Whether ``address`` is reachable over iMessage (rate-limited: cache the answer)."""
        call = OutboundCall("check_imessage", {"address": address}, from_=self.phone_number)
        return cast(HandleCheckResponse, await self._run(call))

    async def check_rcs(self, address: str) -> HandleCheckResponse:
        """Whether ``address`` is reachable over RCS; a 503 means unknown, not "no"."""
        call = OutboundCall("check_rcs", {"address": address}, from_=self.phone_number)
        return cast(HandleCheckResponse, await self._run(call))

    async def list_phone_numbers(self) -> PhoneNumberListResponse:
        return cast(PhoneNumberListResponse, await self._run(OutboundCall("list_phone_numbers", {})))

    async def upload_attachment(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload bytes through the presigned flow and return the ``attachment_id`` for media parts."""
        params = {"data": data, "filename": filename, "content_type": content_type}
        return cast(str, await self._run(OutboundCall("upload_attachment", params)))

    # -- machinery ---------------------------------------------------------------------------------

    async def _run(self, call: OutboundCall) -> Any:
        if call.op in _MESSAGE_SENDS and call.idempotency_key is None:
            call.idempotency_key = call.params["message"].get("idempotency_key") or uuid.uuid4().hex
        return await self.middleware(call, self._terminal)

    async def _terminal(self, call: OutboundCall) -> Any:
        """Perform ``call`` as middleware left it, retried per the policy."""
        if call.op == "upload_attachment":
            return await self._upload(call)
        return await self._retrying(self._request(call), idempotent=call.op not in _NOT_REPEATABLE)

    async def _retrying(self, request: _Request, *, idempotent: bool = True) -> Any:
        return await call_with_retry(request, self.retry, sleep=self._sleep, on_retry=_log_retry, idempotent=idempotent)

    def _request(self, call: OutboundCall) -> _Request:
        """The SDK call for ``call``; its ``params`` are the SDK method's keyword arguments."""
        sdk, params = self.sdk, call.params
        optout: dict[str, Any] = {"override_optout": True} if call.override_optout else {}
        match call.op:
            case "send_message":
                path = path_template("/v3/chats/{chat_id}/messages", chat_id=self._chat_id(call))
                body = {"message": self._stamped(call), **optout}
                return self._post(path, body, MessageSendResponse)
            case "create_chat":
                if not call.from_:
                    raise ValueError("create_chat needs a from_ line")
                body = {"from": call.from_, "to": list(call.to), "message": self._stamped(call), **optout}
                return self._post("/v3/chats", body, ChatCreateResponse)
            case "send_auto":
                message = self._stamped(call)
                key = cast(str, call.idempotency_key)
                return lambda: sdk.messages.create(to=list(call.to), message=message, idempotency_key=key, **optout)
            case "check_imessage" | "check_rcs":
                check = sdk.capability.check_RCS if call.op == "check_rcs" else sdk.capability.check_i_message
                line: dict[str, Any] = {"from_": call.from_} if call.from_ else {}
                return lambda: check(**params, **line)
            case "react":
                return lambda: sdk.messages.add_reaction(**params)
            case "edit_message":
                return lambda: sdk.messages.update(**params)
            case "delete_message":
                return lambda: sdk.messages.delete(**params)
            case "list_phone_numbers":
                return lambda: sdk.phone_numbers.list()
            case "send_voice_memo":
                chat_id = self._chat_id(call)
                return lambda: sdk.chats.send_voicememo(chat_id, **params, **optout)
        chat_ops: dict[str, Callable[..., Awaitable[Any]]] = {
            "share_contact_card": sdk.chats.share_contact_card,
            "request_location": sdk.chats.location.request,
            "typing_start": sdk.chats.typing.start,
            "typing_stop": sdk.chats.typing.stop,
            "mark_read": sdk.chats.mark_as_read,
            "get_chat": sdk.chats.retrieve,
            "rename_group": sdk.chats.update,
            "set_group_icon": sdk.chats.update,
            "add_participant": sdk.chats.participants.add,
            "remove_participant": sdk.chats.participants.remove,
            "leave_chat": sdk.chats.leave_chat,
        }
        if call.op not in chat_ops:
            raise ValueError(f"unknown outbound op {call.op!r}")
        method, chat_id = chat_ops[call.op], self._chat_id(call)
        return lambda: method(chat_id, **params)

    def _post(self, path: str, body: dict[str, Any], answer: type[Any]) -> _Request:
        """A POST through the SDK's typed ``request`` with the body already in wire shape.

        The URL is made absolute here: the SDK would parse the relative path and then re-parse it joined to its base.
        """
        url = f"{self.sdk.base_url}{path.lstrip('/')}"
        return lambda: self.sdk.request(answer, _POST.model_copy(update={"url": url, "json_data": body}))

    @staticmethod
    def _chat_id(call: OutboundCall) -> str:
        if not call.chat_id:
            raise ValueError(f"{call.op} needs a chat_id")
        return call.chat_id

    @staticmethod
    def _stamped(call: OutboundCall) -> Any:
        """The message with the call's idempotency key, which survives any middleware rewrite of it."""
        return {**call.params["message"], "idempotency_key": call.idempotency_key}

    async def _upload(self, call: OutboundCall) -> str:
        data: bytes = call.params["data"]
        ticket: AttachmentCreateResponse = await self._retrying(
            lambda: self.sdk.attachments.create(
                filename=call.params["filename"],
                content_type=call.params["content_type"],
                size_bytes=len(data),
            )
        )

        async def put() -> None:
            try:
                response = await self._http.request(
                    ticket.http_method, ticket.upload_url, content=data, headers=ticket.required_headers
                )
            except httpx.TransportError as exc:
                raise LinqConnectionError(f"attachment upload failed: {exc!r}") from exc
            if response.is_error:
                raise error_for(
                    response.status_code,
                    None,
                    f"attachment upload failed: {response.text[:200]}",
                    trace_id=response.headers.get("x-trace-id"),
                )

        await self._retrying(put)
        return ticket.attachment_id
