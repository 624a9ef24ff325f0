"""Registering the console: its blueprint with every page module's routes."""

from __future__ import annotations

from quart import Quart

from . import (  # noqa: F401  # their routes join the blueprint on import
    incidents,
    maintenance,
    monitor,
    notifications,
    overview,
    pages,
    signin,
    tokens,
)
from .guard import blueprint


def install_console(app: Quart) -> None:
    app.register_blueprint(blueprint)
