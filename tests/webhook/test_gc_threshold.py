"""Serving the webhook raises CPython's young-generation GC threshold to 3.13's default, unless someone chose one."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from linqbot import Bot

pytestmark = pytest.mark.usefixtures("linq_env")


@pytest.fixture
def saved_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("saved_thresholds")
async def test_serving_gives_the_youngest_generation_the_threshold_of_python_3_13(aiohttp_client: Any) -> None:
    gc.set_threshold(700, 10, 10)  # what 3.11 and 3.12 start with
    client = await aiohttp_client(Bot(env_file=None).app)
    assert gc.get_threshold() == (2000, 10, 10)
    await client.close()
    assert gc.get_threshold() == (700, 10, 10)  # the interpreter's default again once the app stopped


@pytest.mark.usefixtures("saved_thresholds")
async def test_a_threshold_the_application_set_itself_is_left_alone(aiohttp_client: Any) -> None:
    gc.set_threshold(900, 20, 5)
    await aiohttp_client(Bot(env_file=None).app)
    assert gc.get_threshold() == (900, 20, 5)
