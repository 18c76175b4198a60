"""The dev dashboard: live events, chats with health, opt-out and pacing, jobs and campaigns (on the admin app)."""

from linqbot.dashboard.app import add_dashboard, feed_of
from linqbot.dashboard.feed import EventFeed

__all__ = ["EventFeed", "add_dashboard", "feed_of"]
