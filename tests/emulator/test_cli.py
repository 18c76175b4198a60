"""The command line maps flags onto the emulator configuration and serves the API."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from linqbot.emulator.cli import build_parser, config_from_args


def test_flags_build_the_config() -> None:
    args = build_parser().parse_args(
        ["--api-key", "k", "--line", "+15550000009", "--line", "+15550000010:RCS", "--db", "x.db",
         "--fault-seed", "5", "--fault-error-rate", "0.25", "--fault-path", "/api/partner/v3/chats*",
         "--fault-rate-limit-storm", "3", "--fault-webhook-duplicate-rate", "0.5", "--read-delay", "0",
         "--webhook-concurrency", "4"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.api_key == "k" and config.db_path == "x.db" and config.read_delay == 0
    assert [(line.phone_number, line.line_type) for line in config.lines] == [
        ("+15550000009", "iMessage"),
        ("+15550000010", "RCS"),
    ]
    assert config.faults.seed == 5 and config.faults.rate_limit_storm == 3
    assert config.faults.rules[0].error_rate == 0.25 and config.faults.rules[0].path == "/api/partner/v3/chats*"
    assert config.faults.webhook_duplicate_rate == 0.5
    assert config.webhook_concurrency == 4


def test_webhook_concurrency_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--webhook-concurrency", "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINQ_API_KEY", raising=False)
    config = config_from_args(build_parser().parse_args([]))
    assert config.api_key == "dev-key" and config.lines[0].phone_number == "+15550000001"
    assert config.faults.rules == []


def test_module_entry_point_serves_the_api(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "linqbot.emulator", "--port", "0", "--api-key", "cli-key", "--db",
               str(tmp_path / "db.sqlite")]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # printed once the server is listening
            url = re.search(r"on (http://\S+)", banner)
            assert url, banner
            response = httpx.get(
                f"{url.group(1)}/api/partner/v3/phone_numbers", headers={"Authorization": "Bearer cli-key"}
            )
            assert response.status_code == 200
            assert response.json()["phone_numbers"][0]["phone_number"] == "+15550000001"
        finally:
            process.terminate()
