"""``linqbot outreach``: run a campaign file against the emulator with a progress bar, then status and report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from linqbot.cli import main
from linqbot.emulator import Emulator


@pytest.fixture
def campaign_dir(tmp_path: Path, campaign_db: Path) -> Path:
    (tmp_path / "outreach_cli_bot.py").write_text(
        "from linqbot import Bot\n\nbot = Bot(env_file=None, plugins=['outreach'])\n"
    )
    (tmp_path / "people.csv").write_text(
        "phone,first_name,timezone\n+15550100200,Ana,Europe/Paris\n+15550100201,Ben,America/Chicago\n"
        "+15550100202,Cleo,\n"
    )
    (tmp_path / "campaign.toml").write_text(
        'id = "open-house"\nrecipients = "people.csv"\ntemplate = "Hi {first_name}, open house on Saturday?"\n'
        '[window]\nstart = "00:00"\nend = "23:59:59.999999"\ntimezone = "America/New_York"\n'
        "[pacing]\nper_minute = 60\n"
    )
    return tmp_path


async def test_run_shows_progress_and_a_report_then_status_and_report_read_the_store(
    campaign_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Emulator() as emu:
        await emu.inbound("+15550100202", "STOP")
        monkeypatch.setenv("LINQ_API_KEY", emu.api_key)
        monkeypatch.setenv("LINQ_BASE_URL", emu.base_url)
        monkeypatch.setenv("LINQ_PHONE_NUMBER", emu.line)
        bot = str(campaign_dir / "outreach_cli_bot.py")
        toml = str(campaign_dir / "campaign.toml")

        assert await asyncio.to_thread(main, ["outreach", "run", toml, "--bot", bot, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "> Hi Ana, open house on Saturday?" in out and "nothing sent (dry run)" in out
        assert emu.messages(direction="outbound") == []

        assert await asyncio.to_thread(main, ["outreach", "run", toml, "--bot", bot]) == 0
        captured = capsys.readouterr()
        assert captured.err.rstrip().endswith("3/3  sent 2  skipped 1  failed 0")
        assert "[" + "#" * 30 + "]" in captured.err
        assert "campaign open-house: 2 sent" in captured.out
        assert "skipped (OptedOut (code 2024)): +1***02" in captured.out
        assert sorted(m["to"][0] for m in emu.messages(direction="outbound")) == ["+15550100200", "+15550100201"]

        assert main(["outreach", "status", "open-house"]) == 0
        assert capsys.readouterr().out == "open-house: 0 pending, 0 sending, 2 sent, 1 skipped, 0 failed\n"
        assert main(["outreach", "report", "open-house"]) == 0
        assert "skipped 1: OptedOut (code 2024)" in capsys.readouterr().out
        assert main(["outreach", "status", "nope"]) == 1


def test_a_bad_csv_is_refused_with_the_reason(campaign_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (campaign_dir / "bad.csv").write_text("number,first_name\n+15550100300,Ana\n")
    code = main(
        [
            "outreach",
            "run",
            str(campaign_dir / "bad.csv"),
            "--bot",
            str(campaign_dir / "outreach_cli_bot.py"),
            "--id",
            "x",
            "--template",
            "Hi {first_name}",
        ]
    )
    assert code == 2
    assert "has no 'phone' column (columns: number, first_name)" in capsys.readouterr().err
