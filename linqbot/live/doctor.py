"""``linqbot doctor``: check, against the real API, everything a bot needs to go live, with a fix for each failure."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import linq
from standardwebhooks.webhooks import Webhook

from linqbot.config import ConfigError
from linqbot.live.settings import ApiSettings, api_settings, webhook_secrets
from linqbot.live.webhooks import PINNED_VERSION, is_pinned, list_subscriptions
from linqbot.redact import mask_secret

MIN_SECRET_BYTES = 24


@dataclass(frozen=True)
class Check:
    """One line of the report: ✓ or ✗, what was found, and for a ✗ what to do about it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def render(self) -> str:
        line = f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"
        return line if self.ok or not self.fix else f"{line}\n    fix: {self.fix}"


def _same_endpoint(a: str, b: str) -> bool:
    first, second = urlsplit(a), urlsplit(b)
    return (first.scheme, first.netloc, first.path.rstrip("/")) == (
        second.scheme,
        second.netloc,
        second.path.rstrip("/"),
    )


async def check_account(settings: ApiSettings, url: str | None = None) -> list[Check]:
    """Auth, lines and their reputation, subscriptions (and one for ``url``, when given): one API session."""
    async with settings.sdk(timeout=15.0) as sdk:
        try:
            lines = (await sdk.phone_numbers.list()).phone_numbers
        except linq.AuthenticationError:
            return [
                Check("api key", False, "Linq refused LINQ_API_KEY (401)", "copy the key again from the Linq dashboard")
            ]
        except linq.APIConnectionError as exc:
            return [Check("api key", False, f"cannot reach {settings.base_url}: {exc}", "check LINQ_BASE_URL")]
        checks = [Check("api key", True, f"accepted by {settings.base_url}")]
        checks.extend(_line_checks(lines, settings.phone_number))
        subscriptions = await list_subscriptions(sdk)
    checks.extend(_subscription_checks(subscriptions))
    if url is not None and not any(_same_endpoint(sub.target_url, url) for sub in subscriptions):
        checks.append(
            Check(
                "webhook for --url", False, f"no subscription delivers to {url}", f"`linqbot webhooks register {url}`"
            )
        )
    return checks


def _line_checks(lines: Sequence[Any], configured: str | None) -> list[Check]:
    if not lines:
        return [Check("lines", False, "the account has no phone lines", "ask Linq to assign a line to this account")]
    numbers = [line.phone_number for line in lines]
    checks = [Check("lines", True, f"{len(lines)} line(s): {', '.join(numbers)}")]
    if configured and configured not in numbers:
        checks.append(
            Check(
                "LINQ_PHONE_NUMBER",
                False,
                f"{configured} is not one of this account's lines",
                f"set LINQ_PHONE_NUMBER to one of {', '.join(numbers)} (or unset it to let Linq pick)",
            )
        )
    for line in lines:
        reputation = line.reputation.status.upper()
        fixes = {
            "AT_RISK": "slow the send pace and open fewer new conversations until it is HEALTHY again",
            "CRITICAL": "pause outbound on this line (linqbot's health safeguard only lets replies out)",
        }
        checks.append(
            Check(f"line {line.phone_number}", reputation == "HEALTHY", reputation, fixes.get(reputation, ""))
        )
    return checks


def _subscription_checks(subscriptions: Sequence[Any]) -> list[Check]:
    register = "run `linqbot webhooks register https://YOUR-HOST/webhook`"
    if not subscriptions:
        return [Check("webhooks", False, "no webhook subscription: the bot will never hear from Linq", register)]
    checks = []
    for sub in subscriptions:
        problems, fixes = [], []
        if not sub.is_active:
            problems.append("inactive")
            fixes.append(f"`linqbot webhooks update {sub.id} --enable`")
        if urlsplit(sub.target_url).scheme != "https":
            problems.append("not https")
            fixes.append(f"serve the bot over https and `linqbot webhooks update {sub.id} --url https://…`")
        if not is_pinned(sub.target_url):
            problems.append(f"payload version not pinned to {PINNED_VERSION}")
            fixes.append(f"`linqbot webhooks update {sub.id} --url {sub.target_url}` (pins it)")
        if "message.received" not in sub.subscribed_events:
            problems.append("does not receive message.received")
            fixes.append(f"`linqbot webhooks update {sub.id} --events message.received,…`")
        detail = f"{sub.target_url} ({len(sub.subscribed_events)} event types)"
        if problems:
            detail += ": " + "; ".join(problems)
        checks.append(Check(f"webhook {sub.id}", not problems, detail, "; ".join(fixes)))
    if not any(check.ok for check in checks):
        checks.append(Check("webhooks", False, "no healthy subscription delivers messages to the bot", register))
    return checks


