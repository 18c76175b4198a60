"""Pure pieces: error classification, the retry loop, the middleware chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from linqbot.outbound import (
    ChatUnavailable,
    Conflict,
    InvalidRequest,
    LineIneligible,
    LinqAPIError,
    NotFound,
    OptedOut,
    OutboundCall,
    OutboundChain,
    RateLimited,
    RecipientBlocked,
    RecipientNotAllowed,
    RetryPolicy,
    ServerError,
    Unauthorized,
    call_with_retry,
)
from linqbot.outbound.errors import error_for

Next = Callable[[OutboundCall], Awaitable[Any]]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, 1007, RateLimited),
        (429, None, RateLimited),
        (403, 2024, OptedOut),
        (403, 2026, RecipientBlocked),
        (403, 2008, RecipientNotAllowed),
        (403, 2027, LineIneligible),
        (409, 2013, ChatUnavailable),
        (409, 2009, Conflict),
        (404, 2001, NotFound),
        (401, 2004, Unauthorized),
        (400, 1004, InvalidRequest),
        (422, 4005, InvalidRequest),
        (503, 4004, ServerError),
        (403, 2005, LinqAPIError),
    ],
)
def test_error_classes(status: int, code: int | None, expected: type[LinqAPIError]) -> None:
    error = error_for(status, code, "m")
    assert type(error) is expected
    assert (error.status, error.code) == (status, code)


async def test_retry_loop_reports_each_retry() -> None:
    outcomes: list[Any] = [ServerError("a", status=500), RateLimited("b", status=429, retry_after=7), "ok"]
    retries: list[tuple[str, float]] = []
    sleeps: list[float] = []

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    result = await call_with_retry(
        attempt, RetryPolicy(), sleep=sleep, on_retry=lambda e, d: retries.append((e.message, d))
    )

    assert result == "ok"
    assert [message for message, _ in retries] == ["a", "b"]
    assert sleeps == [delay for _, delay in retries] and sleeps[1] == 7


def test_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


async def test_chain_order_names_and_removal() -> None:
    order: list[str] = []

    def tag(label: str) -> Callable[[OutboundCall, Next], Awaitable[Any]]:
        async def mw(call: OutboundCall, call_next: Next) -> Any:
            order.append(label)
            return await call_next(call)

        return mw

    async def terminal(call: OutboundCall) -> str:
        order.append("terminal")
        return call.op

    chain = OutboundChain()
    chain.add(tag("outer"), name="outer")
    chain.add(tag("inner"), name="inner")
    assert chain.names() == ["outer", "inner"]
    with pytest.raises(ValueError):
        chain.add(tag("again"), name="outer")

    assert await chain(OutboundCall("typing_start", {}), terminal) == "typing_start"
    assert order == ["outer", "inner", "terminal"]

    chain.remove("outer")
    order.clear()
    await chain(OutboundCall("typing_start", {}), terminal)
    assert order == ["inner", "terminal"]
    with pytest.raises(KeyError):
        chain.remove("outer")
