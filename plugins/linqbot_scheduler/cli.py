"""``linqbot jobs list | cancel ID | history``: inspect and edit the stored jobs without starting the bot."""

from __future__ import annotations

import argparse
import sys

from linqbot_scheduler.runlog import RunLog
from linqbot_scheduler.store import JobNotFound, cancel_stored, open_engine, resolve_url, store_exists, stored_jobs


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser("jobs", help="list or cancel scheduled jobs (reads the job store directly)")
    jobs.add_argument(
        "--url", default=None, help="job store URL (default: $LINQBOT_SCHEDULER_URL or ./linqbot-jobs.sqlite3)"
    )
    actions = jobs.add_subparsers(dest="jobs_command")
    actions.add_parser("list", help="every stored job, soonest first")
    cancel = actions.add_parser("cancel", help="remove a job by id")
    cancel.add_argument("job_id")
    history = actions.add_parser("history", help="recent runs: ok, error (and why) or missed")
    history.add_argument("--job", default=None, help="only this job id")
    history.add_argument("--limit", type=int, default=50)
    jobs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = resolve_url(args.url)
    if not store_exists(url):
        if args.jobs_command == "cancel":
            print(f"linqbot: no job with id {args.job_id!r} (no job store at {url})", file=sys.stderr)
            return 1
        print("no scheduled jobs" if args.jobs_command in (None, "list") else "no job runs recorded")
        return 0
    engine = open_engine(url)
    try:
        command = args.jobs_command or "list"
        if command == "cancel":
            try:
                cancel_stored(engine, args.job_id)
            except JobNotFound:
                print(f"linqbot: no job with id {args.job_id!r}", file=sys.stderr)
                return 1
            print(f"cancelled {args.job_id}")
        elif command == "history":
            for entry in RunLog(engine).runs(args.job, args.limit):
                due = entry.scheduled_for.isoformat() if entry.scheduled_for else "-"
                print(f"{entry.finished_at.isoformat()}  {entry.job_id}  {entry.outcome}  due {due}  {entry.detail}")
        else:
            found = stored_jobs(engine)
            if not found:
                print("no scheduled jobs")
            for job in found:
                when = job.next_run_time.isoformat() if job.next_run_time else "paused"
                print(f"{job.id}  next {when}  {job.trigger}  {job.name}  ({job.func})")
        return 0
    finally:
        engine.dispose()
