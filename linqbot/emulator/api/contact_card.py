"""``/v3/contact_card``: one card per line; POST once (409/2014), PATCH to change, 3 writes / 10 min."""

from aiohttp import web

from linqbot.emulator.api.common import PREFIX, engine, json_body, ok, opt_str, req_str
from linqbot.emulator.content import is_url
from linqbot.emulator.engine import Engine
from linqbot.emulator.errors import ApiError, invalid, missing, rate_limited
from linqbot.emulator.state import ContactCard

routes = web.RouteTableDef()


def card_json(card: ContactCard) -> dict[str, object]:
    return card.model_dump()


def _check_write(emu: Engine, phone_number: str) -> None:
    writes = emu.card_writes
    now = emu.clock.now().timestamp()
    retry_after = writes.retry_after(phone_number, now)
    if retry_after is not None:
        raise rate_limited(retry_after)
    writes.record(phone_number, now)


def _image(body: dict[str, object]) -> str | None:
    image_url = opt_str(body, "image_url")
    if image_url is not None and not is_url(image_url):
        raise ApiError(400, 5007, "image_url must be a downloadable image URL")
    return image_url


@routes.post(f"{PREFIX}/contact_card")
async def create_card(request: web.Request) -> web.Response:
    emu = engine(request)
    body = await json_body(request)
    line = emu.get_line(body.get("phone_number"), "phone_number")
    first_name = req_str(body, "first_name")
    if not first_name.strip():
        raise invalid("first_name must not be empty")
    card = ContactCard(
        phone_number=line.phone_number,
        first_name=first_name,
        last_name=opt_str(body, "last_name"),
        image_url=_image(body),
    )
    if line.phone_number in emu.state.contact_cards:
        raise ApiError(409, 2014, "A contact card already exists for this line; use PATCH")
    _check_write(emu, line.phone_number)
    emu.state.contact_cards[line.phone_number] = card
    emu.notify("contact_card.updated", card_json(card))
    return ok(card_json(card))


@routes.get(f"{PREFIX}/contact_card")
async def get_cards(request: web.Request) -> web.Response:
    emu = engine(request)
    phone = request.query.get("phone_number")
    if phone is not None:
        emu.get_line(phone, "phone_number")
    cards = [c for c in emu.state.contact_cards.values() if phone is None or c.phone_number == phone]
    return ok({"contact_cards": [card_json(c) for c in cards]})


@routes.patch(f"{PREFIX}/contact_card")
async def update_card(request: web.Request) -> web.Response:
    emu = engine(request)
    phone = request.query.get("phone_number")
    if phone is None:
        raise missing("phone_number")
    line = emu.get_line(phone, "phone_number")
    body = await json_body(request, optional=True)
    card = emu.state.contact_cards.get(line.phone_number)
    if card is None:
        raise ApiError(404, 2012, "No contact card for this line; create it with POST first")
    first_name, last_name, image_url = opt_str(body, "first_name"), opt_str(body, "last_name"), _image(body)
    if first_name is not None and not first_name.strip():
        raise invalid("first_name must not be empty")
    _check_write(emu, line.phone_number)
    card.first_name = first_name or card.first_name
    card.last_name = last_name if last_name is not None else card.last_name
    card.image_url = image_url if image_url is not None else card.image_url
    emu.notify("contact_card.updated", card_json(card))
    return ok(card_json(card))
