"""The settings the live commands need: the API key and base URL, read like the bot reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from linq import AsyncLinqAPIV3

from linqbot.config import load_config

NOT_RECEIVING = "not-used:this-command-never-receives-webhooks"
"""Stands in for the signing secret where a command only calls the API."""


@dataclass(frozen=True)
class ApiSettings:
    api_key: str
    base_url: str
    phone_number: str | None

    def sdk(self, timeout: float = 30.0) -> AsyncLinqAPIV3:
        """An SDK client with its own retries off: a command should report a failure, not hide it for a minute."""
        return AsyncLinqAPIV3(api_key=self.api_key, base_url=self.base_url, max_retries=0, timeout=timeout)


def api_settings(env_file: str | Path | None = ".env") -> ApiSettings:
    """``LINQ_API_KEY``, ``LINQ_BASE_URL``, ``LINQ_PHONE_NUMBER`` from the environment or ``.env``.

    The signing secret is not required: ``webhooks register`` is how one gets it. Raises `ConfigError`.
    """
    config = load_config(webhook_secret=NOT_RECEIVING, env_file=env_file)
    return ApiSettings(config.api_key, config.base_url, config.phone_number)


def webhook_secrets(env_file: str | Path | None = ".env") -> tuple[str, ...]:
    """``LINQ_WEBHOOK_SECRET`` (comma-separated while rotating); raises `ConfigError` when unset or truncated."""
    return load_config(api_key=NOT_RECEIVING, env_file=env_file).webhook_secrets
