"""Keep the one-time webhook signing secret on disk where only its owner can read it."""

from __future__ import annotations

import os
import re
from pathlib import Path

SECRET_FILE = Path(".linqbot") / "webhook-secret"
"""Where ``linqbot webhooks register`` saves the signing secret (mode 0600), relative to the working directory."""

_ENV_LINE = re.compile(r"^\s*(export\s+)?LINQ_WEBHOOK_SECRET\s*=")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only, also when the file already existed wider open."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def save_secret(secret: str, path: Path = SECRET_FILE) -> Path:
    """Save the signing secret alone in ``path`` (mode 0600); returns the path."""
    _write_private(path, secret + "\n")
    return path


def write_env_secret(secret: str, env_file: Path = Path(".env")) -> Path:
    """Set ``LINQ_WEBHOOK_SECRET`` in ``env_file``: replace an existing line, else append one; the file ends 0600."""
    lines = env_file.read_text().splitlines() if env_file.is_file() else []
    entry = f"LINQ_WEBHOOK_SECRET={secret}"
    replaced = [entry if _ENV_LINE.match(line) else line for line in lines]
    if entry not in replaced:
        replaced.append(entry)
    _write_private(env_file, "\n".join(replaced) + "\n")
    return env_file
