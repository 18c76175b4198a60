"""A coffee-shop bot driven by commands: people type `menu`, `order 2 latte` or `/hours`, and `help` lists them.

The commands plugin (loaded by default) parses arguments from each handler's signature and writes `help` from the
docstrings; anything that is not a command falls through to the ordinary handler at the bottom.

Try it:  linqbot dev examples/command_menu.py --say "menu" --say "order 2 latte" --say "help"
"""

from linqbot_commands import Rest

from linqbot import Bot, Context

bot = Bot()

MENU = {"espresso": 3.00, "latte": 4.50, "cappuccino": 4.25, "croissant": 3.50}
OPENING_HOURS = "Mon–Fri 7:00–18:00, Sat–Sun 8:00–16:00"


@bot.command("menu", aliases=["m"])
async def menu(ctx: Context) -> None:
    """What we serve today, with prices."""
    lines = [f"• {item} — ${price:.2f}" for item, price in MENU.items()]
    await ctx.reply("Today's menu:\n" + "\n".join(lines) + "\n\nOrder with: order 2 latte")


@bot.command("order")
async def order(ctx: Context, quantity: int, item: Rest) -> None:
    """Order something to pick up: order 2 latte."""
    name = item.strip().lower()
    if name not in MENU:
        await ctx.reply(f"Sorry, we don't have “{item}”. Type menu to see what we do have.")
        return
    if not 1 <= quantity <= 20:
        await ctx.reply("You can order between 1 and 20 of something.")
        return
    total = quantity * MENU[name]
    await ctx.react("like")
    await ctx.reply(f"{quantity} × {name}: ${total:.2f}. It'll be ready in 10 minutes!")


@bot.command("hours")
async def hours(ctx: Context) -> None:
    """When we're open."""
    await ctx.reply(f"We're open {OPENING_HOURS}.")


@bot.on_message()
async def fallback(ctx: Context) -> None:
    """Not a command: point people at the menu instead of staying silent."""
    await ctx.reply("Hi! Type menu to see what we have, or help for everything I can do.")
