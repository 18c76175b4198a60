"""``linqbot dev``: the bot wired to the emulator, a phone simulator in the browser, and a headless ``--say`` mode."""

from linqbot.dev.conversation import Conversation, converse
from linqbot.dev.session import DEFAULT_PEOPLE, dev_session, phone_url

__all__ = ["DEFAULT_PEOPLE", "Conversation", "converse", "dev_session", "phone_url"]
