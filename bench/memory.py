"""(d) Memory: resident set size for 100k conversation states and 10k pending scheduled jobs.

Each case runs in a fresh interpreter (``python -m bench.memory CASE COUNT`` prints one JSON line), so nothing a
previous case allocated is counted. RSS is read from /proc before filling (the store open, the imports done) and
after. A conversation state is what a flow keeps per chat: the flow's step plus a small record of answers.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

CASES = ("state: MemoryStore", "state: SqliteStore", "scheduler: SQLAlchemy job store")
STATE_TARGET_MB = 200.0


def rss_mb() -> float:
    """This process's resident set size now (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def _fill_state(backend: str, count: int, workdir: Path) -> tuple[float, int]:
    from linqbot_state import MemoryStore, SqliteStore, StateStore

    store: StateStore = MemoryStore() if backend == "memory" else SqliteStore(workdir / "state.db")
    await store.open()
    before = rss_mb()
    for n in range(count):
        chat, person = f"chat-{n:06d}", f"+1555{3000000 + n:07d}"
        await store.set_flow(chat, person, "order.address")
        await store.chat(chat).update({"item": "large latte", "quantity": 2, "started": "2026-05-14T16:02:11Z"})
    found = 0
    for n in range(0, count, max(1, count // 100)):  # spot-check a sample: the states really are there
        found += await store.get_flow(f"chat-{n:06d}", f"+1555{3000000 + n:07d}") == "order.address"
    await store.close()
    return before, found


async def _fill_jobs(count: int, workdir: Path) -> tuple[float, int]:
    from linqbot_scheduler import scheduler_of

    from linqbot import Bot
    from linqbot.middleware import Safeguards

    others = [f"-{ep.name}" for ep in entry_points(group="linqbot") if ep.name != "scheduler"]
    bot = Bot(
        api_key="bench-key",
        base_url="http://127.0.0.1:9/api/partner",
        webhook_secret="bench-secret",
        phone_number="+15550000001",
        env_file=None,
        plugins=others or None,
        safeguards=Safeguards.off(),
    )
    scheduler = scheduler_of(bot)
    scheduler.configure(url=f"sqlite:///{workdir / 'jobs.sqlite3'}")
    await bot.startup()
    await scheduler.schedule_message(to="+15553999999", text="warm-up", at=timedelta(days=1))
    before = rss_mb()
    for n in range(count):
        await scheduler.schedule_message(to=f"+1555{4000000 + n:07d}", text="Your table is ready", at=timedelta(days=1))
    found = len(scheduler.jobs()) - 1
    await bot.shutdown()
    return before, found


def run_case(case: str, count: int) -> dict[str, Any]:
    """Fill one store in this process; RSS before and after, and how many entries were read back."""
    with tempfile.TemporaryDirectory(prefix="linqbot-bench-") as workdir:
        if case == CASES[2]:
            before, found = asyncio.run(_fill_jobs(count, Path(workdir)))
        else:
            before, found = asyncio.run(_fill_state("memory" if case == CASES[0] else "sqlite", count, Path(workdir)))
        return {"case": case, "count": count, "rss_before_mb": before, "rss_after_mb": rss_mb(), "found": found}


@dataclass(frozen=True)
class Row:
    case: str
    count: int
    rss_before_mb: float
    rss_after_mb: float
    found: int

    @property
    def added_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb


def measure(states: int = 100_000, jobs: int = 10_000) -> list[Row]:
    """Every case in a fresh subprocess."""
    rows = []
    for case in CASES:
        count = jobs if case == CASES[2] else states
        done = subprocess.run(
            [sys.executable, "-m", "bench.memory", case, str(count)], capture_output=True, text=True, check=True
        )
        rows.append(Row(**json.loads(done.stdout.strip().splitlines()[-1])))
    return rows


def expected_found(row: Row) -> int:
    """How many entries the case reads back when nothing was lost (states: a 1-in-count//100 sample)."""
    return row.count if row.case == CASES[2] else len(range(0, row.count, max(1, row.count // 100)))


def render(rows: list[Row]) -> str:
    lines = [
        "Each case in a fresh subprocess; RSS from /proc before filling (imports done, store open) and after.",
        "",
        "| case | entries | RSS before MB | RSS after MB | added MB | bytes/entry | read back |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        per_entry = row.added_mb * 2**20 / row.count
        intact = "all" if row.found == expected_found(row) else f"**{row.found}**"
        lines.append(
            f"| {row.case} | {row.count:,} | {row.rss_before_mb:.1f} | {row.rss_after_mb:.1f} | {row.added_mb:.1f} "
            f"| {per_entry:,.0f} | {intact} |"
        )
    lines.append("")
    for row in rows[:2]:
        verdict = "met" if row.rss_after_mb < STATE_TARGET_MB else "**not met**"
        lines.append(f"- {row.case}: < {STATE_TARGET_MB:.0f} MB for {row.count:,} states: {verdict}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(run_case(sys.argv[1], int(sys.argv[2]))))
