"""examples/survey_bot.py: a survey written with ctx.ask — re-asks on a bad answer, remembers the person."""

from __future__ import annotations

from linqbot.testing import simulate

from .conftest import load_example

ANA = "+15550100002"
BEN = "+15550100003"


async def test_a_full_survey_with_a_bad_rating_on_the_way() -> None:
    bot, _ = load_example("survey_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("survey")
        assert (await ana.expect_reply()).text == "Thanks for helping! What's your first name?"
        await ana.send("Ann")
        assert (await ana.expect_reply()).text.startswith("How would you rate your visit")
        await ana.send("pretty good")
        assert (await ana.expect_reply()).text == "Please answer with a number from 1 to 5."
        await ana.send("4")
        assert (await ana.expect_reply()).text == "Thanks, Ann! Anything we could do better?"
        await ana.send("More oat milk")
        done = await ana.expect_replies(2)
        assert [m.text for m in done] == ["All done, Ann. You rated us ★★★★☆.", "Thank you for the feedback! 🙏"]

        await ana.send("hello again")  # answers were remembered with the person
        assert (await ana.expect_reply()).text == "Welcome back, Ann! Text survey to tell us how we did."


async def test_someone_else_is_answered_normally_while_a_survey_waits() -> None:
    bot, _ = load_example("survey_bot.py")
    async with simulate(bot) as sim:
        ana, ben = sim.user(ANA), sim.user(BEN)
        await ana.send("survey")
        await ana.expect_reply()
        await ben.send("hi")
        assert (await ben.expect_reply()).text == "Hi! Text survey to tell us how we did."
        await ana.send("Ann")  # Ana's survey carries on where it was
        assert (await ana.expect_reply()).text.startswith("How would you rate your visit")
