"""``/v3/chats/{id}/messages`` (list, send) and ``/v3/chats/{id}/voicememo``."""

import mimetypes
import posixpath
from urllib.parse import urlparse

from aiohttp import web

from linqbot.emulator import render
from linqbot.emulator.api.common import PREFIX, engine, json_body, ok, opt_bool, opt_str, page, trace_id
from linqbot.emulator.clock import iso
from linqbot.emulator.content import Content, is_url, parse_content
from linqbot.emulator.errors import ApiError, invalid
from linqbot.emulator.state import new_id

AUDIO_EXTENSIONS = (".mp3", ".m4a", ".aac", ".caf", ".wav", ".aiff", ".aif", ".amr")
routes = web.RouteTableDef()


@routes.get(f"{PREFIX}/chats/{{chat_id}}/messages")
async def list_messages(request: web.Request) -> web.Response:
    """Newest first (the emulator's documented choice; the real order is unverified)."""
    emu = engine(request)
    chat = emu.get_chat(request.match_info["chat_id"])
    messages = [m for m in emu.state.messages.values() if m.chat_id == chat.id]
    messages.sort(key=lambda m: m.created_at, reverse=True)
    return page([render.message(chat, m) for m in messages], request, "messages", 20)


@routes.post(f"{PREFIX}/chats/{{chat_id}}/messages")
async def send_message(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    body = await json_body(request)
    content = parse_content(body.get("message"), emu.attachment, emu.file_url)
    override = opt_bool(body, "override_optout")
    message = emu.idempotent_replay(content.idempotency_key)
    if message is None:
        if content.is_experience and (chat.service != "iMessage" or chat.is_group):
            raise ApiError(409, 2018, "Experiences can only be sent over iMessage to one recipient")
        message = emu.send(chat, content, override_optout=override, trace_id=trace_id(request))
    reply_chat = emu.get_chat(message.chat_id)
    return ok({"chat_id": reply_chat.id, "message": render.sent_message(reply_chat, message)})


@routes.post(f"{PREFIX}/chats/{{chat_id}}/voicememo")
async def send_voicememo(request: web.Request) -> web.Response:
    emu = engine(request)
    chat = emu.get_active_chat(request.match_info["chat_id"])
    body = await json_body(request)
    url, attachment_id = opt_str(body, "voice_memo_url"), opt_str(body, "attachment_id")
    if (url is None) == (attachment_id is None):
        raise invalid("provide exactly one of voice_memo_url, attachment_id")
    if attachment_id is not None:
        attachment = emu.attachment(attachment_id)
        if not attachment.content_type.startswith("audio/"):
            raise ApiError(400, 5004, "voice memos must be audio files")
        part = {
            "type": "media",
            "id": attachment.id,
            "filename": attachment.filename,
            "mime_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
            "url": emu.file_url(attachment),
        }
    else:
        assert url is not None
        filename = posixpath.basename(urlparse(url).path)
        if not is_url(url) or not url.startswith("https://") or not filename.lower().endswith(AUDIO_EXTENSIONS):
            raise ApiError(400, 5004, "voice_memo_url must be a public HTTPS audio file URL")
        mime = mimetypes.guess_type(filename)[0] or "audio/mpeg"
        part = {"type": "media", "id": new_id(), "filename": filename, "mime_type": mime, "size_bytes": 0, "url": url}
    message = emu.send(
        chat, Content(parts=[part]), override_optout=opt_bool(body, "override_optout"), trace_id=trace_id(request)
    )
    return ok(
        {
            "voice_memo": {
                "id": message.id,
                "chat": {
                    "id": chat.id,
                    "handles": [render.handle(p) for p in chat.participants],
                    "is_active": not chat.left,
                    "is_group": chat.is_group,
                    "service": chat.service,
                },
                "created_at": iso(message.created_at),
                "from": chat.line,
                "status": message.delivery_status,
                "to": [p.handle for p in chat.others()],
                "service": message.service,
                "voice_memo": {k: part[k] for k in ("id", "filename", "mime_type", "size_bytes", "url")},
            }
        }
    )
