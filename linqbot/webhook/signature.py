"""Webhook signature verification: Standard Webhooks (v1) and Linq's legacy ``X-Webhook-*`` scheme.

Linq sends both header sets on every delivery. We accept whichever verifies, preferring Standard Webhooks.
Several secrets may be configured at once so a signing-secret rotation never drops a delivery.

The legacy scheme's HMAC key is undocumented for ``whsec_`` secrets; we key it with the full secret string
encoded as UTF-8 (what Linq's docs example does) — see docs/webhooks.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """A delivery failed verification; ``reason`` is safe to return to the caller (no secret material), ``hint``
    tells the bot's owner what to check (logged, never sent back)."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


_WRONG_SECRET = "is LINQ_WEBHOOK_SECRET the signing_secret of the subscription sending this?"
_WRONG_CLOCK = "is this machine's clock right?"


@dataclass(frozen=True, slots=True)
class _Secret:
    standard_key: bytes
    legacy_key: bytes


@dataclass(frozen=True, slots=True)
class _Keyed:
    """One secret's HMACs with the key already absorbed: a check copies one instead of re-keying and re-fetching
    SHA-256 from OpenSSL's provider (7k of a check's 65k instructions; most of the rest hashes the body)."""

    standard: hmac.HMAC
    legacy: hmac.HMAC

    @classmethod
    def of(cls, secret: _Secret) -> _Keyed:
        return cls(
            hmac.new(secret.standard_key, digestmod=hashlib.sha256),
            hmac.new(secret.legacy_key, digestmod=hashlib.sha256),
        )


def _digest(keyed: hmac.HMAC, message: bytes) -> bytes:
    mac = keyed.copy()
    mac.update(message)
    return mac.digest()


def _parse_secret(secret: str) -> _Secret:
    if not secret:
        raise ValueError("webhook secret is empty")
    legacy_key = secret.encode()
    if secret.startswith("whsec_"):
        try:
            standard_key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error as exc:
            raise ValueError("webhook secret starts with whsec_ but is not valid base64") from exc
    else:
        standard_key = legacy_key
    return _Secret(standard_key, legacy_key)


class Verifier:
    """Checks a raw request body against its signature headers.

    ``secrets`` lists every secret currently accepted (new and old during a rotation window).
    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance: int = TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secrets:
            raise ValueError("at least one webhook secret is required")
        self._secrets = [_Keyed.of(_parse_secret(s)) for s in secrets]
        self._tolerance = tolerance
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return silently when ``body`` is authentic and fresh; raise `SignatureError` otherwise."""
        if (signature := headers.get("webhook-signature")) is not None:
            self._verify_standard(headers, signature, body)
        elif (signature := headers.get("x-webhook-signature")) is not None:
            self._verify_legacy(headers, signature, body)
        else:
            raise SignatureError("missing signature headers (webhook-signature or x-webhook-signature)")

    def _check_timestamp(self, raw: str | None, header: str) -> bytes:
        """The timestamp as signed (its header's bytes), once it is within ``tolerance`` of now."""
        if not raw:
            raise SignatureError(f"missing {header} header")
        try:
            timestamp = int(raw)
        except ValueError:
            raise SignatureError(f"{header} is not a unix timestamp") from None
        skew = self._clock() - timestamp
        if skew > self._tolerance:
            raise SignatureError("timestamp too old", _WRONG_CLOCK)
        if skew < -self._tolerance:
            raise SignatureError("timestamp too far in the future", _WRONG_CLOCK)
        return raw.encode()

    def _verify_standard(self, headers: Mapping[str, str], signature: str, body: bytes) -> None:
        msg_id = headers.get("webhook-id")
        if not msg_id:
            raise SignatureError("missing webhook-id header")
        timestamp = self._check_timestamp(headers.get("webhook-timestamp"), "webhook-timestamp")
        offered = [entry[3:].encode() for entry in signature.split() if entry.startswith("v1,")]
        if not offered:
            raise SignatureError("no v1 signature in webhook-signature")
        signed = b"%s.%s.%s" % (msg_id.encode(), timestamp, body)
        for secret in self._secrets:
            expected = base64.b64encode(_digest(secret.standard, signed))
            for candidate in offered:
                if hmac.compare_digest(expected, candidate):
                    return
        raise SignatureError("signature mismatch", _WRONG_SECRET)

    def _verify_legacy(self, headers: Mapping[str, str], signature: str, body: bytes) -> None:
        timestamp = self._check_timestamp(headers.get("x-webhook-timestamp"), "x-webhook-timestamp")
        offered = signature.strip().lower().encode()
        signed = b"%s.%s" % (timestamp, body)
        for secret in self._secrets:
            expected = _digest(secret.legacy, signed).hex().encode()
            if hmac.compare_digest(expected, offered):
                return
        raise SignatureError("signature mismatch", _WRONG_SECRET)


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value Linq would send; used by tests and the emulator's clients."""
    key = _parse_secret(secret).standard_key
    digest = hmac.new(key, b"%s.%d.%s" % (msg_id.encode(), timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_legacy(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Webhook-Signature`` value of the legacy scheme."""
    return hmac.new(secret.encode(), b"%d.%s" % (timestamp, body), hashlib.sha256).hexdigest()
