"""A bot's scheduler: APScheduler 3's ``AsyncIOScheduler`` over a SQLAlchemy or Redis job store, plus a run log.

Jobs are stored by reference (``module:function``) with pickled arguments, so they survive restarts; decorated jobs
are re-registered at start-up under stable ids, replacing (never duplicating) the stored copy.

When the bot's inbox is on Redis (several processes), the jobs live in that Redis too and only the process holding
``bot.leadership("scheduler")`` runs them; the others add, list and cancel jobs in the shared store and wake the
leader through a Redis channel. Scheduled messages stay stored until sent (see `delivery`), so a leader that dies
mid-send loses none.

A leader can stall (SIGSTOP, a long GC pause, a laptop sleep) past its lease while another process takes over. So
the lease is checked again where it matters: before the scheduler looks for due jobs (this process's clock), and
before a job starts and before each of its Linq calls other than reads (asking Redis). A run fenced before it made
any such call is handed back to the shared store, due at its time, for the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import pickle
import sys
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from apscheduler.events import (  # type: ignore[import-untyped]
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    EVENT_SCHEDULER_SHUTDOWN,
    JobExecutionEvent,
)
from apscheduler.executors.asyncio import AsyncIOExecutor  # type: ignore[import-untyped]
from apscheduler.executors.base import run_coroutine_job, run_job  # type: ignore[import-untyped]
from apscheduler.job import Job  # type: ignore[import-untyped]
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import (  # type: ignore[import-untyped]
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_STOPPED,
)
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from apscheduler.util import iscoroutinefunction_partial, obj_to_ref, ref_to_obj  # type: ignore[import-untyped]
from redis.exceptions import RedisError

from linqbot.inbox.redis_store import DEFAULT_PREFIX, RedisStore
from linqbot.inbox.store import Leadership
from linqbot.middleware.errors import LeadershipLost
from linqbot.outbound import OutboundCall, RetryPolicy
from linqbot.outbound.pipeline import Next
from linqbot.redact import mask_handle
from linqbot_scheduler import jobs as builtin
from linqbot_scheduler.delivery import DEFAULT_BACKOFF, DEFAULT_LEASE, DEFAULT_RETRY_FOR, UntilSettled
from linqbot_scheduler.runlog import JobRun, Outcome, RunLog
from linqbot_scheduler.store import URL_ENV, Backend, JobInfo, JobNotFound, RedisBackend, open_backend, resolve_url

if TYPE_CHECKING:
    from linqbot.bot import Bot

log = logging.getLogger("linqbot.scheduler")
_SCHEDULER_LOG = logging.getLogger("apscheduler.scheduler.linqbot")
_JOBS_LOG = logging.getLogger("apscheduler.executors.linqbot")
_SKIP_WARNING = 'Execution of job "%s" skipped: maximum number of running instances'

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MISFIRE_GRACE = 300
"""Seconds a run may be late (the bot was down or busy) and still happen; later runs are recorded as missed."""
DEFAULT_MAX_CONCURRENT_SENDS = 16
"""Sends from jobs under way at once; more wait their turn instead of piling up in the HTTP pool and timing out."""
LEADERSHIP_CHECK = 0.25
"""Seconds between looks at whether this process (still) leads; leadership itself is a Redis lease."""
OUTCOME_EVENTS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
READS = frozenset({"get_chat", "check_imessage", "check_rcs", "list_phone_numbers"})
"""Linq calls a job may make without leading: they change nothing anyone sees, so repeating them is harmless."""
UNCOUNTED = frozenset({"typing_start", "typing_stop", "mark_read", "upload_attachment"})
"""Fenced, but no reason not to hand a run back: done again by the leader, nobody sees them twice (the typing
indicator shown before a multi-bubble send, a read receipt, a media upload)."""
HAND_BACK_RETRY = 0.1
"""Seconds before asking a job store that did not answer to take a handed-back run again (doubling each time)."""
HAND_BACK_RETRY_MAX = 5.0
"""The longest wait between those attempts."""
PUT_BACK_PATIENCE = 5.0
"""Seconds `BotScheduler.stop` keeps trying to put claimed, unstarted runs back in a store that does not answer."""
HAND_BACK_REPORT_DELAY = LEADERSHIP_CHECK
"""Seconds hand-backs are gathered into one warning (the runs of one stall are fenced within moments of each other)."""


_Waiter = tuple[str, asyncio.Future[JobRun]]
"""A `wait_for_run` caller: the job it waits for, and the future its next outcome resolves."""


class JobNotPersistable(TypeError):
    """The job cannot be stored: its function is not importable by reference, or its arguments don't pickle."""


class SchedulerNotRunning(RuntimeError):
    """Scheduling one-off work needs the running bot (its scheduler starts with the bot)."""


