"""Every hook uplight calls: the plugin author's contract.

A plugin is a module (or object) with functions marked ``@uplight.hookimpl``,
published under the ``uplight`` entry-point group::

    [project.entry-points.uplight]
    acme = "uplight_acme"

Hooks are synchronous and are called through pluggy once, when the plugin
manager is built: at startup, and for ``uplight plugins`` and
``uplight check-config``. None is ``firstresult``: every implementation is
called, in pluggy's order (``tryfirst``/``trylast``, otherwise the last
registered plugin first), and hook wrappers (``hookimpl(wrapper=True)``) see
the call. The ``register`` hooks hand classes to the host; the host
instantiates them and calls their methods. Built-in plugins
(``uplight_plugins``) use exactly these hooks.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from .checks import CheckType
from .notifiers import Notifier
from .renderers import Renderer

hookspec = pluggy.HookspecMarker("uplight")


@hookspec
def uplight_check_types(register: Callable[[type[CheckType]], None]) -> None:
    """Provide check types.

    Called once when the plugin manager is built. Call ``register(cls)`` once
    for each :class:`uplight.CheckType` subclass. The class's ``name`` is the
    value of ``type`` in a ``[[monitors]]`` table; its ``Options`` model
    validates that monitor's type-specific keys; its ``check`` must be
    ``async def``. Two plugins registering the same name is an error that names
    both plugins.

    Returns nothing (a return value is ignored). Not ``firstresult``: every
    implementation is called.
    """


@hookspec
def uplight_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    """Provide notification channel types.

    Called once when the plugin manager is built. Call ``register(cls)`` once
    for each :class:`uplight.Notifier` subclass. The class's ``name`` is the
    value of ``type`` in a ``[[notifiers]]`` table. Names must be unique across
    plugins.

    Returns nothing (a return value is ignored). Not ``firstresult``: every
    implementation is called.
    """


@hookspec
def uplight_renderers(register: Callable[[type[Renderer]], None]) -> None:
    """Provide public renderers.

    Called once when the plugin manager is built. Call ``register(cls)`` once
    for each :class:`uplight.Renderer` subclass. A renderer receives a page
    snapshot (pure data) and :class:`uplight.RenderParams`, and returns bytes;
    it must not do I/O. Names must be unique across plugins.

    Returns nothing (a return value is ignored). Not ``firstresult``: every
    implementation is called.
    """
