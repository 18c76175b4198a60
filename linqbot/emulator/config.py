"""Every tunable of the emulator in one place, with the dev defaults documented in docs/emulator.md."""

from dataclasses import dataclass, field
from typing import Literal

from linqbot.emulator.faults import FaultConfig

DEFAULT_API_KEY = "dev-key"
DEFAULT_LINE = "+15550000001"
DEFAULT_PARTNER_ID = "00000000-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class LineSpec:
    """One provisioned line (phone number) of the emulated partner account."""

    phone_number: str
    line_type: Literal["iMessage", "RCS"] = "iMessage"


@dataclass
class EmulatorConfig:
    """Behaviour knobs; times are seconds of real time unless they say "clock" (emulator clock)."""

    api_key: str = DEFAULT_API_KEY
    lines: list[LineSpec] = field(default_factory=lambda: [LineSpec(DEFAULT_LINE)])
    partner_id: str = DEFAULT_PARTNER_ID
    # Outbound lifecycle: queued -> sent -> delivered -> read.  read_delay 0 disables auto-read.
    sent_delay: float = 0.02
    delivered_delay: float = 0.05
    read_delay: float = 0.1
    # Webhook delivery retries (compressed schedule for dev: base * 2**n, capped).
    webhook_attempts: int = 10
    webhook_backoff: float = 0.2
    webhook_backoff_max: float = 5.0
    webhook_timeout: float = 5.0
    # First attempts in flight per subscription, across chats (each chat's deliveries stay in order).
    # 1 = one delivery at a time for the whole subscription, in emission order.
    webhook_concurrency: int = 32
    # Rate limits (windows are emulator-clock seconds).
    pair_limit: int = 30
    pair_window: float = 60.0
    capability_limit: int = 60
    capability_window: float = 60.0
    # Chat health: consecutive unanswered outbound messages.
    at_risk_after: int = 5
    critical_after: int = 10
    # Typing indicators expire after this many emulator-clock seconds.
    typing_ttl: float = 60.0
    db_path: str | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if self.webhook_concurrency < 1:
            raise ValueError(f"webhook_concurrency must be at least 1, got {self.webhook_concurrency}")
