"""A bot's scheduler: APScheduler 3's ``AsyncIOScheduler`` over a SQLAlchemy or Redis job store, plus a run log.

Jobs are stored by reference (``module:function``) with pickled arguments, so they survive restarts; decorated jobs
are re-registered at start-up under stable ids, replacing (never duplicating) the stored copy.

When the bot's inbox is on Redis (several processes), the jobs live in that Redis too and only the process holding
``bot.leadership("scheduler")`` runs them; the others add, list and cancel jobs in the shared store and wake the
leader through a Redis channel. Scheduled messages stay stored until sent (see `delivery`), so a leader that dies
mid-send loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from apscheduler.events import (  # type: ignore[import-untyped]
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    EVENT_SCHEDULER_SHUTDOWN,
)
from apscheduler.executors.asyncio import AsyncIOExecutor  # type: ignore[import-untyped]
from apscheduler.job import Job  # type: ignore[import-untyped]
from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from apscheduler.util import obj_to_ref, ref_to_obj  # type: ignore[import-untyped]
from redis.exceptions import RedisError

from linqbot.inbox.redis_store import DEFAULT_PREFIX, RedisStore
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

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MISFIRE_GRACE = 300
"""Seconds a run may be late (the bot was down or busy) and still happen; later runs are recorded as missed."""
DEFAULT_MAX_CONCURRENT_SENDS = 16
"""Sends from jobs under way at once; more wait their turn instead of piling up in the HTTP pool and timing out."""
LEADERSHIP_CHECK = 0.25
"""Seconds between looks at whether this process (still) leads; leadership itself is a Redis lease."""
OUTCOME_EVENTS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


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


class _RunMarkingExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs coroutine jobs as tasks that know which scheduler started them (`jobs.executing`)."""

    def __init__(self, owner: BotScheduler) -> None:
        super().__init__()
        self._owner = owner

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        token = builtin.executing.set(self._owner)
        try:
            super()._do_submit_job(job, run_times)
        finally:
            builtin.executing.reset(token)


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
        self._waiters: list[tuple[str, asyncio.Future[JobRun]]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._stopped = asyncio.Event()
        self._leading: asyncio.Task[None] | None = None
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
            outcome = asyncio.ensure_future(self.wait_for_run(job.id, timeout))
            await asyncio.sleep(0)  # the waiter must be registered before the job can finish
            self.run_now(job.id)
            outcomes.append(await outcome)
        return outcomes

    async def wait_for_run(self, job_id: str, timeout: float = 10.0) -> JobRun:
        """The next outcome recorded for ``job_id`` after this call (for tests and scripts that await a job)."""
        future: asyncio.Future[JobRun] = asyncio.get_running_loop().create_future()
        entry = (job_id, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
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
        scheduler = AsyncIOScheduler(
            jobstores={"default": backend.job_store()},
            executors={"default": _RunMarkingExecutor(self)},
            job_defaults={
                "misfire_grace_time": self.misfire_grace_time,
                "coalesce": self.coalesce,
                "max_instances": 1,
            },
            timezone=self.timezone,
        )
        scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | OUTCOME_EVENTS | EVENT_SCHEDULER_SHUTDOWN)
        self._in_flight = 0
        self._idle.set()
        self._stopped.clear()
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
            self._leading = asyncio.get_running_loop().create_task(self._lead(scheduler, backend))
        else:
            scheduler.resume()
        log.info("scheduler started with %d stored jobs", len(scheduler.get_jobs()))
        return scheduler

    async def _lead(self, scheduler: AsyncIOScheduler, backend: Backend) -> None:
        """Run jobs exactly while this process holds the scheduler leadership (a Redis lease)."""
        leadership = self.bot.leadership("scheduler")
        await leadership.start()
        wakeups = (
            asyncio.get_running_loop().create_task(_relay_wakeups(backend, scheduler))
            if isinstance(backend, RedisBackend)
            else None
        )
        try:
            while True:
                if leadership.is_leader and scheduler.state == STATE_PAUSED and self._armed:
                    log.info("scheduler: this process leads and runs the scheduled jobs")
                    scheduler.resume()
                elif not leadership.is_leader and scheduler.state == STATE_RUNNING:
                    log.warning("scheduler: leadership lost; another process runs the scheduled jobs")
                    scheduler.pause()
                await asyncio.sleep(LEADERSHIP_CHECK)
        finally:
            if wakeups is not None:
                wakeups.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await wakeups
            await leadership.stop()

    def _close(self) -> None:
        self.apscheduler = None
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
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
            self._leading = None
        if self.run_log is not None:
            self.run_log.flush()  # while the job store's engine (which shutdown disposes) still holds the database
        scheduler.shutdown(wait=False)
        await self._stopped.wait()  # AsyncIOScheduler shuts down on the next loop turn
        self._close()

    async def bound_sends(self, call: OutboundCall, call_next: Next) -> Any:
        """Outbound middleware (inside pacing, so a send held for its pair takes no slot): at most
        ``max_concurrent_sends`` sends from this scheduler's jobs are under way at once."""
        if not call.is_send or builtin.executing.get(None) is not self:
            return await call_next(call)
        async with self._send_slots:
            return await call_next(call)

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
        self._in_flight = max(self._in_flight - 1, 0)
        if self._in_flight == 0:
            self._idle.set()
        run = _run_from(event)
        retry = getattr(event, "retval", None)
        if isinstance(retry, builtin.RetryScheduled) and not self._retry_later(run.job_id, retry):
            run = replace(run, outcome="error", detail=f"{run.detail}; cancelled meanwhile")
        if run.outcome == "missed":
            log.warning("job %s missed its run at %s (later than misfire_grace_time)", run.job_id, run.scheduled_for)
        if self.run_log is not None:
            self.run_log.record(run)
        for job_id, future in list(self._waiters):
            if job_id == run.job_id and not future.done():
                future.set_result(run)


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
        "retrying"
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
