"""examples/group_bot.py: silent in a group until addressed by name; always answers in a direct chat."""

from __future__ import annotations

from linqbot.testing import simulate

from .conftest import load_example

ANA, BEN, CAL = "+15550100002", "+15550100003", "+15550100004"


async def test_in_a_group_it_answers_only_when_addressed() -> None:
    bot, _ = load_example("group_bot.py")
    async with simulate(bot) as sim:
        ana, ben = sim.user(ANA), sim.user(BEN)
        await ana.send("where should we eat tonight?", group=[BEN, CAL])
        await ana.expect_no_reply()

        asked = await ben.send("Robo, pick pizza or sushi or tacos", chat_id=ana.last_chat_id)
        answer = await ben.expect_reply()
        assert answer.text.removeprefix("I pick ").removesuffix("! 🎲") in {"pizza", "sushi", "tacos"}
        assert answer.chat_id == asked["chat_id"]
        assert answer.reply_to is not None and answer.reply_to["message_id"] == asked["message_id"]
        assert (await ana.expect_reply()).id == answer.id  # the whole group sees the answer

        await ana.send("@robo help", chat_id=ana.last_chat_id)
        assert (await ana.expect_reply()).text.startswith("Hi! I'm Robo.")
        await ana.send("robots are cool", chat_id=ana.last_chat_id)  # "robo" inside another word is not its name
        await ana.expect_no_reply()


async def test_in_a_direct_chat_every_message_is_for_it() -> None:
    bot, _ = load_example("group_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("pick red or blue")
        answer = await ana.expect_reply()
        assert answer.text in {"I pick red! 🎲", "I pick blue! 🎲"}
        assert answer.reply_to is None
        await ana.send("pick nothing")
        assert (await ana.expect_reply()).text.startswith("Give me at least two options")
