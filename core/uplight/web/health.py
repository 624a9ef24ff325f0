"""Liveness: public, cheap, no database."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify

from .. import __version__

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    return jsonify({"status": "ok", "version": __version__})
