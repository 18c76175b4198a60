"""``Bot.run()``'s default logging: the bot's own lines on stderr, not one httpx line per API call."""

from __future__ import annotations

import subprocess
import sys

PROCESS = """
import logging, httpx
from linqbot.observability import configure_logging

{before}
configure_logging()
with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as client:
    client.post("http://linq.test/api/partner/v3/chats")
logging.getLogger("linqbot").info("linqbot ready")
"""


def stderr_of(before: str = "") -> str:
    """A fresh process, so logging is configured the way ``linqbot run`` finds it: not at all."""
    done = subprocess.run(
        [sys.executable, "-c", PROCESS.format(before=before)], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stderr


def test_api_calls_are_not_logged_but_the_bots_lines_are() -> None:
    stderr = stderr_of()

    assert "linqbot ready" in stderr
    assert "HTTP Request" not in stderr


def test_a_level_the_user_gave_httpx_is_kept() -> None:
    stderr = stderr_of(before='logging.getLogger("httpx").setLevel(logging.INFO)')

    assert "HTTP Request: POST http://linq.test/api/partner/v3/chats" in stderr
