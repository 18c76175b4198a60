"""Fault injection: request errors/latency by method+path, 429 storms, webhook duplicates/reordering/delays.

Every random choice comes from one ``random.Random(seed)``, so a seeded run is reproducible.
"""

import fnmatch
import random

from pydantic import BaseModel, Field


class FaultRule(BaseModel):
    """Applies to requests whose method and path match the (fnmatch) patterns."""

    method: str = "*"
    path: str = "/api/partner/v3/*"
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=503, ge=500, le=599)
    latency_ms: int = Field(default=0, ge=0, le=60_000)


class FaultConfig(BaseModel):
    """The whole fault set; ``POST /_emulator/faults`` replaces it, ``DELETE`` clears it."""

    seed: int | None = None
    rules: list[FaultRule] = Field(default_factory=list)
    rate_limit_storm: int = Field(default=0, ge=0)
    storm_retry_after: int = Field(default=1, ge=1)
    message_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    message_failure_code: int = Field(default=4001, ge=4000, le=4999)
    webhook_duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    webhook_out_of_order_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    webhook_delay_ms: int = Field(default=0, ge=0, le=60_000)


class Faults:
    """The live fault state: the config plus the seeded RNG and the remaining storm budget."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.storm_left = config.rate_limit_storm

    def chance(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def for_request(self, method: str, path: str) -> list[FaultRule]:
        return [
            rule
            for rule in self.config.rules
            if fnmatch.fnmatchcase(method.upper(), rule.method.upper()) and fnmatch.fnmatchcase(path, rule.path)
        ]

    def take_storm(self) -> int | None:
        """Consume one 429 from a storm; returns the Retry-After to use, or None when no storm is active."""
        if self.storm_left <= 0:
            return None
        self.storm_left -= 1
        return self.config.storm_retry_after
