"""The bot behind an outreach campaign (campaign.toml + people.csv): it handles the replies.

Outreach on Linq means opening conversations with people who asked to hear from you (here: guests who opted in to
news), one at a time, at a human pace, in their local daytime — never cold iMessage blasts. The outreach plugin
sends; this bot answers. A reply from someone the campaign reached carries the campaign and their CSV row
(`campaign_of(ctx)`), so the answer can be personal. Opt-outs (STOP) are handled by the built-in safeguards.

Send:  linqbot outreach run examples/outreach/campaign.toml --bot examples/outreach/tasting_bot.py
Talk:  linqbot dev examples/outreach/tasting_bot.py
"""

from linqbot_outreach import campaign_of

from linqbot import Bot, Context

bot = Bot()

CAMPAIGN_ID = "spring-tasting"


@bot.on_message()
async def answer(ctx: Context) -> None:
    campaign = campaign_of(ctx)
    if campaign is None or campaign.id != CAMPAIGN_ID:
        await ctx.reply("Hi! Text us any time to book a table.")
        return
    name = campaign.fields.get("first_name", "there")
    reply = ctx.text.strip().lower()
    if reply in {"yes", "y", "sure", "yes!"}:
        await ctx.reply(f"Wonderful, {name}! Which evening suits you, and for how many people?")
    elif reply in {"no", "n", "no thanks"}:
        await ctx.reply(f"No problem, {name} — thanks for letting us know. We won't message about this again.")
    else:
        await ctx.reply(f"Thanks, {name}! A member of our team will get back to you shortly.")
