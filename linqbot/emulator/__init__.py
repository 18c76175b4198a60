"""A local Linq Partner API v3 emulator: REST API, signed webhooks and an admin API for tests and dev."""

from linqbot.emulator.config import EmulatorConfig, LineSpec
from linqbot.emulator.faults import FaultConfig, FaultRule
from linqbot.emulator.server import Emulator, create_app

__all__ = ["Emulator", "EmulatorConfig", "FaultConfig", "FaultRule", "LineSpec", "create_app"]
