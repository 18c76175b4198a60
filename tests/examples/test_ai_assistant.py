"""examples/ai_assistant.py: typing while the model thinks, the answer as separate bubbles, a pluggable model."""

from __future__ import annotations

import asyncio

import pytest

from linqbot.testing import simulate

from .conftest import load_example

ANA = "+15550100002"


async def test_the_local_model_answers_in_bubbles_after_typing() -> None:
    bot, _ = load_example("ai_assistant.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        sent = await ana.send("What can you do?")
        first, second = await ana.expect_replies(2)
        assert first.text == "I'm a demo assistant running a tiny local model."
        assert second.text.startswith("Ask me about opening hours")
        assert ana.saw_typing()
        assert sent["message_id"] in ana.read_receipts()
        await ana.expect_no_reply()  # two paragraphs, two bubbles, nothing more


async def test_a_plugged_in_model_answers_and_long_answers_are_capped_at_four_bubbles() -> None:
    bot, example = load_example("ai_assistant.py")
    prompts: list[str] = []
    thinking = asyncio.Event()

    async def slow_model(prompt: str) -> str:
        prompts.append(prompt)
        await thinking.wait()  # a model that takes its time: the person sees typing meanwhile
        return "\n\n".join(f"Point {n}." for n in range(1, 7))

    example.use_model(slow_model)
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("Explain everything")
        await ana.expect_typing()
        assert sim.sent(to=ANA) == []
        thinking.set()
        bubbles = await ana.expect_replies(4)
        assert [b.text for b in bubbles] == ["Point 1.", "Point 2.", "Point 3.", "Point 4.\n\nPoint 5.\n\nPoint 6."]
        assert prompts == ["Explain everything"]
        await ana.expect_no_reply()


async def test_the_model_can_be_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_MODEL", "tests.examples.shouting_model:answer")
    bot, _ = load_example("ai_assistant.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("hello")
        assert (await ana.expect_reply()).text == "HELLO!"
