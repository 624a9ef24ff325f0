"""Quart app factory: one blueprint per surface, the runtime kept on the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from quart import Quart

from ..config import Config
from ..plugins import PluginRegistry
from ..runtime import Runtime
from . import assets, health, metrics, ping, public
from .api import install_api
from .console.install import install_console
from .context import EXTENSION
from .errors import install_error_handlers
from .fastpath import install_fast_path
from .leader_only import install_leader_only
from .security import install_security_headers

log = logging.getLogger(__name__)

# Set when the runtime failed to start: `serve` then stops instead of serving an app
# with no runtime behind it (hypercorn may not notice a failed lifespan start).
STARTUP_FAILED = "uplight.startup_failed"


def create_app(
    config: Config, registry: PluginRegistry, *, runtime: Runtime | None = None
) -> Quart:
    app = Quart("uplight")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep fields in model order
    rt = runtime or Runtime(config, registry)
    app.extensions[EXTENSION] = rt
    app.extensions[STARTUP_FAILED] = asyncio.Event()
    # Before every blueprint's own hooks: a follower refuses writes and heartbeats.
    install_leader_only(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(public.blueprint)
    app.register_blueprint(assets.blueprint)
    app.register_blueprint(ping.blueprint)  # heartbeats of push monitors
    app.register_blueprint(metrics.blueprint)  # after the runtime is on the app
    install_api(app)
    if config.admin.enabled:  # off: the console's routes do not exist
        install_console(app)
    install_error_handlers(app)
    install_security_headers(app)
    # Cached public answers skip Quart; everything else goes through it unchanged.
    install_fast_path(app)

    @app.before_serving
    async def _start() -> None:
        try:
            await rt.start()
        except Exception as exc:
            log.error("uplight could not start (database %s): %s", rt.store.where, exc)
            app.extensions[STARTUP_FAILED].set()
            # What did open (the database's connections and their threads) is closed,
            # or the process could not exit.
            with contextlib.suppress(Exception):
                await rt.stop()
            with contextlib.suppress(Exception):
                await rt.store.close()
            raise

    @app.after_serving
    async def _stop() -> None:
        # The runtime on the app, not `rt`: a reload may have replaced it.
        await app.extensions[EXTENSION].stop()

    return app
