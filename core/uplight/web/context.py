"""Where views find the runtime: kept on the app, not on ``g``."""

from __future__ import annotations

from quart import current_app

from ..runtime import Runtime

EXTENSION = "uplight"


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
