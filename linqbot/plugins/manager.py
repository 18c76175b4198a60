"""Finding and loading plugins: installed packages declare a ``linqbot`` entry point and load automatically.

``LINQBOT_PLUGINS`` or ``Bot(plugins=...)`` choose: ``"commands,state"`` loads exactly those; ``"-outreach"`` drops
one; ``"+my_pkg.plugin"`` adds a module by import path. A plugin that fails to load is reported by name and skipped,
never taking the bot down.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import os
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from linqbot.plugins import hookspecs

log = logging.getLogger("linqbot.plugins")

ENTRY_POINT_GROUP = "linqbot"
hookimpl = pluggy.HookimplMarker("linqbot")

PluginChoice = str | object


class PluginError(Exception):
    """A loaded plugin raised while setting up a bot; names the plugin (its exception is the cause)."""

    def __init__(self, plugin: str, error: Exception) -> None:
        super().__init__(f"plugin {plugin} failed while setting up the bot: {type(error).__name__}: {error}")
        self.plugin = plugin


@dataclass(frozen=True)
class PluginInfo:
    """What ``linqbot plugins`` shows for one loaded plugin."""

    name: str
    module: str
    hooks: tuple[str, ...]


def _parse_selection(selection: str | Sequence[PluginChoice] | None) -> list[PluginChoice] | None:
    if selection is None:
        return None
    if isinstance(selection, str):
        return [item.strip() for item in selection.split(",") if item.strip()]
    return list(selection)


def missing_itself(error: ModuleNotFoundError, path: str) -> bool:
    """Whether importing ``path`` failed because it (or its package) does not exist, not because of something it
    imports: the first is a wrong name, the second the module's own error."""
    return error.name is not None and (path == error.name or path.startswith(error.name + "."))


def _suggest(name: str, installed: list[str]) -> str:
    """``did you mean commands?`` for a name close to an installed plugin's, else the installed plugins."""
    close = difflib.get_close_matches(name, installed, n=3)
    return f"did you mean {' or '.join(close)}?" if close else f"installed plugins: {', '.join(installed) or 'none'}"


class PluginManager:
    """A pluggy manager for the ``linqbot`` hooks, loaded according to a selection."""

    def __init__(self, selection: str | Sequence[PluginChoice] | None = None, *, log_failures: bool = True) -> None:
        """``log_failures=False`` for a manager whose failures are shown another way or again by the bot's own (the
        ``linqbot`` command's, which only looks for subcommands): one failure, one error line."""
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.failed: dict[str, str] = {}
        """Plugins that could not load: name -> reason."""
        self.ignored: dict[str, str] = {}
        """Names the selection drops that no installed plugin has (``-outreech``): name -> why nothing was dropped."""
        self._log_failures = log_failures
        if selection is None:
            selection = os.environ.get("LINQBOT_PLUGINS") or None
        self._load(_parse_selection(selection))

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def _load(self, choices: list[PluginChoice] | None) -> None:
        available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        names = [c for c in choices or [] if isinstance(c, str)]
        objects = [c for c in choices or [] if not isinstance(c, str)]
        plain = [n for n in names if not n.startswith(("+", "-"))]
        wanted = set(plain) if plain else set(available)
        installed = sorted(available)
        dropped = {n[1:] for n in names if n.startswith("-")}
        wanted -= dropped
        for name in sorted(dropped - set(available)):
            self.ignored[name] = f"not an installed plugin ({_suggest(name, installed)})"
            if self._log_failures:
                log.warning("plugin selection drops -%s, which is %s", name, self.ignored[name])
        for name in [*sorted(wanted), *(n[1:] for n in names if n.startswith("+"))]:
            if name in available:
                self._register_entry_point(available[name])
            else:
                self._register_module(name, installed)
        for obj in objects:
            self.register(obj)
        self._reject_unknown_hooks()

    def _register_entry_point(self, ep: EntryPoint) -> None:
        try:
            plugin = ep.load()
        except Exception as exc:
            self._fail(ep.name, exc)
            return
        self.register(plugin, ep.name)

    def _register_module(self, path: str, installed: list[str]) -> None:
        """Import a plugin by module path; a name that is neither installed nor importable is likely a typo."""
        try:
            plugin = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if not missing_itself(exc, path):
                self._fail(path, exc)  # the plugin exists but imports something missing
                return
            self._fail(path, LookupError(f"no installed plugin or module named {path!r}; {_suggest(path, installed)}"))
            return
        except Exception as exc:
            self._fail(path, exc)
            return
        self.register(plugin, path)

    def _fail(self, name: str, exc: Exception) -> None:
        self.failed[name] = f"{type(exc).__name__}: {exc}"
        if self._log_failures:
            log.error("plugin %s failed to load and was skipped: %s", name, self.failed[name])

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a module or object implementing hooks (a no-op when it is already registered).

        A plugin whose hooks don't fit the specs (wrong argument names, misspelt hook names) is reported and skipped.
        """
        label = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if self.pm.is_registered(plugin) or self.pm.get_plugin(label) is not None:
            return
        try:
            self.pm.register(plugin, name=label)
        except Exception as exc:
            if self.pm.is_registered(plugin):  # pluggy keeps a plugin whose hooks failed validation half-registered
                self.pm.unregister(plugin)
            self._fail(label, exc)

    def _reject_unknown_hooks(self) -> None:
        """Unregister plugins implementing hooks nobody specified (a typo such as ``linqbot_stratup``)."""
        for label, plugin in self.pm.list_name_plugin():
            unknown = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [] if not c.has_spec())
            if unknown:
                self.pm.unregister(plugin)
                self._fail(label, LookupError(f"implements unknown hook(s) {', '.join(unknown)}"))

    def blame(self, error: Exception) -> str | None:
        """The plugin whose hook implementation ``error`` was raised in, if any (pluggy re-raises it unnamed)."""
        owners = {  # each implementation's own code: a decorator's wrapper may be shared by several plugins
            getattr(inspect.unwrap(impl.function), "__code__", None): impl.plugin_name
            for _, plugin in self.pm.list_name_plugin()
            for caller in self.pm.get_hookcallers(plugin) or []
            for impl in caller.get_hookimpls()
        }
        frames = [frame.f_code for frame, _ in traceback.walk_tb(error.__traceback__)]
        return next((owners[code] for code in frames if code in owners), None)

    def implemented(self, hook_name: str) -> bool:
        """Whether any loaded plugin implements ``hook_name`` (so unused hooks cost nothing per event)."""
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    async def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook and await the results of async implementations."""
        results = getattr(self.pm.hook, hook_name)(**kwargs)
        return [await r if inspect.isawaitable(r) else r for r in results]

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a list-returning hook and flatten the results (None and empty lists are dropped)."""
        flat: list[Any] = []
        for result in getattr(self.pm.hook, hook_name)(**kwargs):
            if result is None:
                continue
            if isinstance(result, Iterable) and not isinstance(result, (str, bytes, dict)):
                flat.extend(result)
            else:
                flat.append(result)
        return flat

    def describe(self) -> list[PluginInfo]:
        """Every loaded plugin with the hooks it implements."""
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = tuple(sorted(impl.name for impl in self.pm.get_hookcallers(plugin) or []))
            module = getattr(plugin, "__name__", type(plugin).__module__)
            infos.append(PluginInfo(name, module, hooks))
        return sorted(infos, key=lambda info: info.name)
