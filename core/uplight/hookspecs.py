"""Every hook uplight calls: the plugin author's contract.

A plugin is a module (or object) with functions marked ``@uplight.hookimpl``,
published under the ``uplight`` entry-point group::

    [project.entry-points.uplight]
    acme = "uplight_acme"

Hooks are synchronous and are called once, when the plugin manager is built.
The ``register_*`` hooks hand classes to the host; the host instantiates them and
calls their methods. Built-in plugins (``uplight_plugins``) use exactly these hooks.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("uplight")


@hookspec
def uplight_check_types(register: Callable[[type], None]) -> None:
    """Provide check types.

    Call ``register(cls)`` once for each :class:`uplight.CheckType` subclass. The
    class's ``name`` is the value of ``type`` in a ``[[monitors]]`` table; its
    ``Options`` model validates that monitor's type-specific keys. Two plugins
    registering the same name is an error that names both plugins.
    """


@hookspec
def uplight_notifiers(register: Callable[[type], None]) -> None:
    """Provide notification channel types.

    Call ``register(cls)`` once for each :class:`uplight.Notifier` subclass. The
    class's ``name`` is the value of ``type`` in a ``[[notifiers]]`` table.
    Names must be unique across plugins.
    """


@hookspec
def uplight_renderers(register: Callable[[type], None]) -> None:
    """Provide public renderers.

    Call ``register(cls)`` once for each :class:`uplight.Renderer` subclass. A
    renderer receives a page snapshot (pure data) and returns bytes; it must not
    do I/O. Names must be unique across plugins.
    """
