"""Quart app factory: one blueprint per surface, the runtime kept on the app."""

from __future__ import annotations

from quart import Quart

from ..config import Config
from ..plugins import PluginRegistry
from ..runtime import Runtime
from . import health, public
from .context import EXTENSION
from .errors import install_error_handlers


def create_app(
    config: Config, registry: PluginRegistry, *, runtime: Runtime | None = None
) -> Quart:
    app = Quart("uplight")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["JSON_SORT_KEYS"] = False
    rt = runtime or Runtime(config, registry)
    app.extensions[EXTENSION] = rt
    app.register_blueprint(health.blueprint)
    app.register_blueprint(public.blueprint)
    install_error_handlers(app)

    @app.before_serving
    async def _start() -> None:
        await rt.start()

    @app.after_serving
    async def _stop() -> None:
        await rt.stop()

    return app
