"""The API error envelope and trace ids, shared by every route so errors look exactly like Linq's."""

import secrets
from typing import Any

from aiohttp import web

DOC_BASE = "https://docs.linqapp.com/error/codes"


def new_trace_id() -> str:
    """A W3C trace id: 32 lowercase hex characters."""
    return secrets.token_hex(16)


class ApiError(Exception):
    """Raised anywhere in a handler; the error middleware turns it into the Linq error envelope."""

    def __init__(self, status: int, code: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def doc_url(code: int) -> str:
    return f"{DOC_BASE}/{str(code)[0]}xxx/{code}/"


def error_response(error: ApiError, trace_id: str) -> web.Response:
    body: dict[str, Any] = {"status": error.status, "code": error.code, "message": error.message}
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        body["retry_after"] = error.retry_after
        headers["Retry-After"] = str(error.retry_after)
    body["doc_url"] = doc_url(error.code)
    envelope = {"success": False, "error": body, "trace_id": trace_id}
    return web.json_response(envelope, status=error.status, headers=headers)


# Shorthands for the errors raised most often, named after the error table in the API reference.
def missing(field: str) -> ApiError:
    return ApiError(400, 1001, f"Missing required field: {field}")


def invalid(message: str) -> ApiError:
    return ApiError(400, 1005, message)


def bad_phone(value: object) -> ApiError:
    return ApiError(400, 1002, f"Invalid phone number format: {value!r} (expected E.164)")


def bad_parts(message: str) -> ApiError:
    return ApiError(400, 1004, message)


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(429, 1007, f"Rate limited. Try again in {retry_after} seconds.", retry_after)
