"""A command's arguments, read from its handler's signature: parsing what a person typed, and the usage line.

``async def weather(ctx, city: str, days: int = 1)`` takes ``weather paris 3``. Words are split on whitespace;
"double quotes" (straight or the curly ones phones type) group words. A parameter annotated `Rest` takes the rest of
the line as typed; ``*words`` takes the remaining words.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union


class _RestMarker:
    def __repr__(self) -> str:
        return "REST"


REST_OF_LINE = _RestMarker()

Rest = Annotated[str, REST_OF_LINE]
"""Annotate the last parameter with ``Rest`` to receive everything after the previous arguments, as typed."""

_TOKEN = re.compile(r'["“”]([^"“”]*)["“”]|(\S+)')
_TRUE = frozenset({"yes", "y", "true", "on", "1"})
_FALSE = frozenset({"no", "n", "false", "off", "0"})


class UsageError(ValueError):
    """What a person typed does not fit the command's signature; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    start: int


def tokenize(text: str) -> list[Token]:
    """Split on whitespace; a quoted phrase is one token (without its quotes)."""
    tokens = []
    for found in _TOKEN.finditer(text):
        quoted, word = found.group(1), found.group(2)
        tokens.append(Token(quoted if quoted is not None else word, found.start()))
    return tokens


def _to_int(text: str) -> int:
    return int(text)


def _to_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _to_bool(text: str) -> bool:
    folded = text.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(text)


def _choice(values: Sequence[str]) -> Callable[[str], str]:
    by_fold = {v.casefold(): v for v in values}

    def convert(text: str) -> str:
        return by_fold[text.casefold()]

    return convert


_SIMPLE: dict[Any, tuple[Callable[[str], Any], str]] = {
    str: (str, "text"),
    int: (_to_int, "a whole number"),
    float: (_to_float, "a number"),
    bool: (_to_bool, "yes or no"),
}


@dataclass(frozen=True, slots=True)
class Param:
    """One argument: how to convert a word and how to describe it when it is wrong."""

    name: str
    convert: Callable[[str], Any]
    expected: str
    required: bool
    default: Any = None
    rest: bool = False
    variadic: bool = False

    def label(self) -> str:
        if self.rest or self.variadic:
            return f"<{self.name}...>" if self.required else f"[{self.name}...]"
        return f"<{self.name}>" if self.required else f"[{self.name}]"

    def value(self, text: str) -> Any:
        try:
            return self.convert(text)
        except (ValueError, KeyError):
            raise UsageError(f"{self.label()} must be {self.expected} (got “{text}”).") from None


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1 and len(members) < len(typing.get_args(annotation)):
            return members[0], True
    return annotation, False


def _converter(annotation: Any, where: str) -> tuple[Callable[[str], Any], str, bool]:
    """(convert, what is expected, is rest-of-line) for a parameter annotation."""
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        if any(extra is REST_OF_LINE for extra in extras):
            if base is not str:
                raise TypeError(f"{where}: Rest is text; annotate it as linqbot_commands.Rest")
            return str, "text", True
        annotation = base
    if annotation is inspect.Parameter.empty:
        annotation = str
    if typing.get_origin(annotation) is Literal:
        values = typing.get_args(annotation)
        if not values or not all(isinstance(v, str) for v in values):
            raise TypeError(f"{where}: only Literal of strings is supported")
        return _choice(values), "one of " + ", ".join(values), False
    if annotation in _SIMPLE:
        convert, expected = _SIMPLE[annotation]
        return convert, expected, False
    raise TypeError(
        f"{where}: unsupported type {annotation!r}; use str, int, float, bool, a Literal of strings, Optional or Rest"
    )


def _hints(fn: Callable[..., Any], where: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"{where}: cannot resolve the annotations ({exc})") from exc


@dataclass(frozen=True, slots=True)
class CommandSignature:
    """The parameters after ``ctx``, in order."""

    params: tuple[Param, ...]

    @classmethod
    def of(cls, fn: Callable[..., Any], command: str) -> CommandSignature:
        """Read ``fn``'s signature; an unsupported parameter raises `TypeError` naming the command."""
        where = f"command {command!r}"
        parameters = list(inspect.signature(fn).parameters.values())
        if not parameters or parameters[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise TypeError(f"{where}: the handler must take ctx as its first argument")
        hints = _hints(fn, where)
        params: list[Param] = []
        for parameter in parameters[1:]:
            here = f"{where}, parameter {parameter.name!r}"
            if params and (params[-1].rest or params[-1].variadic):
                raise TypeError(f"{here}: nothing may follow a Rest or *args parameter")
            if parameter.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD):
                raise TypeError(f"{here}: keyword-only arguments cannot be typed by people; make it positional")
            annotation, optional = _strip_optional(hints.get(parameter.name, inspect.Parameter.empty))
            convert, expected, rest = _converter(annotation, here)
            variadic = parameter.kind is inspect.Parameter.VAR_POSITIONAL
            has_default = parameter.default is not inspect.Parameter.empty
            required = not (optional or has_default or variadic)
            default = parameter.default if has_default else None
            params.append(Param(parameter.name, convert, expected, required, default, rest, variadic))
        return cls(tuple(params))

    def usage(self) -> str:
        """The arguments part of a usage line: ``<city> [days]``."""
        return " ".join(param.label() for param in self.params)

    def bind(self, text: str) -> list[Any]:
        """The positional arguments for the handler (after ctx); raises `UsageError` saying what was wrong."""
        tokens = tokenize(text)
        values: list[Any] = []
        for index, param in enumerate(self.params):
            remaining = tokens[index:]
            if param.rest:
                raw = text[remaining[0].start :].strip() if remaining else ""
                if not raw and param.required:
                    raise UsageError(f"Missing {param.label()}.")
                values.append(raw if raw else param.default)
                return values
            if param.variadic:
                values.extend(param.value(token.value) for token in remaining)
                if param.required and not remaining:
                    raise UsageError(f"Missing {param.label()}.")
                return values
            if not remaining:
                if param.required:
                    raise UsageError(f"Missing {param.label()}.")
                values.append(param.default)
                continue
            values.append(param.value(remaining[0].value))
        extra = tokens[len(self.params) :]
        if extra:
            words = " ".join(token.value for token in extra)
            hint = " Put text with spaces in quotes." if any(p.expected == "text" for p in self.params) else ""
            raise UsageError(f"Too many arguments: “{words}”.{hint}")
        return values
