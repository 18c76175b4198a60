"""The start-up line says what the bot will dispatch: its handlers per event type and its commands."""

from __future__ import annotations

import logging

import pytest

from linqbot import Bot, Context, Router
from linqbot.redact import mask_url

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_the_ready_line_counts_handlers_per_event_type_and_commands(caplog: pytest.LogCaptureFixture) -> None:
    bot = Bot(env_file=None, plugins="commands")
    extra = Router("extra")

    @bot.on_message(text="hi")
    async def hi(ctx: Context) -> None: ...

    @bot.on_message()
    async def anything(ctx: Context) -> None: ...

    @extra.on_reaction()
    async def reacted(ctx: Context) -> None: ...

    @bot.command("help")
    async def help_(ctx: Context) -> None: ...

    @bot.command("stop")
    async def stop(ctx: Context) -> None: ...

    bot.include_router(extra)
    caplog.set_level(logging.INFO, logger="linqbot")
    await bot.startup()
    await bot.shutdown()
    [ready] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("linqbot ready")]
    # the commands plugin answers commands through one message handler of its own
    assert ready == (
        "linqbot ready: 4 handlers (message.received 3, reaction.added 1), 2 commands; webhook at /webhook; "
        "Linq API at http://127.0.0.1:9/api/partner"  # which Linq: a misspelt LINQ_BASE_URL means production
    )


async def test_the_ready_line_shows_no_credential_a_base_url_may_carry(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINQ_BASE_URL", "https://bot:hunter2@linq.internal:8443/api/partner?token=s3cret")
    bot = Bot(env_file=None)
    caplog.set_level(logging.INFO, logger="linqbot")
    await bot.startup()
    await bot.shutdown()
    [ready] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("linqbot ready")]
    assert ready.endswith("; Linq API at https://linq.internal:8443/api/partner")


def test_mask_url_keeps_host_port_and_path_only() -> None:
    assert mask_url("https://u:p@[::1]:8443/api/partner?token=x#f") == "https://[::1]:8443/api/partner"
    assert mask_url("http://127.0.0.1:9/api/partner") == "http://127.0.0.1:9/api/partner"
