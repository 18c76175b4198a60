"""Going live on a real Linq account: webhook subscriptions, the ``doctor`` check-up and quick manual sends."""

from linqbot.live.doctor import Check, run_checks
from linqbot.live.secrets import SECRET_FILE, save_secret, write_env_secret
from linqbot.live.webhooks import PINNED_VERSION, handled_event_types, pin_version

__all__ = [
    "PINNED_VERSION",
    "SECRET_FILE",
    "Check",
    "handled_event_types",
    "pin_version",
    "run_checks",
    "save_secret",
    "write_env_secret",
]
