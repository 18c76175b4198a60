"""The admin server: ``/metrics`` and the dashboard, never on the webhook port, behind ``LINQBOT_ADMIN_TOKEN``."""

from linqbot.admin.server import ADMIN_TOKEN_SETTING, AdminServer, build_admin_app, serve_alongside, start_admin

__all__ = ["ADMIN_TOKEN_SETTING", "AdminServer", "build_admin_app", "serve_alongside", "start_admin"]
