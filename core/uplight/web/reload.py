"""Reload on SIGHUP: a valid new config replaces the running one; an invalid one changes nothing.

A reload is refused as a whole, the running config staying in force, when:

- the file does not validate (every error is logged);
- the file is empty or only comments: most likely an editor caught mid-save,
  and taken at its word it would drop every monitor and move the database;
- it changes ``storage.path`` or ``server.listen``: the database is opened and
  the port bound once, at start; applying the rest of the file would leave the
  service running a config that is neither the old one nor the new one, so the
  log says to restart instead.

A valid reload that removes every monitor is applied, with a warning naming how
many go.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from quart import Quart

from ..config import Config, ConfigError, ConfigIssue, parse_config, read_config_text
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
        old: Runtime = app.extensions[EXTENSION]
        try:
            config = load_for_reload(path, registry, old.config)
        except ConfigError as exc:
            log.error("reload refused, the running config stays in force: %s", exc)
            return False
        if old.config.monitors and not config.monitors:
            log.warning(
                "this reload removes all %d monitors: %s declares none",
                len(old.config.monitors),
                path,
            )
        new = Runtime(config, registry, clock=old.clock)
        await old.stop()
        app.extensions[EXTENSION] = new
        await new.start()
        log.info("config reloaded from %s", path)
        return True


def load_for_reload(path: Path, registry: PluginRegistry, running: Config) -> Config:
    """The config at ``path`` if a reload may apply it; else :class:`ConfigError`."""
    text = read_config_text(path)
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        message = "the file is empty or only comments (saved half-way?): nothing reloaded"
        raise ConfigError([ConfigIssue("", message)], path)
    config = parse_config(
        text, registry.check_types, source=path, notifier_types=registry.notifiers
    )
    if running.server.listen_override is not None:  # `serve --listen` outlives a reload
        config = config.with_listen(running.server.listen_override)
    issues = []
    if config.storage.url != running.storage.url:
        issues.append(
            ConfigIssue(
                "storage.url",
                "changed: restart uplight to use another database",  # never shows the URL
            )
        )
    elif config.storage.url is None and (
        config.database_path.resolve() != running.database_path.resolve()
    ):
        issues.append(
            ConfigIssue(
                "storage.path",
                f"changed from {running.storage.path} to {config.storage.path}:"
                " restart uplight to use another database",
            )
        )
    if (config.server.host, config.server.port) != (running.server.host, running.server.port):
        issues.append(
            ConfigIssue(
                "server.listen",
                f"changed from {running.server.listen} to {config.server.listen}:"
                " restart uplight to listen there",
            )
        )
    if issues:
        raise ConfigError(issues, path)
    if config.server.event_loop != running.server.event_loop:
        # The loop runs the reload itself: the rest of the file applies, the loop stays.
        log.warning(
            "server.event_loop changed from %s to %s: it takes effect at the next restart",
            running.server.event_loop,
            config.server.event_loop,
        )
    return config
