"""Plugin manager factory: built-ins and third-party plugins through one path.

Every plugin, built-in or not, is an entry point in the ``uplight`` group. The
built-ins are the entry points of the ``uplight`` distribution itself;
``builtins_only=True`` (used by tests) keeps just those.
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

import pluggy

from . import hookspecs
from .check_metrics import declaration_problem
from .checks import CheckType
from .metric_names import CORE_NAMES
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
    """Build the manager, call each registering hook through pluggy, collect what it provides.

    pluggy orders the implementations (``tryfirst``/``trylast``, else the last
    registered first) and runs hook wrappers around them. Each registration and
    each fault is attributed to the plugin whose implementation was running.
    """
    pm, infos = create_plugin_manager(builtins_only=builtins_only, extra=extra)
    order = list(infos)  # registration order: built-ins first
    collected: dict[str, dict[str, tuple[str, type]]] = {}
    for hook_name, (kind, base) in _KINDS.items():
        found: dict[str, tuple[str, type]] = {}
        hook = getattr(pm.hook, hook_name)
        running = _Implementations(hook.get_hookimpls())
        register = _Registrar(kind, base, hook_name, running, found, order)
        try:
            hook(register=register)
        except PluginError:
            raise
        except Exception as exc:
            culprit = running.raised(exc)
            who = f"plugin {culprit!r}" if culprit else "a plugin"
            raise PluginError(f"{who} failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
        finally:
            register.closed = True
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


class _Implementations:
    """Which plugin's implementation of one hook a stack frame is running.

    Found by code object, with public pluggy API only (``get_hookimpls()``).
    Implementations sharing code (two instances of one plugin class, closures
    made by one factory) are told apart by the frame's ``self`` and closure values.
    """

    def __init__(self, impls: Iterable[pluggy.HookImpl]) -> None:
        self._by_code: dict[CodeType, list[tuple[Any, pluggy.HookImpl]]] = {}
        for impl in impls:
            functions = [impl.function]
            unwrapped = inspect.unwrap(impl.function)
            if unwrapped is not impl.function:
                functions.append(unwrapped)  # a decorated implementation runs both
            for function in functions:
                code = getattr(function, "__code__", None)
                if isinstance(code, CodeType):
                    self._by_code.setdefault(code, []).append((function, impl))

    def plugin_of(self, frame: FrameType) -> str | None:
        candidates = self._by_code.get(frame.f_code)
        if not candidates:
            return None
        for function, impl in candidates:
            if len(candidates) == 1 or _is_running(function, impl, frame):
                return impl.plugin_name
        # Nothing tells them apart (same code, self and closure): they behave alike.
        return candidates[0][1].plugin_name

    def calling(self) -> str | None:
        """The plugin whose implementation is the innermost one on the stack."""
        frame = inspect.currentframe()
        try:
            while frame is not None:
                name = self.plugin_of(frame)
                if name is not None:
                    return name
                frame = frame.f_back
            return None
        finally:
            del frame  # a frame referencing itself would keep the stack alive

    def raised(self, exc: BaseException) -> str | None:
        """The plugin whose implementation is the innermost one in the traceback."""
        culprit = None
        tb = exc.__traceback__
        while tb is not None:
            culprit = self.plugin_of(tb.tb_frame) or culprit
            tb = tb.tb_next
        return culprit


def _is_running(function: Any, impl: pluggy.HookImpl, frame: FrameType) -> bool:
    """Whether ``frame`` runs this very function (not another sharing its code)."""
    code, values = frame.f_code, frame.f_locals
    owner = getattr(impl.function, "__self__", None)
    if owner is not None:
        if not code.co_argcount or values.get(code.co_varnames[0]) is not owner:
            return False
    cells = getattr(function, "__func__", function).__closure__ or ()
    for name, cell in zip(code.co_freevars, cells, strict=True):
        try:
            content = cell.cell_contents
        except ValueError:  # not yet bound
            continue
        if values.get(name, _UNSET) is not content:
            return False
    return True


_UNSET = object()


class _Registrar:
    """The ``register`` a hook receives: validates each class, names its plugin."""

    def __init__(
        self,
        kind: str,
        base: type,
        hook_name: str,
        running: _Implementations,
        found: dict[str, tuple[str, type]],
        order: list[str],
    ) -> None:
        self.kind, self.base, self.hook_name = kind, base, hook_name
        self.running, self.found, self.order = running, found, order
        self.closed = False

    def __call__(self, cls: Any) -> None:
        kind, base, found = self.kind, self.base, self.found
        plugin_name = self.running.calling()
        if self.closed or plugin_name is None:
            # Kept and called later, nothing would read it: say so rather than drop it.
            raise PluginError(
                f"{cls!r} was registered as a {kind} outside any {self.hook_name} implementation"
            )
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
            if found[name][0] == plugin_name:
                raise PluginError(f"plugin {plugin_name!r} registered {kind} {name!r} twice")
            # Named in registration order (built-ins first), whatever order pluggy called them.
            first, second = sorted((found[name][0], plugin_name), key=self._rank)
            raise PluginError(
                f"{kind} {name!r} is provided by two plugins: {first!r} and {second!r}"
            )
        if base is CheckType:
            # Refused now, naming the plugin, rather than a scrape that breaks later.
            problem = declaration_problem(getattr(cls, "metrics", ()), CORE_NAMES)
            if problem is not None:
                raise PluginError(
                    f"plugin {plugin_name!r} registered check type {name!r} whose {problem}"
                )
            declared = {m.name: (p, n) for n, (p, c) in found.items() for m in c.metrics}
            for metric in cls.metrics:
                if metric.name in declared:
                    # Named in registration order, as a check type provided twice is.
                    pair = sorted(
                        (declared[metric.name], (plugin_name, name)), key=lambda o: self._rank(o[0])
                    )
                    raise PluginError(
                        f"metric {metric.name!r} is declared by two check types: "
                        + " and ".join(f"{n!r} of plugin {p!r}" for p, n in pair)
                    )
        found[name] = (plugin_name, cls)

    def _rank(self, plugin_name: str) -> int:
        return self.order.index(plugin_name) if plugin_name in self.order else len(self.order)
