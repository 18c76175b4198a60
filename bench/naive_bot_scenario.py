"""A deliberately naive bot against the Linq emulator, with linqbot's safeguards on and off.

The bot answers every message, ignores STOP, blasts 100 messages at one person at once, keeps messaging a person who
never answers, and swallows every error to carry on. Run ``python -m bench.naive_bot_scenario``; the numbers are
reported in docs/deliverability.md. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from linqbot import Bot, Context
from linqbot.middleware import ManualClock, Safeguards
from linqbot.outbound import OutboundCall, RetryPolicy
from linqbot.outbound.pipeline import Next
from linqbot.testing import Simulation, simulate

ACTIVE, STOPPER, SILENT, FLOODER, OTHER_BOT = (f"+1555010{n:04d}" for n in range(20, 25))
BLAST, CAMPAIGN_ROUNDS, FLOOD, LOOP_CAP = 100, 20, 40, 30


@dataclass
class Outcome:
    label: str
    rate_limited: int
    sent_after_stop: int
    requests_after_stop: int
    sent_to_silent: int
    held: int
    flood_dispatched: int
    loop_replies: int
    blast_delivered: int
    worst_health: str


def naive_bot(safeguards: Safeguards, failures: Counter[str], dispatched: Counter[str]) -> Bot:
    # Retries off: every 429 Linq answers is visible to the bot (a retry would only hide it and add load).
    bot = Bot(env_file=None, safeguards=safeguards, retry=RetryPolicy(max_attempts=1))

    @bot.on_message()
    async def answer_everything(ctx: Context) -> None:
        dispatched[ctx.sender or "-"] += 1
        await naive(ctx.reply(f"Got it: {ctx.text}"), failures)

    @bot.on_error()
    async def swallow(ctx: Context, error: Exception) -> None:
        failures[type(error).__name__] += 1

    return bot


async def naive(call: Any, failures: Counter[str]) -> None:
    """What a naive bot does with every error: count it and carry on."""
    try:
        await call
    except Exception as exc:  # the point of the scenario: a bot that ignores every error
        failures[type(exc).__name__] += 1


async def drive(sim: Simulation, clock: ManualClock | None, work: Any) -> None:
    """Run ``work``; whenever the safeguards wait on their clock, move both clocks on by a minute."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if clock is None:
            await asyncio.wait({task})
            break
        waiter = asyncio.ensure_future(clock.wait_for_sleepers(1, timeout=3600))
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if waiter.done() and not task.done():
            await sim.advance(60)
            clock.advance(60)
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await waiter
    await task


async def run(protected: bool) -> Outcome:
    clock = ManualClock() if protected else None
    safeguards = replace(Safeguards(), clock=clock, typing=None) if protected else Safeguards.off()
    failures: Counter[str] = Counter()
    dispatched: Counter[str] = Counter()
    bot = naive_bot(safeguards, failures, dispatched)
    requests_after_stop: list[OutboundCall] = []
    stopped = asyncio.Event()

    async def count_requests(call: OutboundCall, call_next: Next) -> Any:
        if stopped.is_set() and STOPPER in call.to:
            requests_after_stop.append(call)
        return await call_next(call)

    bot.outbound_middleware.add(count_requests, name="scenario_recorder")  # innermost: what reaches Linq
    health_seen: set[str] = set()
    async with simulate(bot) as sim:
        # 1. A blast: 100 messages to one (engaged) person at once.
        active = sim.user(ACTIVE)
        await active.send("hi, send me everything")
        await sim.idle()
        blast = [naive(bot.send(ACTIVE, f"blast {n}"), failures) for n in range(BLAST)]
        await drive(sim, clock, asyncio.gather(*blast))

        # 2. STOP, then the campaign keeps going; 3. a person who never answers.
        stopper = sim.user(STOPPER)
        await stopper.send("hello")
        await sim.idle()
        await stopper.send("STOP")
        await sim.idle()
        stopped.set()
        for n in range(CAMPAIGN_ROUNDS):
            await naive(bot.send(STOPPER, f"deal {n}"), failures)
            await naive(bot.send(SILENT, f"deal {n}"), failures)
            await sim.idle()
        # 4. A flood from one person; 5. another bot that answers instantly.
        for n in range(FLOOD):
            await sim.user(FLOODER).send(f"spam {n}")
        sim.emulator.set_person(OTHER_BOT, auto_reply="Thanks for your message!", reply_delay=0.01)
        await naive(bot.send(OTHER_BOT, "hello"), failures)
        # Unprotected, the ping-pong only ends when we stop the other bot after LOOP_CAP of its messages.
        looping = asyncio.ensure_future(
            sim.emulator.wait_for(
                lambda: len(sim.emulator.messages(handle=OTHER_BOT, direction="inbound")) >= LOOP_CAP, 60
            )
        )
        settled = asyncio.ensure_future(sim.idle(timeout=60))
        await asyncio.wait({looping, settled}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (looping, settled):
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await waiter
        sim.emulator.set_person(OTHER_BOT)
        await sim.idle()

        for chat in sim.emulator.chats():
            health_seen.add(chat["health"])
        return Outcome(
            label="linqbot safeguards on" if protected else "safeguards off",
            rate_limited=failures["RateLimited"],
            sent_after_stop=len([m for m in sim.sent(STOPPER) if m.text.startswith("deal")]),
            requests_after_stop=len(requests_after_stop),
            sent_to_silent=len(sim.sent(SILENT)),
            held=sum(failures[k] for k in ("NonResponderHold", "ChatHealthHold", "OptedOut")),
            flood_dispatched=dispatched[FLOODER],
            loop_replies=len(sim.sent(OTHER_BOT)),
            blast_delivered=len([m for m in sim.sent(ACTIVE) if m.text.startswith("blast")]),
            worst_health=next(s for s in ("CRITICAL", "AT_RISK", "OPTED_OUT", "HEALTHY") if s in health_seen),
        )


def render(outcomes: list[Outcome]) -> str:
    rows = [
        ("429s answered by Linq", "rate_limited"),
        (f"proactive blast messages delivered (of {BLAST}, sent at once)", "blast_delivered"),
        (f"messages delivered after STOP (of {CAMPAIGN_ROUNDS} attempted)", "sent_after_stop"),
        ("send requests Linq saw after STOP (each a 403/2024 on the line's record)", "requests_after_stop"),
        (f"messages sent to a silent person (of {CAMPAIGN_ROUNDS})", "sent_to_silent"),
        ("sends refused (off: by Linq; on: by linqbot, before any request)", "held"),
        (f"flood messages dispatched (of {FLOOD})", "flood_dispatched"),
        (f"messages sent into a bot-to-bot loop (other bot stopped after {LOOP_CAP})", "loop_replies"),
        ("worst chat health on the line", "worst_health"),
    ]
    header = "| | " + " | ".join(o.label for o in outcomes) + " |"
    lines = [header, "|---|" + "---|" * len(outcomes)]
    lines += [f"| {name} | " + " | ".join(str(getattr(o, field)) for o in outcomes) + " |" for name, field in rows]
    return "\n".join(lines)


async def main() -> None:
    os.environ.setdefault("LINQ_API_KEY", "scenario")
    os.environ.setdefault("LINQ_WEBHOOK_SECRET", "whsec_" + "c2NlbmFyaW8tc2VjcmV0LTEyMzQ1Njc4OTA=")
    outcomes = [await run(protected=False), await run(protected=True)]
    print(render(outcomes))


if __name__ == "__main__":
    asyncio.run(main())
