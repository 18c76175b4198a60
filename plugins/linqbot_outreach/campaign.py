"""A campaign: recipients + template + sending window + pacing, sent through ``bot.send`` so every gate applies.

Each person is messaged at most once: their state is committed before and after the send, and the send carries the
idempotency key ``outreach:<campaign id>:<handle>``, so a run resumed after a crash never messages anyone twice.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from linqbot.middleware import (
    BudgetExhausted,
    ChatHealthHold,
    Clock,
    LineHold,
    NonResponderHold,
    SafeguardHold,
    SystemClock,
)
from linqbot.middleware.errors import LeadershipLost
from linqbot.outbound import InvalidRequest, LineIneligible, LinqAPIError, OptedOut, RecipientBlocked, Unauthorized
from linqbot.outbound.errors import RecipientNotAllowed
from linqbot.redact import mask_handle
from linqbot_outreach.pacing import Pacer, Pacing
from linqbot_outreach.recipients import Recipient, is_valid_handle, load_recipients
from linqbot_outreach.store import CampaignStore, RecipientState, Status
from linqbot_outreach.template import MessageTemplate
from linqbot_outreach.window import SendingWindow

if TYPE_CHECKING:
    from linqbot.bot import Bot

log = logging.getLogger("linqbot.outreach")

SKIP: tuple[type[Exception], ...] = (
    OptedOut,
    RecipientBlocked,
    RecipientNotAllowed,
    InvalidRequest,
    NonResponderHold,
    ChatHealthHold,
)
"""Refusals about this one person: record the reason and go on to the next."""

STOP: tuple[type[Exception], ...] = (BudgetExhausted, LineHold, LineIneligible, Unauthorized)
"""Refusals about the line or account: every further send would fail too, so the run stops (resumable later)."""


class CampaignInvalid(ValueError):
    """The campaign cannot start; ``problems`` lists every issue found (nothing was sent)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"campaign not started, {len(problems)} problem(s):\n  {shown}{more}")


@dataclass(frozen=True)
class CampaignStatus:
    """Where a campaign stands: counts per recipient state."""

    campaign_id: str
    total: int
    pending: int
    sending: int
    sent: int
    skipped: int
    failed: int

    @property
    def done(self) -> int:
        return self.sent + self.skipped + self.failed


@dataclass
class Report:
    """How a run ended: who was sent, skipped and why, failed and why, and who is still waiting for their window."""

    campaign_id: str
    sent: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    stopped: str | None = None
    """Why the run stopped early (a line-wide refusal such as a used-up budget); ``None`` when it ran through."""

    def summary(self) -> str:
        lines = [f"campaign {self.campaign_id}: {len(self.sent)} sent"]
        for title, groups in (("skipped", self.skipped), ("failed", self.failed), ("waiting", self.waiting)):
            for reason, handles in groups.items():
                lines.append(f"  {title} {len(handles)}: {reason}")
        if self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        return "\n".join(lines)


def build_report(store: CampaignStore, campaign_id: str, stopped: str | None = None) -> Report:
    """The report from the stored state (``linqbot outreach report`` uses it after the fact)."""
    report = Report(campaign_id, stopped=stopped)
    for state in store.recipients(campaign_id):
        if state.status == "sent":
            report.sent.append(state.handle)
        elif state.status in ("skipped", "failed"):
            groups = report.skipped if state.status == "skipped" else report.failed
            groups.setdefault(state.reason, []).append(state.handle)
        else:
            report.waiting.setdefault(state.reason or "not sent yet", []).append(state.handle)
    return report


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe(error: Exception) -> str:
    """A reason for the report: the error class and Linq code, never the person."""
    if isinstance(error, LinqAPIError):
        return (
            f"{type(error).__name__} (code {error.code})" if error.code else f"{type(error).__name__} ({error.status})"
        )
    return type(error).__name__


