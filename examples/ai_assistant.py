"""An assistant that answers with a language model: typing while it thinks, then the answer as paced bubbles.

The model is any `async def answer(prompt: str) -> str`. The default is a small deterministic stand-in, so the bot
runs offline and its tests are stable; plug in a real one with `use_model(...)`, or without touching this file by
naming it in ASSISTANT_MODEL=package.module:function.

    async def answer(prompt: str) -> str:       # e.g. with the `openai` package
        response = await client.responses.create(model="gpt-4.1-mini", input=prompt)
        return response.output_text

Try it:  linqbot dev examples/ai_assistant.py --say "what can you do?"
"""

import importlib
import os
from collections.abc import Awaitable, Callable

from linqbot import Bot, Context

Model = Callable[[str], Awaitable[str]]
"""Takes the person's message, returns the answer; blank lines separate bubbles."""

MAX_BUBBLES = 4
"""Long answers read better as a few bubbles than as one wall of text, or as ten bubbles."""

bot = Bot()


async def local_model(prompt: str) -> str:
    """A deterministic stand-in for a real model: offline, free, and predictable in tests."""
    asked = prompt.lower()
    if "what can you do" in asked or asked.strip() in {"help", "?"}:
        return (
            "I'm a demo assistant running a tiny local model.\n\n"
            "Ask me about opening hours or the weather, or plug in a real model with use_model()."
        )
    if "hours" in asked or "open" in asked:
        return "We're open every day from 9:00 to 18:00."
    if "weather" in asked:
        return "I can't see outside from here.\n\nBut it's always sunny in a unit test. ☀️"
    return f"You asked: “{prompt.strip()}”.\n\nA real model would answer that; this one only knows a few topics."


def _model_from_environment() -> Model:
    target = os.environ.get("ASSISTANT_MODEL")
    if not target:
        return local_model
    module, _, name = target.partition(":")
    found: Model = getattr(importlib.import_module(module), name or "answer")
    return found


model: Model = _model_from_environment()


def use_model(answer: Model) -> None:
    """Answer with ``answer`` from now on."""
    global model
    model = answer


def bubbles(answer: str) -> list[str]:
    """Split an answer on blank lines into at most MAX_BUBBLES bubbles (the rest joins the last one)."""
    paragraphs = [p.strip() for p in answer.split("\n\n") if p.strip()] or ["…"]
    if len(paragraphs) > MAX_BUBBLES:
        paragraphs = [*paragraphs[: MAX_BUBBLES - 1], "\n\n".join(paragraphs[MAX_BUBBLES - 1 :])]
    return paragraphs


@bot.on_message(has_media=False)
async def assistant(ctx: Context) -> None:
    await ctx.mark_read()
    async with ctx.typing():  # the indicator stays on (refreshed) however long the model takes
        answer = await model(ctx.text)
    # A list of texts goes out as separate bubbles, in order, with short natural pauses between them.
    await ctx.reply(bubbles(answer))


@bot.on_message(has_media=True)
async def media(ctx: Context) -> None:
    await ctx.reply("I can only read text for now — could you type your question?")
