"""Where events enter: the aiohttp webhook endpoint and its signature schemes."""

from linqbot.webhook.signature import SignatureError, Verifier, sign_legacy, sign_standard

__all__ = ["SignatureError", "Verifier", "sign_legacy", "sign_standard"]
