"""Liveness: public, cheap, no database."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify

from .. import __version__
from .context import runtime

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    # "leader": whether this server runs the checks, incidents and notifications
    # (always true with SQLite; one of several servers on PostgreSQL).
    return jsonify({"status": "ok", "version": __version__, "leader": runtime().leading})
