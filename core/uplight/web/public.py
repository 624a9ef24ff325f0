"""The public surface: status pages, rendered by renderer plugins from snapshots."""

from __future__ import annotations

from quart import Blueprint, Response

from .context import runtime
from .errors import ApiError

blueprint = Blueprint("public", __name__)


@blueprint.get("/status")
async def status_page() -> Response:
    return await _render_page(None)


@blueprint.get("/status/pages/<slug>")
async def status_page_by_slug(slug: str) -> Response:
    return await _render_page(slug)


async def _render_page(slug: str | None) -> Response:
    rt = runtime()
    page = rt.pages.page(slug)
    if page is None:
        raise ApiError(404, "NOT_FOUND", "no such status page")
    renderer = rt.registry.renderers.get("html")
    if renderer is None:
        raise ApiError(503, "UNAVAILABLE", "no html renderer is installed")
    snapshot = await rt.pages.snapshot(page)
    return Response(renderer.render(snapshot), content_type=renderer.media_type)