@dataclass
class JobSpec:
    """A job another plugin hands over through ``linqbot_scheduled_jobs``; a dict with these keys works too.

    ``trigger`` is ``"interval"``, ``"cron"``, ``"date"`` or an APScheduler trigger; ``trigger_args`` are its fields
    (in a dict spec, other keys are trigger fields: ``{"func": f, "trigger": "cron", "hour": 9}``).
    """

    func: Callable[..., Any] | str
    trigger: str | BaseTrigger
    trigger_args: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    name: str | None = None
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def coerce(cls, spec: JobSpec | Mapping[str, Any]) -> JobSpec:
        if isinstance(spec, JobSpec):
            return spec
        known = {"func", "trigger", "trigger_args", "id", "name", "args", "kwargs"}
        if "func" not in spec or "trigger" not in spec:
            raise ValueError(f"a job spec needs 'func' and 'trigger', got keys {sorted(spec)}")
        extra = {k: v for k, v in spec.items() if k not in known}
        base = {k: v for k, v in spec.items() if k in known}
        return cls(**base, trigger_args={**dict(spec.get("trigger_args") or {}), **extra})

    def build_trigger(self, timezone: tzinfo) -> BaseTrigger:
        if isinstance(self.trigger, BaseTrigger):
            return self.trigger
        kinds: dict[str, Any] = {"interval": IntervalTrigger, "cron": CronTrigger, "date": DateTrigger}
        if self.trigger not in kinds:
            raise ValueError(f"unknown trigger {self.trigger!r}: use interval, cron, date or an APScheduler trigger")
        return kinds[self.trigger](**{"timezone": timezone, **self.trigger_args})


@dataclass
class _Pending:
    func: Callable[..., Any]
    trigger: BaseTrigger
    id: str | None
    name: str | None
    options: dict[str, Any]


def reference(func: Callable[..., Any] | str) -> str:
    """The ``module:function`` a stored job runs; raises `JobNotPersistable` saying why one can't be made."""
    if isinstance(func, str):
        ref = func
        try:
            ref_to_obj(ref)
        except (ImportError, LookupError, ValueError) as exc:
            raise JobNotPersistable(f"cannot import job function {ref!r}: {exc}") from exc
        return ref
    try:
        ref = str(obj_to_ref(func))
        found = ref_to_obj(ref)
    except (ValueError, TypeError, ImportError, LookupError) as exc:
        raise JobNotPersistable(
            f"{func!r} cannot be a stored job ({exc}). Jobs survive restarts as an importable reference "
            "('module:function'): use a module-level function, not a lambda, closure, partial or bound method, "
            "and pass data through args=/kwargs="
        ) from exc
    if found is not func and getattr(found, "__wrapped__", None) is not func:
        raise JobNotPersistable(f"{ref!r} does not name {func!r} (was it redefined or wrapped?)")
    return ref