class Campaign:
    """Message a list of people once each, conversationally paced, within their local sending hours."""

    def __init__(
        self,
        bot: Bot,
        *,
        id: str,
        recipients: Sequence[Recipient] | str | Path,
        template: str | MessageTemplate,
        window: SendingWindow | None = None,
        default_timezone: str | None = None,
        pacing: Pacing | None = None,
        store: CampaignStore | str | Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not id or not id.strip():
            raise ValueError("a campaign needs an id (it keys the resumable state)")
        self.bot = bot
        self.id = id
        self.recipients = (
            list(recipients)
            if isinstance(recipients, Sequence) and not isinstance(recipients, str)
            else load_recipients(recipients)
        )
        self.template = template if isinstance(template, MessageTemplate) else MessageTemplate(template)
        self.window = window or SendingWindow()
        self.default_timezone = default_timezone
        self.pacing = pacing or Pacing()
        self.store = store if isinstance(store, CampaignStore) else CampaignStore(store)
        self.clock: Clock = clock or SystemClock()

    @classmethod
    def from_file(cls, bot: Bot, path: str | Path, **overrides: Any) -> Campaign:
        """Load ``campaign.toml`` (see docs/outreach.md); ``recipients`` is resolved next to the file."""
        source = Path(path)
        try:
            spec = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CampaignInvalid([f"cannot read {source}: {exc}"]) from exc
        missing = [key for key in ("id", "recipients", "template") if key not in spec]
        if missing:
            raise CampaignInvalid([f"{source} is missing {', '.join(missing)}"])
        window = spec.get("window", {})
        pacing = spec.get("pacing", {})
        options: dict[str, Any] = {
            "id": spec["id"],
            "recipients": source.parent / spec["recipients"],
            "template": MessageTemplate(spec["template"], spec.get("template_style", "format")),
            "window": SendingWindow.parse(f"{window.get('start', '09:00')}-{window.get('end', '20:00')}"),
            "default_timezone": window.get("timezone"),
            "pacing": Pacing(per_minute=pacing.get("per_minute", 10), per_hour=pacing.get("per_hour")),
        }
        return cls(bot, **{**options, **overrides})

    # -- checking ----------------------------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise `CampaignInvalid` listing every bad row, missing field and unknown time zone."""
        problems: list[str] = []
        if not self.recipients:
            problems.append("no recipients")
        if self.default_timezone is not None:
            try:
                ZoneInfo(self.default_timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"unknown default time zone {self.default_timezone!r}")
        seen: dict[str, int] = {}
        for person in self.recipients:
            where = f"row {person.row}" if person.row else f"recipient {mask_handle(person.handle)}"
            if not is_valid_handle(person.handle):
                problems.append(f"{where}: {person.handle!r} is not an E.164 phone number or an email address")
            elif person.handle in seen:
                problems.append(
                    f"{where}: {mask_handle(person.handle)} is listed twice (first at row {seen[person.handle]})"
                )
            seen.setdefault(person.handle, person.row)
            missing = self.template.missing(person.fields)
            if missing:
                problems.append(f"{where}: missing {', '.join(missing)} for the template")
            zone = person.timezone or self.default_timezone
            if zone is None:
                problems.append(f"{where}: no timezone, and the campaign sets no default time zone")
            elif zone != self.default_timezone:
                try:
                    ZoneInfo(zone)
                except (ZoneInfoNotFoundError, ValueError):
                    problems.append(f"{where}: unknown time zone {zone!r}")
            if not missing:
                try:
                    self.template.render(person.fields)
                except (KeyError, ValueError, IndexError, AttributeError) as exc:
                    problems.append(f"{where}: the template cannot be filled in ({type(exc).__name__}: {exc})")
        if problems:
            raise CampaignInvalid(problems)

    def preview(self, count: int = 3) -> list[str]:
        """The first few messages as people will read them."""
        self.validate()
        return [self.template.render(p.fields) for p in self.recipients[:count]]

    # -- progress ----------------------------------------------------------------------------------------------

    async def status(self) -> CampaignStatus:
        counts = self.store.counts(self.id)
        return CampaignStatus(self.id, sum(counts.values()), **counts)

    def report(self, stopped: str | None = None) -> Report:
        return build_report(self.store, self.id, stopped)

    # -- sending -----------------------------------------------------------------------------------------------

    async def run(
        self,
        *,
        wait_for_window: bool = True,
        retry_failed: bool = False,
        on_progress: Callable[[CampaignStatus], Any] | None = None,
    ) -> Report:
        """Send to everyone not yet messaged; returns the report. Safe to call again after a crash or a stop.

        ``wait_for_window``: keep running (sleeping on the clock) until every recipient's window has opened; when
        False, people outside their window stay pending and a later run sends to them.
        """
        self.validate()
        self.store.enrol(self.id, self.template.text, self.recipients, self.clock.now())
        if retry_failed:
            self.store.retry_failed(self.id)
        pacer = Pacer(self.pacing, self.clock)
        fields = {p.handle: p for p in self.recipients}
        stopped: str | None = None
        try:
            while todo := self.store.recipients(self.id, ("pending", "sending")):
                now = self._now()
                due = [s for s in todo if self.window.is_open(now, self._zone(s))]
                if not due:
                    opens = {s.handle: self.window.opens_at(now, self._zone(s)) for s in todo}
                    if not wait_for_window:
                        for state in todo:
                            self.store.note(
                                self.id,
                                state.handle,
                                f"outside sending window until {_local(opens[state.handle], self._zone(state))}",
                            )
                        break
                    await self.clock.sleep((min(opens.values()) - now).total_seconds())
                    continue
                for state in due:
                    await pacer.wait()
                    if not self.window.is_open(self._now(), self._zone(state)):
                        continue  # the wait ran into their quiet hours; the outer loop reconsiders them
                    person = fields.get(state.handle)
                    await self._send(state, person.fields if person is not None else state.fields)
                    pacer.record()
                    if on_progress is not None:
                        on_progress(await self.status())
        except _Stop as stop:
            stopped = stop.reason
            log.warning("campaign %s stopped: %s", self.id, stop.reason)
        if stopped is None and not self.store.recipients(self.id, ("pending", "sending")):
            self.store.finish(self.id, self.clock.now())
        return self.report(stopped)

    async def _send(self, state: RecipientState, values: dict[str, str]) -> None:
        handle = state.handle
        text = self.template.render(values)
        self.store.mark(self.id, handle, "sending", self.clock.now())
        outcome: Status
        try:
            result = await self.bot.send(handle, text, idempotency_key=f"outreach:{self.id}:{handle}")
        except STOP as error:
            self.store.mark(self.id, handle, "pending", self.clock.now(), describe(error))
            raise _Stop(describe(error)) from error
        except LeadershipLost as error:  # run from a scheduled job whose process no longer leads
            self.store.mark(self.id, handle, "pending", self.clock.now(), describe(error))
            log.warning("campaign %s stopped: this process lost the scheduler leadership", self.id)
            raise LeadershipLost(f"campaign {self.id} stopped; the leader resumes it", resumable=True) from error
        except SKIP as error:
            outcome, reason = "skipped", describe(error)
        except (LinqAPIError, SafeguardHold) as error:
            outcome, reason = "failed", describe(error)
        else:
            chat = getattr(result, "chat", None)
            message = getattr(chat, "message", None) or getattr(result, "message", None)
            self.store.mark(
                self.id,
                handle,
                "sent",
                self.clock.now(),
                message_id=str(getattr(message, "id", "")) or None,
                chat_id=str(getattr(chat, "id", "") or getattr(result, "chat_id", "")) or None,
                sent_at=self.clock.now(),
            )
            log.info("campaign %s: sent to %s", self.id, mask_handle(handle))
            return
        self.store.mark(self.id, handle, outcome, self.clock.now(), reason)
        log.info("campaign %s: %s %s (%s)", self.id, outcome, mask_handle(handle), reason)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def _zone(self, state: RecipientState) -> ZoneInfo:
        return ZoneInfo(state.timezone or self.default_timezone or "UTC")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