def check_secret(env_file: str | Path | None) -> tuple[Check, tuple[str, ...]]:
    """The secret's presence and shape; whether it is the subscription's can only be shown by a signed delivery."""
    try:
        secrets = webhook_secrets(env_file)
    except ConfigError as exc:
        return Check("signing secret", False, str(exc), "set LINQ_WEBHOOK_SECRET (see `linqbot webhooks register`)"), ()
    for secret in secrets:
        if not secret.startswith("whsec_"):
            continue  # legacy secrets have no checkable shape
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            key = b""
        if len(key) < MIN_SECRET_BYTES:
            return (
                Check(
                    "signing secret",
                    False,
                    f"{mask_secret(secret)} is not a whole whsec_ secret (base64 of {MIN_SECRET_BYTES}+ bytes)",
                    "copy the signing_secret again; if it is lost, register a new subscription and delete the old",
                ),
                secrets,
            )
    shown = ", ".join(mask_secret(s) for s in secrets)
    note = "well-formed; Linq never reveals it again, so whether it is the subscription's cannot be checked remotely"
    return Check("signing secret", True, f"{shown} {note}"), secrets


async def check_reachability(url: str, secrets: Sequence[str], timeout: float = 10.0) -> list[Check]:
    """An unsigned POST must get 401 (the URL is a verifying linqbot webhook); a POST signed with the local secret
    and a non-event body must get 400 (the deployed bot has the same secret), and neither reaches a handler."""
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
        try:
            unsigned = await http.post(url, content=b"{}", headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            return [Check("reachable", False, f"POST {url} failed: {exc!r}", "is the bot running and the URL public?")]
        if unsigned.status_code != 401:
            hint = {
                404: "the path is wrong: linqbot serves POST /webhook",
                200: "it accepted an unsigned request: this is not a signature-checking linqbot webhook",
            }.get(unsigned.status_code, "point the subscription at the bot's POST /webhook URL")
            detail = f"an unsigned POST got {unsigned.status_code}, a linqbot webhook answers 401"
            return [Check("reachable", False, detail, hint)]
        checks = [Check("reachable", True, f"{url} answers 401 to an unsigned POST")]
        signable = [s for s in secrets if s.startswith("whsec_")]
        if not signable:
            return checks
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": "linqbot-doctor-probe",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(signable[0]).sign("linqbot-doctor-probe", now, "{}"),
        }
        signed = await http.post(url, content=b"{}", headers=headers)
        if signed.status_code == 400:
            checks.append(Check("secret matches the bot", True, "the bot accepts signatures made with your secret"))
        else:
            checks.append(
                Check(
                    "secret matches the bot",
                    False,
                    f"a POST signed with your LINQ_WEBHOOK_SECRET got {signed.status_code}, expected 400",
                    "the deployed bot runs with a different LINQ_WEBHOOK_SECRET than this machine",
                )
            )
        return checks


async def run_checks(*, env_file: str | Path | None = ".env", url: str | None = None) -> list[Check]:
    """Every check, in the order a person would fix them."""
    try:
        settings = api_settings(env_file)
    except ConfigError as exc:
        checks = [Check("settings", False, str(exc), "set LINQ_API_KEY in the environment or .env")]
    else:
        checks = await check_account(settings, url)
    secret_check, secrets = check_secret(env_file)
    checks.append(secret_check)
    if url is not None:
        checks.extend(await check_reachability(url, secrets))
    return checks
