"""``/v3/attachments``: the presigned upload flow, served by the emulator itself."""

import base64
import secrets
import typing
import uuid
from datetime import timedelta

from aiohttp import web
from linq.types.supported_content_type import SupportedContentType

from linqbot.emulator.api.common import PREFIX, empty, engine, json_body, ok, req_str
from linqbot.emulator.clock import iso
from linqbot.emulator.errors import ApiError, invalid, missing
from linqbot.emulator.state import Attachment

CONTENT_TYPES = frozenset(typing.get_args(SupportedContentType))
MAX_UPLOAD = 100 * 1024 * 1024
UPLOAD_WINDOW = timedelta(minutes=15)
TOKEN_HEADER = "X-Emulator-Upload-Token"
routes = web.RouteTableDef()


@routes.post(f"{PREFIX}/attachments")
async def create_attachment(request: web.Request) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    filename, content_type = req_str(body, "filename"), req_str(body, "content_type")
    size = body.get("size_bytes")
    if size is None:
        raise missing("size_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise invalid("size_bytes must be a positive integer")
    if size > MAX_UPLOAD:
        raise ApiError(400, 5005, "File too large (max 100 MB)")
    if content_type not in CONTENT_TYPES:
        raise ApiError(400, 5004, f"Unsupported content type {content_type!r}")
    if not filename.strip() or "/" in filename:
        raise invalid("filename must be a plain file name")
    now = emu.clock.now()
    attachment = Attachment(
        filename=filename,
        content_type=content_type,
        size_bytes=size,
        created_at=now,
        upload_token=secrets.token_urlsafe(24),
    )
    emu.state.attachments[attachment.id] = attachment
    emu.notify("attachment.created", {"id": attachment.id, "filename": filename})
    return ok(
        {
            "attachment_id": attachment.id,
            "upload_url": f"{emu.public_url}/_emulator/uploads/{attachment.id}",
            "http_method": "PUT",
            "required_headers": {"Content-Type": content_type, TOKEN_HEADER: attachment.upload_token},
            "download_url": emu.file_url(attachment),
            "expires_at": iso(now + UPLOAD_WINDOW),
        }
    )


@routes.put("/_emulator/uploads/{attachment_id}")
async def upload(request: web.Request) -> web.Response:
    """The presigned upload target: raw bytes plus exactly the headers handed out by create."""
    emu = engine(request)
    attachment = emu.state.attachments.get(request.match_info["attachment_id"])
    if attachment is None:
        raise ApiError(404, 2003, "Attachment not found")
    if request.headers.get(TOKEN_HEADER) != attachment.upload_token:
        raise ApiError(403, 2005, "Upload signature does not match")
    if request.headers.get("Content-Type") != attachment.content_type:
        raise ApiError(400, 5006, "Content-Type does not match the declared content_type")
    if emu.clock.now() - attachment.created_at > UPLOAD_WINDOW:
        raise ApiError(403, 2005, "Upload URL expired")
    data = await request.read()
    if len(data) != attachment.size_bytes:
        raise ApiError(400, 5005, f"Body is {len(data)} bytes, expected size_bytes={attachment.size_bytes}")
    attachment.content_b64 = base64.b64encode(data).decode()
    attachment.status = "complete"
    emu.notify("attachment.uploaded", {"id": attachment.id})
    return web.Response(status=200)


@routes.get("/_emulator/files/{attachment_id}/{filename}")
async def download(request: web.Request) -> web.Response:
    emu = engine(request)
    attachment = emu.attachment(request.match_info["attachment_id"])
    return web.Response(body=base64.b64decode(attachment.content_b64), content_type=attachment.content_type)


def _owned(request: web.Request) -> Attachment:
    attachment_id = request.match_info["attachment_id"]
    try:
        uuid.UUID(attachment_id)
    except ValueError:
        raise invalid("attachment id must be a UUID") from None
    attachment = engine(request).state.attachments.get(attachment_id)
    if attachment is None:
        raise ApiError(404, 2003, "Attachment not found")
    return attachment


@routes.get(f"{PREFIX}/attachments/{{attachment_id}}")
async def get_attachment(request: web.Request) -> web.Response:
    attachment = _owned(request)
    return ok(
        {
            "id": attachment.id,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
            "created_at": iso(attachment.created_at),
            "status": attachment.status,
            "download_url": engine(request).file_url(attachment),
        }
    )


@routes.delete(f"{PREFIX}/attachments/{{attachment_id}}")
async def delete_attachment(request: web.Request) -> web.Response:
    attachment = _owned(request)
    del engine(request).state.attachments[attachment.id]
    engine(request).notify("attachment.deleted", {"id": attachment.id})
    return empty()
