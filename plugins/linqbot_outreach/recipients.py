"""Recipients from a CSV: a ``phone`` column, an optional ``timezone`` column, every other column a template field."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

_PHONE_NOISE = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Recipient:
    """One person to message; ``row`` is their line in the CSV (for error messages), 0 when built in code."""

    handle: str
    fields: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None
    row: int = 0


def normalize_handle(raw: str) -> str:
    """``+1 (555) 010-0002`` → ``+15550100002``; emails are lower-cased."""
    value = raw.strip()
    return value.lower() if "@" in value else _PHONE_NOISE.sub("", value)


def is_valid_handle(handle: str) -> bool:
    """E.164 phone numbers and email addresses (iMessage) are what Linq can message."""
    return bool(_E164.match(handle) or _EMAIL.match(handle))


class RecipientsFileError(ValueError):
    """The CSV cannot be read as a recipient list."""


def load_recipients(path: str | Path) -> list[Recipient]:
    """Read a recipients CSV; rows are checked later, all at once, by ``Campaign.validate``."""
    source = Path(path)
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "phone" not in columns:
                raise RecipientsFileError(f"{source} has no 'phone' column (columns: {', '.join(columns) or 'none'})")
            people = []
            for number, raw in enumerate(reader, start=2):
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                if not any(row.values()):
                    continue
                phone = row.pop("phone")
                timezone = row.pop("timezone", "") or None
                people.append(Recipient(normalize_handle(phone), row, timezone, number))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RecipientsFileError(f"cannot read recipients from {source}: {exc}") from exc
    return people
