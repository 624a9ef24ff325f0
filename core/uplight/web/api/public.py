"""The public API: status JSON, incidents RSS and SVG badges, without authentication.

Each route answers the default page (or the page whose ``hostname`` is the
Host header), or ``?page=<slug>``. The bytes come from the page cache like the
HTML pages' (see ``web/public.py``): same ETag, gzip, caching, security headers
and rate limit, and the same fast path in front of Quart.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart import Response

from ...models import Status
from ..public import Target, enforce_rate_limit, no_store_errors, serve
from .operations import ApiBlueprint

api = ApiBlueprint("public_api", "/api/public/v1", tag="public", auth=False, lenient_query=True)
api.blueprint.before_request(enforce_rate_limit)
api.blueprint.after_request(no_store_errors)

PUBLIC_ERRORS = (404, 429, 503)


class PageQuery(BaseModel):
    """Other parameters are ignored (``?v=2`` to bust a cache, ``?utm_source=…``)."""

    page: str | None = Field(
        None,
        description="A page's slug; without it, the page for the Host header, else the default page.",
    )


class BadgeQuery(PageQuery):
    component: str | None = Field(
        None, description="A component's public id (from status.json); without it, the page."
    )
    style: str = Field(
        "flat",
        description='Only "flat" is drawn; any other value (shields.io\'s "flat-square", an'
        " empty one) gets it too, so an embedded badge never breaks.",
    )


# The JSON renderer's document, mirrored for the OpenAPI description; extra keys a
# newer renderer adds stay valid (no additionalProperties: false).


class PublicPageRef(BaseModel):
    slug: str
    title: str
    url: str


class PublicHistoryDay(BaseModel):
    date: str = Field(description="A UTC day, YYYY-MM-DD; 90 of them, oldest first.")
    status: Status
    uptime: float | None = Field(description="Percent of the day's checks that answered.")
    checks: int


class PublicComponent(BaseModel):
    id: str = Field(description="Opaque and stable: for ?component= on the badge.")
    name: str
    group: str | None
    description: str | None
    status: Status
    updated_at: str | None
    uptime: float | None = Field(description="Percent over the 90 days; null: no checks.")
    history: list[PublicHistoryDay]


class PublicIncidentUpdate(BaseModel):
    phase: str
    message: str
    created_at: str


class PublicIncident(BaseModel):
    id: int
    title: str
    description: str | None
    severity: str
    status: str
    started_at: str
    ended_at: str | None
    components: list[str]
    latest_update: PublicIncidentUpdate | None
    url: str = Field(description="The incident's permalink page.")


class PublicMaintenance(BaseModel):
    id: int
    title: str
    description: str | None
    severity: str
    status: str
    starts_at: str
    ends_at: str
    components: list[str]


class PublicIncidents(BaseModel):
    active: list[PublicIncident]
    recent: list[PublicIncident] = Field(description="Ended within the last 14 days.")


class PublicMaintenanceLists(BaseModel):
    active: list[PublicMaintenance]
    upcoming: list[PublicMaintenance] = Field(description="Starting within the next 7 days.")
    recent: list[PublicMaintenance] = Field(
        description="Up to 50, every state, newest first; started windows are chosen before"
        " planned ones, so plans never push history out."
    )


class StatusDocument(BaseModel):
    """The page as JSON: overall state, components with their 90-day history,
    incidents and maintenance."""

    page: PublicPageRef
    status: Status
    banner: str
    generated_at: str
    components: list[PublicComponent]
    incidents: PublicIncidents
    maintenance: PublicMaintenanceLists


@api.route(
    "GET",
    "/status.json",
    summary="The status page as JSON",
    query=PageQuery,
    response=StatusDocument,
    errors=PUBLIC_ERRORS,
)
async def public_status(query: PageQuery) -> Response:
    return await serve(Target("json", slug=query.page))


@api.route(
    "GET",
    "/incidents.rss",
    summary="Public incidents as an RSS 2.0 feed",
    query=PageQuery,
    errors=PUBLIC_ERRORS,
    media_type="application/rss+xml",
)
async def public_incidents_rss(query: PageQuery) -> Response:
    return await serve(Target("rss", slug=query.page))


@api.route(
    "GET",
    "/badge.svg",
    summary="A flat SVG badge of the page's or one component's state",
    query=BadgeQuery,
    errors=PUBLIC_ERRORS,
    media_type="image/svg+xml",
)
async def public_badge(query: BadgeQuery) -> Response:
    # Every style draws the one there is; the cache entry is the same for all of them.
    return await serve(Target("badge", slug=query.page, component=query.component))
