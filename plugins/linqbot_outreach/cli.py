"""``linqbot outreach run|status|report``: send a campaign from a shell, with a progress bar and a final report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from linqbot.cli import load_bot
from linqbot.redact import mask_handle
from linqbot_outreach.campaign import Campaign, CampaignInvalid, CampaignStatus, Report, build_report
from linqbot_outreach.pacing import Pacing
from linqbot_outreach.recipients import RecipientsFileError
from linqbot_outreach.store import CampaignStore
from linqbot_outreach.template import MessageTemplate
from linqbot_outreach.window import SendingWindow

BAR_WIDTH = 30


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outreach = subparsers.add_parser("outreach", help="send a paced, resumable campaign and see how it went")
    actions = outreach.add_subparsers(dest="outreach_command", required=True)

    run = actions.add_parser("run", help="send (or resume) a campaign from campaign.toml or a recipients CSV")
    run.add_argument("source", help="campaign.toml, or a CSV with a phone column (then give --id and --template)")
    run.add_argument("--bot", required=True, help="the bot that sends: path/to/bot.py[:attr] or module[:attr]")
    run.add_argument("--id", help="campaign id (CSV source)")
    run.add_argument("--template", help="message template, e.g. 'Hi {first_name}!' (CSV source)")
    run.add_argument("--dollar", action="store_true", help="the template uses $name fields")
    run.add_argument("--window", help="local sending hours, e.g. 09:00-20:00")
    run.add_argument("--timezone", help="time zone for rows without one, e.g. America/New_York")
    run.add_argument("--per-minute", type=int, help="at most this many messages a minute")
    run.add_argument("--per-hour", type=int, help="at most this many messages an hour")
    run.add_argument("--no-wait", action="store_true", help="leave people outside their window for a later run")
    run.add_argument("--retry-failed", action="store_true", help="try again recipients whose send failed")
    run.add_argument("--dry-run", action="store_true", help="validate and show the first messages; send nothing")
    run.add_argument("--db", help="campaign database (default: $LINQBOT_OUTREACH_DB or ./.linqbot/outreach.sqlite3)")

    for name, text in (("status", "counts per state"), ("report", "sent, skipped and why, failed and why")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("campaign_id")
        sub.add_argument("--db")
    outreach.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.outreach_command == "run":
        return _run(args)
    store = CampaignStore(args.db)
    try:
        if not store.exists(args.campaign_id):
            print(f"linqbot: no campaign {args.campaign_id!r} in {store.path}", file=sys.stderr)
            return 1
        counts = store.counts(args.campaign_id)
        if args.outreach_command == "status":
            print(f"{args.campaign_id}: " + ", ".join(f"{count} {state}" for state, count in counts.items()))
        else:
            print(_render(build_report(store, args.campaign_id)))
        return 0
    finally:
        store.close()


def _build(args: argparse.Namespace) -> Campaign:
    bot = load_bot(args.bot)
    given = {
        "window": SendingWindow.parse(args.window) if args.window else None,
        "default_timezone": args.timezone,
        "store": CampaignStore(args.db),
    }
    if args.per_minute or args.per_hour:
        given["pacing"] = Pacing(per_minute=args.per_minute, per_hour=args.per_hour)
    overrides = {k: v for k, v in given.items() if v is not None}
    if Path(args.source).suffix == ".toml":
        return Campaign.from_file(bot, args.source, **overrides)
    if not args.id or not args.template:
        raise CampaignInvalid(["a CSV source needs --id and --template"])
    template = MessageTemplate(args.template, "dollar" if args.dollar else "format")
    return Campaign(bot, id=args.id, recipients=args.source, template=template, **overrides)


def _run(args: argparse.Namespace) -> int:
    try:
        campaign = _build(args)
        if args.dry_run:
            for text in campaign.preview():
                print(f"> {text}")
            print(f"{len(campaign.recipients)} recipients; nothing sent (dry run)")
            return 0
        report = asyncio.run(_send(campaign, args))
    except (CampaignInvalid, RecipientsFileError, ValueError) as exc:
        print(f"linqbot: {exc}", file=sys.stderr)
        return 2
    print(_render(report))
    return 0 if report.stopped is None else 3


async def _send(campaign: Campaign, args: argparse.Namespace) -> Report:
    campaign.validate()  # before the bot starts: a bad file must not even open the connection
    bot = campaign.bot
    await bot.startup()
    try:
        return await campaign.run(
            wait_for_window=not args.no_wait, retry_failed=args.retry_failed, on_progress=ProgressBar(sys.stderr)
        )
    finally:
        await bot.shutdown()
        print(file=sys.stderr)


class ProgressBar:
    """One line redrawn in place: ``[#######-------] 7/20  sent 6  skipped 1  failed 0``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, status: CampaignStatus) -> None:
        filled = BAR_WIDTH * status.done // max(status.total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(
            f"\r[{bar}] {status.done}/{status.total}  sent {status.sent}  skipped {status.skipped}  "
            f"failed {status.failed}"
        )
        self.stream.flush()


def _render(report: Report) -> str:
    lines = [report.summary()]
    for title, groups in (("skipped", report.skipped), ("failed", report.failed), ("waiting", report.waiting)):
        for reason, handles in groups.items():
            lines.append(f"    {title} ({reason}): {', '.join(mask_handle(h) for h in handles)}")
    return "\n".join(lines)