def _check_arguments(ref: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    try:
        pickle.dumps((tuple(args), dict(kwargs)))
    except Exception as exc:
        raise JobNotPersistable(
            f"the arguments of job {ref!r} cannot be stored ({type(exc).__name__}: {exc}); pass plain data "
            "(str, int, dict, list…) and look live objects up when the job runs"
        ) from exc


def _aware(moment: datetime | timedelta) -> datetime:
    if isinstance(moment, timedelta):
        return datetime.now(UTC) + moment
    if moment.tzinfo is None:
        raise ValueError("at= needs a timezone-aware datetime (e.g. datetime.now(UTC) + timedelta(hours=1))")
    return moment


class _ReportedHere(logging.Filter):
    """Drops what this scheduler reports itself: APScheduler's warning at every skipped run of a job still running
    (one warning per overrun instead), and the traceback of a run refused by the leadership fence."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(_SKIP_WARNING):
            return False
        return not (record.exc_info and isinstance(record.exc_info[1], LeadershipLost))


for _logger in (_SCHEDULER_LOG, _JOBS_LOG):
    _logger.addFilter(_ReportedHere())


@dataclass
class _Overrun:
    """Runs of a job skipped because its previous run was still going."""

    first: datetime
    skipped: int = 0


class _FencedExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs each job as a task marked with its `jobs.Execution`, and only while this process leads: a run that would
    start, or that was refused its first Linq call, after the lease was lost is handed back to the leader."""

    def __init__(self, owner: BotScheduler) -> None:
        super().__init__()
        self._owner = owner
        self.running: dict[str, Job] = {}
        """Jobs with a run under way here (one each: ``max_instances`` is 1)."""
        self._next: dict[str, tuple[Job, list[datetime]]] = {}
        """One-off jobs claimed again while their earlier run goes on here, returned to the store when it ends."""

    def start(self, scheduler: AsyncIOScheduler, alias: str) -> None:
        super().start(scheduler, alias)
        self._logger = _JOBS_LOG

    def submit_job(self, job: Job, run_times: list[datetime]) -> None:
        """A one-off job claimed again while its earlier run goes on here (scheduled again under its id, or handed
        back to a leader that is this process again) waits for that run, then goes back to the store to be claimed
        anew: APScheduler would skip it as an overrun and drop it from the store, and it is the job's only run. A
        newer claim of the same id replaces a waiting one, as adding a job under a used id replaces it."""
        if job.id in self.running and isinstance(job.trigger, DateTrigger):
            replaced = self._next.get(job.id)
            self._next[job.id] = (job, run_times)
            if replaced is not None:
                self._owner.runs_settled(len(replaced[1]))
            return
        super().submit_job(job, run_times)

    def take_waiting(self) -> list[tuple[Job, list[datetime]]]:
        """The runs still waiting (the scheduler is stopping: they go back to the store without waiting more)."""
        waiting, self._next = list(self._next.values()), {}
        return waiting

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self.running[job.id] = job
        task = self._eventloop.create_task(self._run(job, run_times))
        task.add_done_callback(functools.partial(self._finished, job))
        self._pending_futures.add(task)

    async def _run(self, job: Job, run_times: list[datetime]) -> list[JobExecutionEvent]:
        execution = builtin.Execution(self._owner)
        builtin.executing.set(execution)
        if not await self._owner.still_leads():
            return await self._owner.hand_back(job, run_times)
        if iscoroutinefunction_partial(job.func):
            events: list[JobExecutionEvent] = await run_coroutine_job(
                job, job._jobstore_alias, run_times, self._logger.name
            )
        else:
            run = functools.partial(run_job, job, job._jobstore_alias, run_times, self._logger.name)
            events = await asyncio.get_running_loop().run_in_executor(None, run)
        if execution.refused and (execution.calls == 0 or _resumable(events)):
            return await self._owner.hand_back(job, run_times)
        if execution.refused:  # what it did is done; running it again would do that twice
            log.warning(
                "job %s stopped after %d Linq call(s): this process lost the leadership", job.id, execution.calls
            )
        return events

    def _finished(self, job: Job, task: asyncio.Task[list[JobExecutionEvent]]) -> None:
        self._pending_futures.discard(task)
        self.running.pop(job.id, None)
        try:
            events = task.result()
        except BaseException:
            self._run_job_error(job.id, *sys.exc_info()[1:])
        else:
            self._run_job_success(job.id, events)
        if (waiting := self._next.pop(job.id, None)) is not None:
            self._owner.return_to_store(*waiting)


class _LeaderScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """Looks for due jobs only while this process leads: after a stall, the lease is checked before anything runs."""

    def __init__(self, owner: BotScheduler, **options: Any) -> None:
        self._owner = owner
        super().__init__(**options)

    def _process_jobs(self) -> float | None:
        if self.state == STATE_RUNNING and not self._owner.leads_by_clock():
            self._owner.step_aside()
            return None
        wait: float | None = super()._process_jobs()
        return wait


class BotScheduler:
    """Scheduling for one bot; ``bot.every``, ``bot.cron``, ``bot.schedule``… are this object's methods."""

    def __init__(
        self,
        bot: Bot,
        *,
        url: str | None = None,
        timezone: str | tzinfo = UTC,
        misfire_grace_time: int = DEFAULT_MISFIRE_GRACE,
        coalesce: bool = True,
        max_concurrent_sends: int = DEFAULT_MAX_CONCURRENT_SENDS,
        retry_for: float = DEFAULT_RETRY_FOR,
        retry_backoff: RetryPolicy = DEFAULT_BACKOFF,
        send_lease: float = DEFAULT_LEASE,
    ) -> None:
        self.bot = bot
        self._url = url
        self.timezone: tzinfo = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.misfire_grace_time = misfire_grace_time
        self.coalesce = coalesce
        self.retry_for = retry_for
        """Seconds after its time a scheduled message failing for transient reasons keeps being retried."""
        self.retry_backoff = retry_backoff
        """Delays between those attempts (``Retry-After`` wins when longer)."""
        self.send_lease = send_lease
        """Seconds a scheduled message's send may take before another attempt may start (its process died)."""
        self.max_concurrent_sends = max_concurrent_sends
        self._send_slots = asyncio.Semaphore(max_concurrent_sends)
        self.apscheduler: AsyncIOScheduler | None = None
        """The underlying ``AsyncIOScheduler`` while the bot runs, for anything not wrapped here."""
        self.run_log: RunLog | None = None
        self._backend: Backend | None = None
        self._decorated: list[_Pending] = []
        self._waiters: list[_Waiter] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._stopped = asyncio.Event()
        self._leading: asyncio.Task[None] | None = None
        self._leadership: Leadership | None = None
        """Set while the bot is scaled out (a shared inbox): jobs then run only while this process holds it."""
        self._executor: _FencedExecutor | None = None
        self._overruns: dict[str, _Overrun] = {}
        self._handed_back: list[str] = []
        """Jobs handed to the leader since the last warning about it."""
        self._returning: set[asyncio.Task[None]] = set()
        """One-off runs being put back in the store (`return_to_store`)."""
        self._give_up_at: float | None = None
        """Set by `stop`: the loop time after which runs not yet put back in an unanswering store are given up."""
        self._armed = False
        """The bot is running; the store opens on first use."""

    # -- configuration ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The job store: ``url=``, else ``LINQBOT_SCHEDULER_URL``, else the bot's Redis inbox, else a SQLite file."""
        store = self.bot.inbox.store
        if self._url is None and URL_ENV not in os.environ and isinstance(store, RedisStore):
            return store.url
        return resolve_url(self._url)

    @property
    def _prefix(self) -> str:
        store = self.bot.inbox.store
        return store.prefix if isinstance(store, RedisStore) else DEFAULT_PREFIX

    def configure(
        self,
        *,
        url: str | None = None,
        timezone: str | tzinfo | None = None,
        misfire_grace_time: int | None = None,
        max_concurrent_sends: int | None = None,
        retry_for: float | None = None,
        retry_backoff: RetryPolicy | None = None,
        send_lease: float | None = None,
    ) -> None:
        """Change settings before the bot starts."""
        if self.running:
            raise RuntimeError("configure the scheduler before the bot starts")
        self._url = url or self._url
        if timezone is not None:
            self.timezone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        if misfire_grace_time is not None:
            self.misfire_grace_time = misfire_grace_time
        if max_concurrent_sends is not None:
            if max_concurrent_sends < 1:
                raise ValueError(f"max_concurrent_sends must be at least 1, got {max_concurrent_sends}")
            self.max_concurrent_sends = max_concurrent_sends
            self._send_slots = asyncio.Semaphore(max_concurrent_sends)
        if retry_for is not None:
            self.retry_for = retry_for
        if retry_backoff is not None:
            self.retry_backoff = retry_backoff
        if send_lease is not None:
            if send_lease <= 0:
                raise ValueError(f"send_lease must be positive, got {send_lease}")
            self.send_lease = send_lease

    @property
    def running(self) -> bool:
        return self.apscheduler is not None

    @property
    def leading(self) -> bool:
        """Whether this process runs the jobs (always, unless the bot is scaled out and another process leads)."""
        return self.apscheduler is not None and self.apscheduler.state == STATE_RUNNING

    # -- decorators ---------------------------------------------------------------------------------------------

    def every(
        self,
        *,
        weeks: int = 0,
        days: int = 0,
        hours: int = 0,
        minutes: int = 0,
        seconds: int = 0,
        id: str | None = None,
        name: str | None = None,
        jitter: int | None = None,
        **options: Any,
    ) -> Callable[[F], F]:
        """Run the decorated function every interval while the bot runs (the first run one interval after start)."""
        if not any((weeks, days, hours, minutes, seconds)):
            raise ValueError("every() needs a positive interval, e.g. every(minutes=5)")
        trigger = IntervalTrigger(
            weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds, jitter=jitter, timezone=self.timezone
        )
        return self._decorator(trigger, id, name, options)

    def cron(
        self,
        expression: str | None = None,
        *,
        timezone: str | tzinfo | None = None,
        id: str | None = None,
        name: str | None = None,
        **fields: Any,
    ) -> Callable[[F], F]:
        """Run on a cron schedule: ``cron("0 9 * * mon-fri", timezone="Europe/Paris")`` or ``cron(hour=9)``."""
        zone = timezone or self.timezone
        options: dict[str, Any] = {
            k: fields.pop(k) for k in ("misfire_grace_time", "coalesce", "max_instances") if k in fields
        }
        if expression is not None and fields:
            raise ValueError("give cron() either an expression or keyword fields, not both")
        try:
            trigger = (
                CronTrigger.from_crontab(expression, timezone=zone)
                if expression is not None
                else CronTrigger(timezone=zone, **fields)
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid cron schedule {expression or fields!r}: {exc}") from exc
        return self._decorator(trigger, id, name, options)

    def _decorator(
        self, trigger: BaseTrigger, job_id: str | None, name: str | None, options: dict[str, Any]
    ) -> Callable[[F], F]:
        def register(func: F) -> F:
            if not callable(func):
                raise TypeError(f"a scheduled job must be a function, got {func!r}")
            pending = _Pending(func, trigger, job_id, name, options)
            self._decorated.append(pending)
            if self.running or self._armed:
                self._add_recurring(pending)
            return func

        return register

    # -- one-off work -------------------------------------------------------------------------------------------

    async def schedule(
        self,
        func: Callable[..., Any] | str,
        *,
        at: datetime | timedelta,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: int | None = None,
    ) -> JobInfo:
        """Run ``func(*args, **kwargs)`` once at ``at`` (aware datetime, or a delay from now)."""
        ref = reference(func)
        kwargs = dict(kwargs or {})
        _check_arguments(ref, args, kwargs)
        job = self._require().add_job(
            ref,
            DateTrigger(run_date=_aware(at)),
            args=tuple(args),
            kwargs=kwargs,
            id=id or f"job-{uuid.uuid4().hex[:12]}",
            name=name or ref,
            **self._options(misfire_grace_time=misfire_grace_time),
        )
        self._wake_leader()
        return _info(job)

    async def schedule_message(
        self,
        *,
        at: datetime | timedelta,
        text: str | None = None,
        to: str | Sequence[str] | None = None,
        chat_id: str | None = None,
        media: str | Sequence[str] | None = None,
        effect: str | None = None,
        id: str | None = None,
        misfire_grace_time: int | None = None,
    ) -> JobInfo:
        """Send a message later (to a person or group by handle, or into a chat), through every outbound gate.

        It is sent once: a send that fails for a transient reason (no answer, timeout, 5xx, 429) is retried with
        backoff for ``retry_for`` seconds under the same idempotency key; a refusal (opt-out, block, 4xx) is final.
        """
        if (to is None) == (chat_id is None):
            raise ValueError("schedule_message needs exactly one of to= or chat_id=")
        if text is None and media is None:
            raise ValueError("schedule_message needs text= or media=")
        job_id = id or f"message-{uuid.uuid4().hex[:12]}"
        recipients = to if to is None or isinstance(to, str) else list(to)
        where = f"chat {chat_id}" if chat_id else mask_handle(recipients if isinstance(recipients, str) else None)
        when = _aware(at)
        grace = self.misfire_grace_time if misfire_grace_time is None else misfire_grace_time
        last_try = when + timedelta(seconds=max(grace, self.retry_for) + self.send_lease)
        job = self._require().add_job(
            reference(builtin.send_scheduled_message),
            UntilSettled(when, self.send_lease, last_try),
            args=(self.bot.name, job_id),
            kwargs={
                "to": recipients,
                "chat_id": chat_id,
                "text": text,
                "media": media if media is None or isinstance(media, str) else list(media),
                "effect": effect,
                "due": when.timestamp(),
                "grace": grace,
            },
            id=job_id,
            name=f"message to {where}",
            misfire_grace_time=None,  # the job itself judges lateness against its first time, not a retry's
            coalesce=True,
            max_instances=1,
        )
        self._wake_leader()
        return _info(job)

    def settle(self, job_id: str) -> None:
        """A scheduled message is done with (sent, refused or too late): forget its job."""
        with contextlib.suppress(JobLookupError):
            self._require().remove_job(job_id)

    def _retry_later(self, job_id: str, retry: builtin.RetryScheduled) -> bool:
        """Move a scheduled message to its next attempt; False if it was cancelled meanwhile."""
        scheduler = self._require()
        job = scheduler.get_job(job_id)
        if job is None:
            return False
        try:
            scheduler.modify_job(job_id, next_run_time=retry.at, kwargs={**job.kwargs, "attempt": retry.attempt + 1})
        except JobLookupError:
            return False
        self._wake_leader()
        return True

    # -- listing and cancelling ---------------------------------------------------------------------------------

    def jobs(self) -> list[JobInfo]:
        """Every stored job, soonest first (read from the store when the bot is not running)."""
        if self.apscheduler is not None:
            return [_info(job) for job in self.apscheduler.get_jobs()]
        backend = open_backend(self.url, self._prefix)
        try:
            return backend.stored_jobs() if backend.exists() else []
        finally:
            backend.close()

    def cancel_job(self, job_id: str) -> None:
        """Remove a job; raises `JobNotFound` for an unknown id."""
        if self.apscheduler is not None:
            try:
                self.apscheduler.remove_job(job_id)
            except JobLookupError:
                raise JobNotFound(job_id) from None
            return
        backend = open_backend(self.url, self._prefix)
        try:
            if not backend.exists():
                raise JobNotFound(job_id)
            backend.cancel(job_id)
        finally:
            backend.close()

    def run_now(self, job_id: str) -> None:
        """Make a job due now (it runs on the scheduler as at its time; a recurring job then keeps its schedule)."""
        try:
            self._require().modify_job(job_id, next_run_time=datetime.now(UTC))
        except JobLookupError:
            raise JobNotFound(job_id) from None
        self._wake_leader()

    def job_runs(self, job_id: str | None = None, limit: int = 100) -> list[JobRun]:
        """Recorded outcomes (ok / retrying / error / missed), oldest first."""
        if self.run_log is not None:
            return self.run_log.runs(job_id, limit)
        backend = open_backend(self.url, self._prefix)
        try:
            return backend.run_log().runs(job_id, limit) if backend.exists() else []
        finally:
            backend.close()

    async def run_due(self, within: float, timeout: float = 30.0) -> list[JobRun]:
        """Run now, in due order, every job due within ``within`` seconds, and return their outcomes (for tests)."""
        if self.apscheduler is None:
            return []
        horizon = datetime.now(UTC) + timedelta(seconds=within)
        due = sorted(
            (job for job in self.apscheduler.get_jobs() if job.next_run_time and job.next_run_time <= horizon),
            key=lambda job: job.next_run_time,
        )
        outcomes = []
        for job in due:
            outcome = self.wait_for_run(job.id, timeout)
            self.run_now(job.id)
            outcomes.append(await outcome)
        return outcomes

    def wait_for_run(self, job_id: str, timeout: float = 10.0) -> Coroutine[Any, Any, JobRun]:
        """The next outcome of ``job_id`` on this process after this call (for tests and scripts that await a job).

        The waiter is registered when called, not when first awaited, so a run ending in between is not missed
        (and forgotten after ``timeout`` even if the result is never awaited); a run handed to the leading process
        ends here as ``handed_back``. Raises `TimeoutError` when no run ends within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        entry: _Waiter = (job_id, loop.create_future())
        self._waiters.append(entry)
        expiry = loop.call_later(timeout, self._forget, entry)
        return self._outcome(entry, loop.time() + timeout, expiry)

    async def _outcome(self, entry: _Waiter, deadline: float, expiry: asyncio.TimerHandle) -> JobRun:
        try:
            return await asyncio.wait_for(entry[1], max(deadline - asyncio.get_running_loop().time(), 0))
        finally:
            expiry.cancel()
            self._forget(entry)

    def _forget(self, entry: _Waiter) -> None:
        if entry in self._waiters:
            self._waiters.remove(entry)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Re-register decorated and plugin jobs and begin running due jobs (when this process leads).

        A bot that has no jobs and no store yet opens the store only when it first schedules something, so a bot
        that never schedules leaves no job database behind.
        """
        if self.running:
            return
        self._armed = True
        specs = [JobSpec.coerce(s) for s in self.bot.plugins.collect("linqbot_scheduled_jobs", bot=self.bot)]
        if self._decorated or specs or self._store_exists():
            self._open(specs)

    def _store_exists(self) -> bool:
        backend = open_backend(self.url, self._prefix)
        try:
            return backend.exists()
        finally:
            backend.close()

    def _open(self, specs: Sequence[JobSpec] = ()) -> AsyncIOScheduler:
        backend = self._backend = open_backend(self.url, self._prefix)
        shared = self.bot.inbox.store.shared
        if shared and not isinstance(backend, RedisBackend):
            log.warning(
                "the inbox is shared but scheduled jobs are in %s: only the leading process runs jobs, so every "
                "process must use the same job store (leave LINQBOT_SCHEDULER_URL unset to use the inbox's Redis)",
                backend.__class__.__name__,
            )
        self.run_log = backend.run_log()
        self.run_log.create()
        self._executor = _FencedExecutor(self)
        scheduler = _LeaderScheduler(
            self,
            jobstores={"default": backend.job_store()},
            executors={"default": self._executor},
            job_defaults={
                "misfire_grace_time": self.misfire_grace_time,
                "coalesce": self.coalesce,
                "max_instances": 1,
            },
            timezone=self.timezone,
            logger=_SCHEDULER_LOG,
        )
        scheduler.add_listener(
            self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | OUTCOME_EVENTS | EVENT_SCHEDULER_SHUTDOWN
        )
        self._overruns.clear()
        self._in_flight = 0
        self._idle.set()
        self._stopped.clear()
        self._give_up_at = None
        scheduler.start(paused=True)
        self.apscheduler = scheduler
        try:
            for pending in self._decorated:
                self._add_recurring(pending)
            for spec in specs:
                self._add_spec(spec)
        except Exception:
            self._armed = False
            scheduler.shutdown(wait=False)
            self._close()
            raise
        if shared:
            self._leadership = self.bot.leadership("scheduler")
            self._leading = asyncio.get_running_loop().create_task(self._lead(scheduler, backend, self._leadership))
        else:
            scheduler.resume()
        log.info("scheduler started with %d stored jobs", len(scheduler.get_jobs()))
        return scheduler

    async def _lead(self, scheduler: AsyncIOScheduler, backend: Backend, leadership: Leadership) -> None:
        """Run jobs exactly while this process holds the scheduler leadership (a Redis lease)."""
        await leadership.start()
        wakeups = (
            asyncio.get_running_loop().create_task(_relay_wakeups(backend, scheduler))
            if isinstance(backend, RedisBackend)
            else None
        )
        try:
            while True:
                if leadership.is_leader and scheduler.state == STATE_PAUSED and self._armed:
                    if await leadership.confirm():  # not merely this process's clock: Redis agrees
                        log.info("scheduler: this process leads and runs the scheduled jobs")
                        scheduler.resume()
                elif not leadership.is_leader:
                    self.step_aside()
                await asyncio.sleep(LEADERSHIP_CHECK)
        finally:
            if wakeups is not None:
                wakeups.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await wakeups
            await leadership.stop()

    def leads_by_clock(self) -> bool:
        """Whether this process's lease has not run out by its own clock (no I/O: checked before every job lookup)."""
        return self._leadership is None or self._leadership.is_leader

    async def still_leads(self) -> bool:
        """The fence before a job starts or sends: this process holds the scheduler leadership, per Redis."""
        if self._leadership is None or await self._leadership.confirm():
            return True
        self.step_aside()
        return False

    def step_aside(self) -> None:
        """The lease is lost: start no job here until this process leads again (`_lead` resumes it then)."""
        if self.apscheduler is not None and self.apscheduler.state == STATE_RUNNING:
            log.warning("scheduler: leadership lost (a stall past the lease, or Redis unreachable); no job starts here")
            self.apscheduler.pause()

    async def hand_back(self, job: Job, run_times: list[datetime]) -> list[JobExecutionEvent]:
        """A run this process claimed but must not do: make it due again at its time, in the shared store.

        While the store does not answer (Redis down past the lease), the run is kept here and the store asked again
        with backoff: a one-off job was removed from the store when claimed, so this process holds its only copy."""
        if await self._put_back(job, run_times):
            self._note_hand_back(job.id)
        return [
            JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, at, retval=builtin.HandedBack())
            for at in run_times
        ]

    def return_to_store(self, job: Job, run_times: list[datetime]) -> None:
        """Put back a one-off run that waited for its job's earlier run here (see `_FencedExecutor.submit_job`).
        It counts as in flight until it is stored, so `stop` waits for it; listeners hear of it when it runs."""
        counted_by = self.apscheduler

        async def put_back() -> None:
            try:
                await self._put_back(job, run_times)
            finally:
                if self.apscheduler is counted_by:  # not a scheduler started since, which never counted it
                    self.runs_settled(len(run_times))

        task = asyncio.get_running_loop().create_task(put_back())
        self._returning.add(task)
        task.add_done_callback(self._returning.discard)

    def runs_settled(self, runs: int) -> None:
        """Submitted runs are over: run, or settled without running here (put back in the store, or replaced)."""
        self._in_flight = max(self._in_flight - runs, 0)
        if self._in_flight == 0:
            self._idle.set()

    async def _put_back(self, job: Job, run_times: list[datetime]) -> bool:
        settled = False
        try:
            settled = await self._store_again(job, min(run_times))
        finally:
            if not settled:
                log.warning("scheduler: stopped before job %s could be put back in the store; this run is lost", job.id)
        return settled

    async def _store_again(self, job: Job, at: datetime) -> bool:
        """Make ``job`` due at ``at`` in the store, retrying until it answers; False if the scheduler stopped first
        (or its stop ran out of patience for the store: `_give_up_at`)."""
        delay = HAND_BACK_RETRY
        scheduler = self.apscheduler
        loop = asyncio.get_running_loop()
        while scheduler is not None and scheduler.state != STATE_STOPPED and self.apscheduler is scheduler:
            if self._give_up_at is not None and loop.time() > self._give_up_at:
                return False
            try:
                await asyncio.to_thread(_due_again, scheduler, job, at)  # sync store I/O: off the loop
            except (ConflictingIdError, JobLookupError):
                return True  # changed meanwhile (cancelled, or re-added by its owner): nothing to hand back
            except Exception as exc:
                if delay == HAND_BACK_RETRY:
                    log.warning(
                        "scheduler: job %s cannot be handed to the leader yet (%s: %s); kept here and retried until "
                        "the job store answers",
                        job.id,
                        type(exc).__name__,
                        exc,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, HAND_BACK_RETRY_MAX)
                continue
            with contextlib.suppress(RedisError, OSError):  # the leader also looks for due jobs on its own
                self._wake_leader()
            return True
        return False

    def _note_hand_back(self, job_id: str) -> None:
        if not self._handed_back:
            asyncio.get_running_loop().call_later(HAND_BACK_REPORT_DELAY, self._report_hand_backs)
        self._handed_back.append(job_id)

    def _report_hand_backs(self) -> None:
        """One warning for the runs of one stall, however many there were."""
        handed, self._handed_back = self._handed_back, []
        shown = ", ".join(handed[:5]) + (f" and {len(handed) - 5} more" if len(handed) > 5 else "")
        log.warning(
            "scheduler: %d job run(s) not run here (no longer the leader), handed to the leader: %s", len(handed), shown
        )

    def _close(self) -> None:
        self.apscheduler = None
        self._executor = None
        self._leadership = None
        self.run_log = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    async def stop(self, timeout: float = 25.0) -> None:
        """Start no new runs, let runs under way finish (up to ``timeout``), step down, then close the store.

        A scheduled message still sending when the timeout ends stays stored and is sent by the next leader.
        """
        self._armed = False
        scheduler = self.apscheduler
        if scheduler is None:
            return
        scheduler.pause()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("scheduler stopping with %d jobs still running; they are cancelled", self._in_flight)
        loop = asyncio.get_running_loop()
        self._give_up_at = loop.time() + PUT_BACK_PATIENCE  # a store down at shutdown must not hang it
        if self._executor is not None:
            for job, run_times in self._executor.take_waiting():  # never started: safe to keep for the next start
                await self._put_back(job, run_times)
        if self._returning:
            _, late = await asyncio.wait(self._returning, timeout=max(self._give_up_at - loop.time(), 0) + 1)
            for task in late:  # a store call that does not return: give it up (it logs the run as lost)
                task.cancel()
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
            self._leading = None
        for job_id in list(self._overruns):
            self._report_overrun(job_id)
        if self.run_log is not None:
            self.run_log.flush()  # while the job store's engine (which shutdown disposes) still holds the database
        scheduler.shutdown(wait=False)
        await self._stopped.wait()  # AsyncIOScheduler shuts down on the next loop turn
        self._close()

    async def fence_calls(self, call: OutboundCall, call_next: Next) -> Any:
        """Outbound middleware (inside pacing, so a send held for its pair takes no slot): a job's Linq calls other
        than reads go out only while this process leads, and at most ``max_concurrent_sends`` sends from this
        scheduler's jobs are under way at once."""
        run = builtin.executing.get(None)
        if run is None or run.scheduler is not self or call.op in READS:
            return await call_next(call)
        if not call.is_send:
            await self._fence(run, call)
            return await call_next(call)
        async with self._send_slots:
            await self._fence(run, call)
            return await call_next(call)

    async def _fence(self, run: builtin.Execution, call: OutboundCall) -> None:
        if not await self.still_leads():
            run.refused += 1
            raise LeadershipLost(f"{call.op} from a scheduled job refused: this process no longer leads")
        if call.op not in UNCOUNTED:
            run.calls += 1

    # -- internals ----------------------------------------------------------------------------------------------

    def _require(self) -> AsyncIOScheduler:
        if self.apscheduler is None and self._armed:
            return self._open()
        if self.apscheduler is None:
            raise SchedulerNotRunning(
                "the scheduler runs with the bot: schedule one-off jobs from handlers, start-up hooks or after "
                "await bot.startup()"
            )
        return self.apscheduler

    def _wake_leader(self) -> None:
        """After changing the shared store from a process that does not lead: the leader re-reads it now."""
        if self._backend is not None and not self.leading:
            self._backend.wake_others()

    def _options(self, **given: Any) -> dict[str, Any]:
        return {k: v for k, v in given.items() if v is not None}

    def _add_recurring(self, pending: _Pending) -> None:
        ref = reference(pending.func)
        self._require().add_job(
            ref,
            pending.trigger,
            id=pending.id or ref,
            name=pending.name or ref,
            replace_existing=True,
            **pending.options,
        )
        self._wake_leader()

    def _add_spec(self, spec: JobSpec) -> None:
        ref = reference(spec.func)
        _check_arguments(ref, spec.args, spec.kwargs)
        self._require().add_job(
            ref,
            spec.build_trigger(self.timezone),
            args=tuple(spec.args),
            kwargs=dict(spec.kwargs),
            id=spec.id or ref,
            name=spec.name or ref,
            replace_existing=True,
        )
        self._wake_leader()

    def _on_event(self, event: Any) -> None:
        if event.code == EVENT_SCHEDULER_SHUTDOWN:
            self._stopped.set()
            return
        if event.code == EVENT_JOB_SUBMITTED:  # one outcome event follows per submitted run time
            self._in_flight += len(event.scheduled_run_times)
            self._idle.clear()
            return
        if event.code == EVENT_JOB_MAX_INSTANCES:
            self._note_skip(event.job_id, event.scheduled_run_times)
            return
        self.runs_settled(1)
        run = _run_from(event)
        retry = getattr(event, "retval", None)
        if isinstance(retry, builtin.RetryScheduled) and not self._retry_later(run.job_id, retry):
            run = replace(run, outcome="error", detail=f"{run.detail}; cancelled meanwhile")
        if run.outcome == "missed":
            log.warning("job %s missed its run at %s (later than misfire_grace_time)", run.job_id, run.scheduled_for)
        if self.run_log is not None and run.outcome != "handed_back":  # the leader's run is the one recorded
            self.run_log.record(run)
        if run.job_id in self._overruns:  # the run that made others skip has ended
            self._report_overrun(run.job_id)
        for entry in [entry for entry in self._waiters if entry[0] == run.job_id]:
            self._forget(entry)
            if not entry[1].done():
                entry[1].set_result(run)

    def _note_skip(self, job_id: str, run_times: list[datetime]) -> None:
        """A run time came while the job's previous run was still going here, so APScheduler skipped it."""
        job = self._executor.running.get(job_id) if self._executor is not None else None
        if job is None or isinstance(job.trigger, UntilSettled):
            return  # a scheduled message's lease came round while its own send is under way here: expected
        overrun = self._overruns.setdefault(job_id, _Overrun(min(run_times)))
        overrun.skipped += len(run_times)

    def _report_overrun(self, job_id: str) -> None:
        """One warning (and one run-log entry) per overrun, however many runs it skipped."""
        overrun = self._overruns.pop(job_id)
        detail = f"{overrun.skipped} run(s) skipped: the previous run was still going"
        log.warning(
            "job %s overran its schedule: %d run(s) from %s on were skipped while its previous run was still going "
            "(runs of a job never overlap; give it a longer interval or make it faster)",
            job_id,
            overrun.skipped,
            overrun.first.isoformat(),
        )
        if self.run_log is not None:
            self.run_log.record(JobRun(job_id, overrun.first, datetime.now(UTC), "missed", detail))


def _resumable(events: list[JobExecutionEvent]) -> bool:
    """The run ended on a `LeadershipLost` the job marked resumable: running it again does only what is left."""
    errors = (getattr(event, "exception", None) for event in events)
    return any(isinstance(error, LeadershipLost) and error.resumable for error in errors)


def _due_again(scheduler: AsyncIOScheduler, job: Job, at: datetime) -> None:
    """Put a claimed run back: a one-off job (removed when claimed) is stored again; a recurring job or a scheduled
    message (still stored) is moved back to ``at`` only if its next run is still the one this process wrote when it
    claimed the run (after a long stall the leader may have run later occurrences, or claimed the message again)."""
    stored = scheduler.get_job(job.id)
    if stored is None and isinstance(job.trigger, DateTrigger):
        scheduler.add_job(
            job.func_ref,
            DateTrigger(run_date=at),
            args=job.args,
            kwargs=job.kwargs,
            id=job.id,
            name=job.name,
            misfire_grace_time=job.misfire_grace_time,
            coalesce=job.coalesce,
            max_instances=job.max_instances,
        )
    elif stored is not None and stored.next_run_time is not None and stored.next_run_time == job.next_run_time:
        scheduler.modify_job(job.id, next_run_time=at)


async def _relay_wakeups(backend: RedisBackend, scheduler: AsyncIOScheduler) -> None:
    """Another process changed the shared store: look for due jobs now (a no-op while this process does not lead)."""
    client = aioredis.Redis.from_url(backend.url, socket_timeout=None)  # redis-py's write timeout can eat a cancel
    try:
        while True:
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(backend.wake_channel)
                    async for _ in pubsub.listen():  # the first message confirms the subscription
                        scheduler.wakeup()
            except (RedisError, OSError) as exc:
                log.warning("scheduler: wake-up channel interrupted (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(1.0)
    finally:
        await client.aclose()


def _run_from(event: Any) -> JobRun:
    now = datetime.now(UTC)
    scheduled = getattr(event, "scheduled_run_time", None)
    if event.code == EVENT_JOB_ERROR:
        error = event.exception
        return JobRun(event.job_id, scheduled, now, "error", f"{type(error).__name__}: {error}")
    if event.code == EVENT_JOB_MISSED:
        return JobRun(event.job_id, scheduled, now, "missed", "later than misfire_grace_time")
    retval = event.retval
    outcome: Outcome = (
        "handed_back"
        if isinstance(retval, builtin.HandedBack)
        else "retrying"
        if isinstance(retval, builtin.RetryScheduled)
        else "missed"
        if isinstance(retval, builtin.TooLate)
        else "ok"
    )
    return JobRun(event.job_id, scheduled, now, outcome, "" if retval is None else str(retval))


def _info(job: Job) -> JobInfo:
    return JobInfo(
        id=str(job.id),
        name=str(job.name),
        func=str(job.func_ref),
        trigger=str(job.trigger),
        next_run_time=getattr(job, "next_run_time", None),
    )
