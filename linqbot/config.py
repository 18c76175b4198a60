"""Settings from arguments, the environment and a ``.env`` file — checked once, at start-up, with errors that name
the setting at fault.

Precedence: explicit arguments > process environment > ``.env`` file > defaults.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from linqbot.redact import mask_handle

DEFAULT_BASE_URL = "https://api.linqapp.com/api/partner"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

SETTINGS = frozenset(
    {
        "LINQ_API_KEY",
        "LINQ_API_V3_API_KEY",
        "LINQ_WEBHOOK_SECRET",
        "LINQ_BASE_URL",
        "LINQ_API_V3_BASE_URL",
        "LINQ_PHONE_NUMBER",
        "LINQBOT_HOME",
        "LINQBOT_INBOX_URL",
        "LINQBOT_STATE_URL",
        "LINQBOT_SCHEDULER_URL",
        "LINQBOT_OUTREACH_DB",
        "LINQBOT_PLUGINS",
        "LINQBOT_LOG_FORMAT",
        "LINQBOT_ADMIN_TOKEN",
        "LINQBOT_ADMIN_HOST",
    }
)
"""Every environment setting linqbot and its first-party plugins read: a name close to one of them is a typo."""

log = logging.getLogger("linqbot.config")
_reported: set[str] = set()
"""Warnings already given in this process (misspelt names, the secret's shape): settings load once per bot."""


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it and says how to fix it."""


@dataclass(frozen=True)
class Config:
    """Everything linqbot needs to talk to Linq and to accept its webhooks."""

    api_key: str
    webhook_secrets: tuple[str, ...]
    base_url: str = DEFAULT_BASE_URL
    phone_number: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def webhook_secret(self) -> str:
        """The current signing secret (the first of ``webhook_secrets``)."""
        return self.webhook_secrets[0]


def _lookup(environ: Mapping[str, str | None], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value.strip()
    return None


def _misspelt(names: Iterable[str]) -> dict[str, str]:
    """Settings present under a name linqbot does not read but close to one it does: name -> the one meant. Names
    are compared without their prefix (so ``LINQ_INBOX_URL`` finds ``LINQBOT_INBOX_URL``), and closely, to spare a
    plugin's own ``LINQBOT_STATS_URL`` or ``LINQBOT_OUTREACH_DIR``: a slip in a short name (``LINQ_BASE_URI``) goes
    unremarked."""
    by_rest = {_rest(setting): setting for setting in SETTINGS}
    found = {}
    for name in names:
        if name.startswith(("LINQ_", "LINQBOT_")) and name not in SETTINGS:
            close = difflib.get_close_matches(_rest(name), by_rest, n=1, cutoff=0.9)
            if close:
                found[name] = by_rest[close[0]]
    return found


def _rest(name: str) -> str:
    return name.removeprefix("LINQBOT_").removeprefix("LINQ_")


def _missing(setting: str, how: str, misspelt: Mapping[str, str]) -> ConfigError:
    typos = [name for name, meant in misspelt.items() if meant == setting]
    hint = f" ({', '.join(typos)} is set: a typo?)" if typos else ""
    return ConfigError(f"{setting} is not set{hint}: {how}")


def load_config(
    *,
    api_key: str | None = None,
    webhook_secret: str | list[str] | tuple[str, ...] | None = None,
    base_url: str | None = None,
    phone_number: str | None = None,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
) -> Config:
    """Resolve and validate the settings; raise `ConfigError` naming the first bad one.

    ``LINQ_WEBHOOK_SECRET`` may hold several secrets separated by commas while a secret is being rotated.
    """
    merged: dict[str, str | None] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update(dotenv_values(env_file))
    merged.update(os.environ if environ is None else environ)
    misspelt = _misspelt(merged)
    for name, meant in misspelt.items():
        if name not in _reported:
            _reported.add(name)
            log.warning("%s is not a setting linqbot reads; did you mean %s?", name, meant)

    key = api_key or _lookup(merged, "LINQ_API_KEY", "LINQ_API_V3_API_KEY")
    if not key:
        how = "pass Bot(api_key=...) or set LINQ_API_KEY (or LINQ_API_V3_API_KEY)"
        raise _missing("LINQ_API_KEY", how, misspelt)
    if any(ch.isspace() for ch in key):
        raise ConfigError("LINQ_API_KEY contains whitespace; copy the key exactly as Linq issued it")

    if webhook_secret is None:
        raw = _lookup(merged, "LINQ_WEBHOOK_SECRET")
        secrets = tuple(s.strip() for s in raw.split(",") if s.strip()) if raw else ()
    elif isinstance(webhook_secret, str):
        secrets = (webhook_secret,)
    else:
        secrets = tuple(webhook_secret)
    if not secrets:
        how = (
            "it is the signing_secret returned once when the webhook subscription was created "
            "(`linqbot webhooks register URL` prints it)"
        )
        raise _missing("LINQ_WEBHOOK_SECRET", how, misspelt)
    for secret in secrets:
        if secret.startswith("whsec_") and len(secret) < 12:
            raise ConfigError("LINQ_WEBHOOK_SECRET looks truncated: a whsec_ secret carries base64 after the prefix")
    unlike_linqs = webhook_secret is None and not all(secret.startswith("whsec_") for secret in secrets)
    if unlike_linqs and "not whsec_" not in _reported:  # (a secret passed in code is the caller's own choice)
        _reported.add("not whsec_")  # a warning, not an error: any string is a valid HMAC key, only unusual here
        log.warning(
            "LINQ_WEBHOOK_SECRET does not look like a Linq signing secret (whsec_ followed by base64): deliveries "
            "will be rejected unless it is exactly what Linq returned when the subscription was created"
        )

    url = (base_url or _lookup(merged, "LINQ_BASE_URL", "LINQ_API_V3_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"LINQ_BASE_URL must be an http(s) URL like {DEFAULT_BASE_URL}, got {url!r}")
    if url.endswith("/v3"):
        raise ConfigError(f"LINQ_BASE_URL is the API root without /v3 (like {DEFAULT_BASE_URL}), got {url!r}")

    line = phone_number or _lookup(merged, "LINQ_PHONE_NUMBER")
    if line is not None and not E164.match(line):
        raise ConfigError(f"LINQ_PHONE_NUMBER must be E.164 like +15551234567, got {mask_handle(line)!r}")

    extra = {k: v for k, v in merged.items() if k.startswith("LINQBOT_") and v is not None}
    return Config(api_key=key, webhook_secrets=secrets, base_url=url, phone_number=line, extra=extra)
