"""Test your bot in-process against the Linq emulator."""
