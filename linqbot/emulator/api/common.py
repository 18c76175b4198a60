"""Request helpers shared by the REST route modules: the engine key, JSON body parsing, field readers."""

import json
from typing import Any

from aiohttp import web

from linqbot.emulator.engine import Engine
from linqbot.emulator.errors import ApiError, invalid, missing

Json = dict[str, Any]
ENGINE = web.AppKey("linqbot_emulator_engine", Engine)
PREFIX = "/api/partner/v3"


def engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def trace_id(request: web.Request) -> str:
    return str(request["trace_id"])


async def json_body(request: web.Request, *, optional: bool = False) -> Json:
    """The request body as a JSON object; 1003 when it is not valid JSON or not an object."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, 1003, "Request body must be a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, 1003, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, 1003, "Request body must be a JSON object")
    return body


def req_str(body: Json, key: str) -> str:
    value = body.get(key)
    if value is None:
        raise missing(key)
    if not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    return value


def opt_str(body: Json, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    return value


def opt_bool(body: Json, key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"{key} must be a boolean")
    return value


def str_list(body: Json, key: str, *, required: bool = True) -> list[str] | None:
    value = body.get(key)
    if value is None:
        if required:
            raise missing(key)
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{key} must be a list of strings")
    return list(value)


def query_int(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{key} must be an integer") from None
    if not low <= value <= high:
        raise invalid(f"{key} must be between {low} and {high}")
    return value


def page(items: list[Json], request: web.Request, key: str, default_limit: int) -> web.Response:
    """Cursor pagination; the cursor is the offset as a string (opaque to clients)."""
    limit = query_int(request, "limit", default_limit, 1, 100)
    cursor = request.query.get("cursor") or "0"
    if not cursor.isdigit():
        raise invalid("cursor is not valid")
    start = int(cursor)
    end = start + limit
    next_cursor = str(end) if end < len(items) else None
    return web.json_response({key: items[start:end], "next_cursor": next_cursor})


def ok(data: Json, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def empty(status: int = 204) -> web.Response:
    return web.Response(status=status)
