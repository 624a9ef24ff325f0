"""Reload on SIGHUP: a valid new config replaces the running one; an invalid one changes nothing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from quart import Quart

from ..config import ConfigError, load_config
from ..plugins import PluginRegistry
from ..runtime import Runtime
from .context import EXTENSION

log = logging.getLogger(__name__)

_lock = asyncio.Lock()


async def reload_config(app: Quart, path: Path, registry: PluginRegistry) -> bool:
    """Validate ``path``; if it is good, swap in a fresh runtime built from it.

    The old runtime is stopped first (in-flight checks cancelled, results flushed),
    so the database only ever has one writer in this process. Plugins are not
    reloaded: a new plugin needs a restart.
    """
    async with _lock:
        try:
            config = load_config(path, registry.check_types, registry.notifiers)
        except ConfigError as exc:
            log.error("reload refused, the running config stays in force:\n%s", exc)
            return False
        old: Runtime = app.extensions[EXTENSION]
        if config.server.listen != old.config.server.listen:
            log.warning("server.listen changed: restart uplight to bind %s", config.server.listen)
        new = Runtime(config, registry, clock=old.clock)
        await old.stop()
        app.extensions[EXTENSION] = new
        await new.start()
        log.info("config reloaded from %s", path)
        return True
