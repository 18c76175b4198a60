"""pluggy plugins: the hook specifications and the manager that discovers and loads plugins."""

from linqbot.plugins.manager import ENTRY_POINT_GROUP, PluginError, PluginInfo, PluginManager, hookimpl

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "PluginInfo", "PluginManager", "hookimpl"]
