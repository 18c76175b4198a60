"""Outbound: every call linqbot makes to Linq, through middleware, retries and typed errors."""

from .client import LinqClient
from .content import build_message
from .errors import (
    ChatUnavailable,
    Conflict,
    InvalidRequest,
    LineIneligible,
    LinqAPIError,
    LinqConnectionError,
    NotFound,
    OptedOut,
    RateLimited,
    RecipientBlocked,
    RecipientNotAllowed,
    ServerError,
    Unauthorized,
    from_sdk_error,
)
from .pipeline import OutboundCall, OutboundChain, OutboundMiddleware
from .retry import RetryPolicy, call_with_retry

__all__ = [
    "ChatUnavailable",
    "Conflict",
    "InvalidRequest",
    "LineIneligible",
    "LinqAPIError",
    "LinqClient",
    "LinqConnectionError",
    "NotFound",
    "OptedOut",
    "OutboundCall",
    "OutboundChain",
    "OutboundMiddleware",
    "RateLimited",
    "RecipientBlocked",
    "RecipientNotAllowed",
    "RetryPolicy",
    "ServerError",
    "Unauthorized",
    "build_message",
    "call_with_retry",
    "from_sdk_error",
]
