"""Where linqbot and its plugins keep files when no setting names a place: all in one folder — the inbox,
conversation state, scheduled jobs and campaigns — so one volume and one .gitignore line cover them.

The folder is ``.linqbot/`` under the folder the bot runs from, or ``LINQBOT_HOME``: ``linqbot dev`` and the
``linq_sim`` test fixture point it at a folder of their own, so a simulated conversation's state and jobs never mix
with the bot's real ones.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

FOLDER = ".linqbot"
HOME_SETTING = "LINQBOT_HOME"

log = logging.getLogger("linqbot")

_warned: set[str] = set()
"""Former files already reported, by absolute path: one warning per file and process."""


def local_file(name: str, *, former: str | None = None) -> str:
    """The path ``<folder>/<name>`` (``.linqbot/`` or ``LINQBOT_HOME``); nothing is created (the store that writes
    the file makes the folder).

    ``former`` is where an earlier linqbot kept this file in the working folder: while that file exists and the new
    one does not, it is used where it is (with a warning, once, saying how to move it), so an upgrade loses no data.
    A ``LINQBOT_HOME`` is a choice made since, so it never falls back.
    """
    home = os.environ.get(HOME_SETTING)
    path = Path(home or FOLDER, name)
    if former and not home and Path(former).exists() and not path.exists():
        where = str(Path(former).resolve())
        if where not in _warned:
            _warned.add(where)
            log.warning(
                "using ./%s, where an earlier linqbot kept it; to keep all local data in %s/, stop the bot and move it "
                "(with any %s-wal and %s-shm beside it) to %s",
                former,
                FOLDER,
                former,
                former,
                path,
            )
        return former
    return path.as_posix()
