"""Plugin manager factory: built-ins and third-party plugins through one path.

Every plugin, built-in or not, is an entry point in the ``uplight`` group. The
built-ins are the entry points of the ``uplight`` distribution itself;
``builtins_only=True`` (used by tests) keeps just those.
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .checks import CheckType
from .notifiers import Notifier
from .renderers import Renderer

GROUP = "uplight"
DISTRIBUTION = "uplight"

# hook name -> (what it provides, the base class a registered class must extend)
_KINDS: dict[str, tuple[str, type]] = {
    "uplight_check_types": ("check type", CheckType),
    "uplight_notifiers": ("notifier", Notifier),
    "uplight_renderers": ("renderer", Renderer),
}


class PluginError(Exception):
    """A plugin could not be loaded or contradicts another; the message names it."""


@dataclass
class PluginInfo:
    name: str
    distribution: str | None = None
    version: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.distribution == DISTRIBUTION


@dataclass
class PluginRegistry:
    """What the loaded plugins provide, by name, with the plugin that provided it."""

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    check_types: dict[str, CheckType]
    notifiers: dict[str, type[Notifier]]
    renderers: dict[str, Renderer]


def create_plugin_manager(
    *, builtins_only: bool = False, extra: Iterable[tuple[str, object]] = ()
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    """A fresh manager with every plugin in the ``uplight`` entry-point group.

    ``extra`` registers (name, plugin) pairs directly: how tests add a fake plugin.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    for ep in sorted(metadata.entry_points(group=GROUP), key=_entry_point_order):
        dist = ep.dist.name if ep.dist else None
        if builtins_only and dist != DISTRIBUTION:
            continue
        if ep.name in infos:
            # The same distribution seen twice on sys.path (editable + wheel): first wins.
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}, from {dist or 'unknown distribution'}) "
                f"failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        _register(pm, ep.name, plugin)
        infos[ep.name] = PluginInfo(ep.name, dist, ep.dist.version if ep.dist else None)
    for name, plugin in extra:
        _register(pm, name, plugin)
        infos[name] = PluginInfo(name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
    return pm, infos


def _entry_point_order(ep: metadata.EntryPoint) -> tuple[bool, str]:
    # Built-ins first, so that listings and "provided by" errors read naturally.
    return (not (ep.dist and ep.dist.name == DISTRIBUTION), ep.name)


def _register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    if pm.has_plugin(name):
        raise PluginError(f"two plugins are named {name!r}")
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} is invalid: {exc}") from exc
    except ValueError as exc:
        raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc


def load_plugins(
    *, builtins_only: bool = False, extra: Iterable[tuple[str, object]] = ()
) -> PluginRegistry:
    """Build the manager and collect what every plugin provides."""
    pm, infos = create_plugin_manager(builtins_only=builtins_only, extra=extra)
    collected: dict[str, dict[str, tuple[str, type]]] = {}
    for hook_name, (kind, base) in _KINDS.items():
        found: dict[str, tuple[str, type]] = {}
        hook = getattr(pm.hook, hook_name)
        # Each implementation is called on its own so a conflict or a fault can be
        # attributed to the plugin that caused it.
        for impl in hook.get_hookimpls():  # registration order
            plugin_name = impl.plugin_name
            register = _registrar(kind, base, plugin_name, found)
            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
        for name, (plugin_name, _cls) in found.items():
            infos.setdefault(plugin_name, PluginInfo(plugin_name))
            infos[plugin_name].provides.setdefault(kind, []).append(name)
        collected[hook_name] = found
    return PluginRegistry(
        manager=pm,
        plugins=infos,
        check_types={n: c() for n, (_, c) in collected["uplight_check_types"].items()},
        notifiers={n: c for n, (_, c) in collected["uplight_notifiers"].items()},
        renderers={n: c() for n, (_, c) in collected["uplight_renderers"].items()},
    )


def _registrar(
    kind: str, base: type, plugin_name: str, found: dict[str, tuple[str, type]]
) -> Callable[[Any], None]:
    def register(cls: Any) -> None:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(
                f"plugin {plugin_name!r} registered {cls!r} as a {kind}, "
                f"but it is not a subclass of uplight.{base.__name__}"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin_name!r} registered a {kind} without a name")
        if base is CheckType and not inspect.iscoroutinefunction(cls.check):
            # A synchronous check would block the event loop: every monitor and the web.
            raise PluginError(
                f"plugin {plugin_name!r} registered check type {name!r} whose check() is not"
                " an async function (async def check(self, options, context))"
            )
        if name in found:
            raise PluginError(
                f"{kind} {name!r} is provided by two plugins: "
                f"{found[name][0]!r} and {plugin_name!r}"
            )
        found[name] = (plugin_name, cls)

    return register
