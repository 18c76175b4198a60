"""Reading arguments from a command handler's signature: conversion, defaults, Rest, *words, and what is wrong."""

from __future__ import annotations

from typing import Literal

import pytest
from linqbot_commands import Rest, UsageError
from linqbot_commands.signature import CommandSignature, tokenize

from linqbot import Context


def signature(fn: object) -> CommandSignature:
    return CommandSignature.of(fn, "cmd")  # type: ignore[arg-type]


async def weather(ctx: Context, city: str, days: int = 1, metric: bool = True) -> None:
    """Weather for a city."""


async def note(ctx: Context, title: str, body: Rest) -> None: ...


async def tag(ctx: Context, *words: str) -> None: ...


async def scale(ctx: Context, factor: float, unit: Literal["c", "f"] | None = None) -> None: ...


async def maybe(ctx: Context, count: int | None = None) -> None: ...


def test_tokens_split_on_whitespace_and_quotes_group_words() -> None:
    assert [t.value for t in tokenize('  paris   "new york"  “san francisco” ')] == [
        "paris",
        "new york",
        "san francisco",
    ]


def test_positional_values_are_converted_and_defaults_fill_the_rest() -> None:
    assert signature(weather).bind("paris") == ["paris", 1, True]
    assert signature(weather).bind("paris 3 no") == ["paris", 3, False]
    assert signature(weather).bind('"new york" 2') == ["new york", 2, True]


def test_rest_takes_the_remainder_of_the_line_as_typed() -> None:
    assert signature(note).bind('groceries  milk,  "eggs"  & bread') == ["groceries", 'milk,  "eggs"  & bread']


def test_variadic_takes_the_remaining_words() -> None:
    assert signature(tag).bind('a b "c d"') == ["a", "b", "c d"]
    assert signature(tag).bind("") == []


def test_literal_choices_are_case_insensitive_and_optional_defaults_to_none() -> None:
    assert signature(scale).bind("1.5 F") == [1.5, "f"]
    assert signature(scale).bind("2") == [2.0, None]
    assert signature(maybe).bind("") == [None]


@pytest.mark.parametrize(
    ("fn", "text", "problem"),
    [
        (weather, "", "Missing <city>."),
        (weather, "paris soon", "[days] must be a whole number (got “soon”)."),
        (weather, "paris 1 maybe", "[metric] must be yes or no (got “maybe”)."),
        (weather, "new york", "[days] must be a whole number (got “york”)."),
        (weather, "paris 1 yes extra", "Too many arguments: “extra”. Put text with spaces in quotes."),
        (note, "groceries", "Missing <body...>."),
        (scale, "inf", "<factor> must be a number (got “inf”)."),
        (scale, "1 k", "[unit] must be one of c, f (got “k”)."),
    ],
)
def test_a_wrong_call_says_what_was_wrong(fn: object, text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        signature(fn).bind(text)
    assert str(caught.value) == problem


def test_usage_lists_required_and_optional_arguments() -> None:
    assert signature(weather).usage() == "<city> [days] [metric]"
    assert signature(note).usage() == "<title> <body...>"
    assert signature(tag).usage() == "[words...]"


async def needs_ctx() -> None: ...


async def after_rest(ctx: Context, body: Rest, more: str) -> None: ...


async def keyword_only(ctx: Context, *, city: str) -> None: ...


async def odd_type(ctx: Context, when: list[str]) -> None: ...


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (needs_ctx, "must take ctx"),
        (after_rest, "nothing may follow a Rest"),
        (keyword_only, "keyword-only arguments"),
        (odd_type, "unsupported type"),
    ],
)
def test_an_unsupported_signature_is_refused_naming_the_command(fn: object, message: str) -> None:
    with pytest.raises(TypeError, match=message) as caught:
        signature(fn)
    assert "command 'cmd'" in str(caught.value)
