"""``linqbot jobs list | cancel ID | history``: inspect and edit the stored jobs without starting the bot."""

from __future__ import annotations

import argparse
import os
import sys

from linqbot.inbox import store_from_url
from linqbot.inbox.redis_store import DEFAULT_PREFIX, RedisStore
from linqbot_scheduler.store import URL_ENV, JobNotFound, is_redis, open_backend, resolve_url


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser("jobs", help="list or cancel scheduled jobs (reads the job store directly)")
    jobs.add_argument(
        "--url",
        default=None,
        help="job store URL: sqlite:///…, any SQLAlchemy URL or redis://… "
        "(default: $LINQBOT_SCHEDULER_URL, else $LINQBOT_INBOX_URL when it is Redis, else ./.linqbot/jobs.sqlite3)",
    )
    jobs.add_argument("--prefix", default=None, help="key prefix of a Redis job store (default: the inbox's)")
    actions = jobs.add_subparsers(dest="jobs_command")
    actions.add_parser("list", help="every stored job, soonest first")
    cancel = actions.add_parser("cancel", help="remove a job by id")
    cancel.add_argument("job_id")
    history = actions.add_parser("history", help="recent runs: ok, error (and why) or missed")
    history.add_argument("--job", default=None, help="only this job id")
    history.add_argument("--limit", type=int, default=50)
    jobs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inbox = _redis_inbox()
    url = resolve_url(args.url or (inbox.url if inbox else None))
    backend = open_backend(url, args.prefix or (inbox.prefix if inbox else DEFAULT_PREFIX))
    if not backend.exists():
        if args.jobs_command == "cancel":
            print(f"linqbot: no job with id {args.job_id!r} (no job store at {url})", file=sys.stderr)
            return 1
        print("no scheduled jobs" if args.jobs_command in (None, "list") else "no job runs recorded")
        return 0
    try:
        command = args.jobs_command or "list"
        if command == "cancel":
            try:
                backend.cancel(args.job_id)
            except JobNotFound:
                print(f"linqbot: no job with id {args.job_id!r}", file=sys.stderr)
                return 1
            print(f"cancelled {args.job_id}")
        elif command == "history":
            for entry in backend.run_log().runs(args.job, args.limit):
                due = entry.scheduled_for.isoformat() if entry.scheduled_for else "-"
                print(f"{entry.finished_at.isoformat()}  {entry.job_id}  {entry.outcome}  due {due}  {entry.detail}")
        else:
            found = backend.stored_jobs()
            if not found:
                print("no scheduled jobs")
            for job in found:
                when = job.next_run_time.isoformat() if job.next_run_time else "paused"
                print(f"{job.id}  next {when}  {job.trigger}  {job.name}  ({job.func})")
        return 0
    finally:
        backend.close()


def _redis_inbox() -> RedisStore | None:
    """A bot whose inbox is on Redis keeps its jobs there too (unless ``LINQBOT_SCHEDULER_URL`` says otherwise)."""
    inbox = os.environ.get("LINQBOT_INBOX_URL", "")
    if not is_redis(inbox) or URL_ENV in os.environ:
        return None
    store = store_from_url(inbox)  # the same parsing as the bot's (options such as ?prefix=)
    return store if isinstance(store, RedisStore) else None
