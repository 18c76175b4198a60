"""build_message: plain values in, a valid MessageContentParam out, ValueError before any HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from linqbot.outbound import build_message

ATTACHMENT = "a1b2c3d4-0000-4000-8000-000000000001"


def test_text() -> None:
    assert build_message("hi") == {"parts": [{"type": "text", "value": "hi"}]}


def test_adjacent_text_parts_are_merged() -> None:
    message = build_message(["one", "two", {"type": "media", "url": "https://x.test/a.png"}, "three"])

    assert message["parts"] == [
        {"type": "text", "value": "one\ntwo"},
        {"type": "media", "url": "https://x.test/a.png"},
        {"type": "text", "value": "three"},
    ]


def test_decorated_adjacent_text_parts_are_rejected() -> None:
    bold = {"type": "text", "value": "b", "text_decorations": [{"range": [0, 1], "style": "bold"}]}
    with pytest.raises(ValueError, match="adjacent text"):
        build_message(["a", bold])


def test_media_urls_and_attachment_ids() -> None:
    message = build_message("look", media=["https://x.test/a.png", ATTACHMENT])

    assert message["parts"] == [
        {"type": "text", "value": "look"},
        {"type": "media", "url": "https://x.test/a.png"},
        {"type": "media", "attachment_id": ATTACHMENT},
    ]
    assert build_message(media="http://x.test/b.jpg")["parts"] == [{"type": "media", "url": "http://x.test/b.jpg"}]


def test_bad_media_reference() -> None:
    with pytest.raises(ValueError, match="media"):
        build_message(media="/tmp/cat.png")


def test_link_alone() -> None:
    assert build_message(link="https://linqapp.com") == {"parts": [{"type": "link", "value": "https://linqapp.com"}]}
    with pytest.raises(ValueError, match="only part"):
        build_message("see", link="https://linqapp.com")


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        ("confetti", {"type": "screen", "name": "confetti"}),
        ("slam", {"type": "bubble", "name": "slam"}),
        ("invisible", {"type": "bubble", "name": "invisible"}),
        ("brand_new_effect", {"type": "screen", "name": "brand_new_effect"}),
        ({"name": "gentle"}, {"type": "bubble", "name": "gentle"}),
        ({"type": "screen", "name": "lasers"}, {"type": "screen", "name": "lasers"}),
    ],
)
def test_effects(effect: str | dict[str, Any], expected: dict[str, Any]) -> None:
    assert build_message("wow", effect=effect)["effect"] == expected


def test_reply_to_and_service() -> None:
    message = build_message("yes", reply_to="msg_1", service="imessage")

    assert message["reply_to"] == {"message_id": "msg_1"}
    assert message["preferred_service"] == "iMessage"
    assert build_message("x", reply_to={"message_id": "m", "part_index": 1})["reply_to"] == {
        "message_id": "m",
        "part_index": 1,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"text_or_parts": ""},
        {"text_or_parts": [{"value": "no type"}]},
        {"text_or_parts": "x", "service": "telegram"},
        {"text_or_parts": "x", "reply_to": {"part_index": 0}},
        {"text_or_parts": "x", "effect": {"type": "screen"}},
        {"media": ["https://x.test/a.png", ATTACHMENT] * 51},
        {"media": [f"https://x.test/{n}.png" for n in range(41)]},
    ],
)
def test_invalid_messages(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build_message(**kwargs)


def test_limits_allow_the_maximum() -> None:
    assert len(build_message(media=[ATTACHMENT] * 100)["parts"]) == 100
