"""``python -m linqbot.emulator``."""

import sys

from linqbot.emulator.cli import main

sys.exit(main())
