"""Outreach campaigns: recipients, template, sending window and pacing, resumable and gated.

    campaign = Campaign(bot, id="spring-tasting", recipients="people.csv", template="Hi {first_name}! …",
                        window=SendingWindow.parse("09:00-20:00"), default_timezone="America/New_York",
                        pacing=Pacing(per_minute=10))
    report = await campaign.run()

Every message goes through ``bot.send`` (all outbound safeguards apply); replies reach the bot's handlers with
``ctx.campaign`` set. ``linqbot outreach run campaign.toml --bot bot.py`` does the same from a shell. See
docs/outreach.md.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from linqbot.plugins import hookimpl
from linqbot_outreach.campaign import Campaign, CampaignInvalid, CampaignStatus, Report
from linqbot_outreach.cli import add_commands
from linqbot_outreach.pacing import Pacing
from linqbot_outreach.recipients import Recipient, RecipientsFileError, load_recipients
from linqbot_outreach.routing import CampaignReply, CampaignRouting, campaign_of
from linqbot_outreach.store import CampaignStore
from linqbot_outreach.template import MessageTemplate
from linqbot_outreach.window import SendingWindow

if TYPE_CHECKING:
    from linqbot.bot import Bot

__all__ = [
    "Campaign",
    "CampaignInvalid",
    "CampaignReply",
    "CampaignStatus",
    "CampaignStore",
    "MessageTemplate",
    "Pacing",
    "Recipient",
    "RecipientsFileError",
    "Report",
    "SendingWindow",
    "campaign_of",
    "load_recipients",
]


@hookimpl
def linqbot_outer_middleware(bot: Bot) -> list[Any]:
    """Tag replies from campaign recipients with ``ctx.campaign`` before routing."""
    return [CampaignRouting()]


@hookimpl
def linqbot_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_commands(subparsers)
