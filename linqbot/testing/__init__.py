"""Test your bot in-process against the Linq emulator: ``async with simulate(bot) as sim: ...``.

The pytest plugin (installed with linqbot) adds the ``linq_sim`` fixture for a ``bot`` fixture you define.
"""

from linqbot.testing.simulation import SentMessage, SimulatedUser, Simulation, simulate

__all__ = ["SentMessage", "SimulatedUser", "Simulation", "simulate"]
