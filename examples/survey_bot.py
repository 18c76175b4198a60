"""A three-question survey written as one straight-line handler with `ctx.ask` (state plugin).

`ctx.ask` sends a question and returns the person's next message in this chat; the answer is consumed, so no other
handler sees it. Other people (and other chats) are answered normally while one person is mid-survey.

Try it:  linqbot dev examples/survey_bot.py --say "survey" --say "Ann" --say "5" --say "More oat milk"
"""

from linqbot_state import AskTimeout, StateContext

from linqbot import Bot

bot = Bot()

ANSWER_TIMEOUT = 600.0
"""Seconds to wait for each answer before giving up politely."""


async def ask_rating(ctx: StateContext) -> int:
    """Ask until the answer is a number from 1 to 5."""
    question = "How would you rate your visit, from 1 (poor) to 5 (great)?"
    while True:
        answer = (await ctx.ask(question, timeout=ANSWER_TIMEOUT)).text.strip()
        if answer in {"1", "2", "3", "4", "5"}:
            return int(answer)
        question = "Please answer with a number from 1 to 5."


@bot.on_message(text=["survey", "feedback"])
async def survey(ctx: StateContext) -> None:
    try:
        name = (await ctx.ask("Thanks for helping! What's your first name?", timeout=ANSWER_TIMEOUT)).text.strip()
        rating = await ask_rating(ctx)
        comment = (await ctx.ask(f"Thanks, {name}! Anything we could do better?", timeout=ANSWER_TIMEOUT)).text
    except AskTimeout:
        await ctx.reply("No worries — text survey whenever you have a minute.")
        return
    # Remember the answers with the person, across every chat with them.
    await ctx.person_state.update({"name": name, "rating": rating, "comment": comment.strip()})
    stars = "★" * rating + "☆" * (5 - rating)
    await ctx.reply([f"All done, {name}. You rated us {stars}.", "Thank you for the feedback! 🙏"])


@bot.on_message()
async def invite(ctx: StateContext) -> None:
    name = await ctx.person_state.get("name")
    greeting = f"Welcome back, {name}!" if name else "Hi!"
    await ctx.reply(f"{greeting} Text survey to tell us how we did.")
