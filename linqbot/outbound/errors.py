"""Typed errors for Linq API failures.

The SDK raises one exception class per HTTP status, but Linq's meaning lives in the numeric ``code``
(a 403 may be an opt-out, a block, a sandbox rule or an ineligible line; a 409 may be worth retrying
or permanent). Handlers want to ``except OptedOut`` rather than decode bodies, so every failure is
turned into one :class:`LinqAPIError` subclass chosen by code first, then by status.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import linq

__all__ = [
    "ChatUnavailable",
    "Conflict",
    "InvalidRequest",
    "LineIneligible",
    "LinqAPIError",
    "LinqConnectionError",
    "NotFound",
    "OptedOut",
    "RateLimited",
    "RecipientBlocked",
    "RecipientNotAllowed",
    "ServerError",
    "Unauthorized",
    "error_for",
    "from_sdk_error",
]


class LinqAPIError(Exception):
    """A failed Linq API call, with everything support asks for (status, code, trace id)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
        doc_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.trace_id = trace_id
        self.retry_after = retry_after
        self.doc_url = doc_url

    def __str__(self) -> str:
        return f"Linq API error (status={self.status}, code={self.code}): {self.message} [trace_id={self.trace_id}]"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, trace_id={self.trace_id!r}, retry_after={self.retry_after!r})"
        )


class RateLimited(LinqAPIError):
    """429 / 1007: per sender–recipient pair, sandbox cap or capability checks; see ``retry_after``."""


class OptedOut(LinqAPIError):
    """2024: the recipient opted out (STOP); only ``override_optout=True`` sends anyway."""


class RecipientBlocked(LinqAPIError):
    """2026: the recipient is on your blocklist."""


class RecipientNotAllowed(LinqAPIError):
    """2008: sandbox recipients must message the line first."""


class LineIneligible(LinqAPIError):
    """2027: the sending line may not send right now (reads still work)."""


class ChatUnavailable(LinqAPIError):
    """2013: your line left this chat; interaction endpoints refuse it for good."""


class NotFound(LinqAPIError):
    """404 family: chat, message, attachment, subscription … not found."""


class Unauthorized(LinqAPIError):
    """401 / 2004: missing or invalid API key."""


class InvalidRequest(LinqAPIError):
    """400 family (and 422): the request itself is wrong; retrying cannot help."""


class Conflict(LinqAPIError):
    """409 family: the request conflicts with the resource's state (only 2009 is transient)."""


class ServerError(LinqAPIError):
    """5xx: Linq-side failure; retried with backoff."""


class LinqConnectionError(LinqAPIError):
    """Network failure or timeout: no HTTP status was received."""


_BY_CODE: dict[int, type[LinqAPIError]] = {
    1007: RateLimited,
    2004: Unauthorized,
    2008: RecipientNotAllowed,
    2013: ChatUnavailable,
    2024: OptedOut,
    2026: RecipientBlocked,
    2027: LineIneligible,
}

_BY_STATUS: dict[int, type[LinqAPIError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    429: RateLimited,
}


def error_for(
    status: int | None,
    code: int | None,
    message: str,
    *,
    trace_id: str | None = None,
    retry_after: float | None = None,
    doc_url: str | None = None,
) -> LinqAPIError:
    """Build the most specific error class for a status/code pair."""
    cls: type[LinqAPIError] = LinqAPIError
    if code is not None and code in _BY_CODE:
        cls = _BY_CODE[code]
    elif status is not None and status >= 500:
        cls = ServerError
    elif status is not None:
        cls = _BY_STATUS.get(status, LinqAPIError)
    return cls(message, status=status, code=code, trace_id=trace_id, retry_after=retry_after, doc_url=doc_url)


def from_sdk_error(exc: linq.APIError) -> LinqAPIError:
    """Translate an SDK exception; the caller raises the result ``from exc`` to keep the cause."""
    if isinstance(exc, linq.APIConnectionError):
        error: LinqAPIError = LinqConnectionError(exc.message)
    else:
        response = exc.response if isinstance(exc, linq.APIStatusError) else None
        inner = exc.body if isinstance(exc.body, dict) else {}
        message = inner.get("message")
        error = error_for(
            response.status_code if response is not None else None,
            exc.code,
            message if isinstance(message, str) and message else exc.message,
            trace_id=_trace_id(response, inner),
            retry_after=_retry_after(exc.retry_after, response),
            doc_url=exc.doc_url,
        )
    error.__cause__ = exc
    return error


def _trace_id(response: httpx.Response | None, inner: dict[str, Any]) -> str | None:
    """The SDK keeps only the inner ``error`` object, so the top-level ``trace_id`` is re-read here."""
    candidates: list[object] = [inner.get("trace_id")]
    if response is not None:
        try:
            body = response.json()
        except (ValueError, httpx.ResponseNotRead):
            body = None
        if isinstance(body, dict):
            candidates.append(body.get("trace_id"))
        candidates.append(response.headers.get("x-trace-id"))
    return next((c for c in candidates if isinstance(c, str) and c), None)


def _retry_after(from_body: int | None, response: httpx.Response | None) -> float | None:
    """Largest of the body's ``retry_after`` and the headers: waiting too little only earns another 429."""
    values = [float(from_body)] if from_body is not None else []
    if response is not None:
        headers = response.headers
        values += [v for v in (_header_seconds(headers), _header_ms(headers)) if v is not None]
    return max(values) if values else None


def _header_seconds(headers: httpx.Headers) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _header_ms(headers: httpx.Headers) -> float | None:
    raw = headers.get("retry-after-ms")
    try:
        return max(float(raw), 0.0) / 1000 if raw is not None else None
    except ValueError:
        return None
