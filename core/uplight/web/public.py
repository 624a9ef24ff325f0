"""The public surface: status pages from the page cache, and the rules every public answer follows.

Routes (HTML; the JSON, RSS and badge routes are in ``api/public.py``):

- ``/status``: the page whose ``hostname`` is the Host header, else the default page
- ``/status/pages/<slug>``: any page by slug
- ``/status/fragment``, ``/status/pages/<slug>/fragment``: the dynamic region the page script swaps
- ``/status/incidents/<id>``, ``/status/pages/<slug>/incidents/<id>``: an incident's
  permalink page, on the page the Host names (else the default page) or on that
  slug's page, with that page's names; 404 where the page does not show it.
  ``?before=<n>`` shows the older updates (see :func:`parse_before`).
- ``/``: a redirect to ``/status`` (which the Host resolves to its page)

HTML routes answer a browser's errors (404, 429) with an HTML page, anyone
else's with the JSON envelope.

Every successful public answer is bytes the page cache rendered once per
snapshot, with ``ETag`` (and 304 on a matching ``If-None-Match``),
``Cache-Control: public, max-age=<ttl>``, ``Vary: Accept-Encoding``, gzip when
the client accepts it, and the security headers. :func:`lookup`,
:func:`rendered_for` and :func:`~uplight.web.answers.cached_answer` build that
answer as plain data; the Quart views and the ASGI fast path (``fastpath.py``)
both send what they return, so the two paths cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Blueprint, Quart, Response, current_app, request, url_for

from ..pages.cache import CachedIncident, CachedPage, Rendered, SnapshotUnavailable
from ..runtime import Runtime
from .answers import (
    ERROR_CACHE_CONTROL,
    Answer,
    cached_answer,
    envelope,
    error_page,
    rate_limited,
)
from .assets import asset_url_for
from .context import runtime
from .negotiation import accepts_gzip
from .security import RateGate

blueprint = Blueprint("public", __name__)
PUBLIC_EXTENSION = "uplight.public"
MAX_INCIDENT_ID = 2**63 - 1  # SQLite integers: a larger id cannot exist


# -- what a request asks for ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A cacheable public resource: which entry of the page cache, rendered how."""

    renderer: str
    slug: str | None = None  # None: by Host header, else the default page
    incident_id: int | None = None
    view: str | None = None  # html: page | fragment
    fragment_url: str | None = None  # html page: where its script fetches the fragment
    component: str | None = None  # badge: one component's public id
    html_errors: bool = False  # an HTML route: a browser gets the 404 and 429 pages
    before: int | None = None  # incident permalink: the updates numbered below this


def parse_before(values: list[str]) -> int | None:
    """The permalink's ``?before=`` (absent: None), or :class:`NotFound`.

    One canonical decimal integer (no sign, no leading zero, at most 19 digits);
    whether it names a part of the incident's timeline (``2 <= n <= count``) is
    for the page service to say, and is also a 404.
    """
    if not values:
        return None
    if len(values) > 1:
        raise NotFound("give before at most once")
    value = values[0]
    if not (value.isascii() and value.isdigit() and len(value) <= 19 and value[0] != "0"):
        raise NotFound("no such part of the incident's timeline")
    return int(value)


def incident_target(incident_id: int, slug: str | None, before: list[str]) -> Target:
    return Target(
        "html", slug=slug, incident_id=incident_id, html_errors=True, before=parse_before(before)
    )


def page_target(slug: str | None, *, fragment: bool) -> Target:
    if fragment:
        return Target("html", slug=slug, view="fragment", html_errors=True)
    base = "/status" if slug is None else f"/status/pages/{slug}"
    return Target("html", slug=slug, view="page", fragment_url=f"{base}/fragment", html_errors=True)


def render_params(rt: Runtime, target: Target) -> dict[str, Any]:
    if target.renderer == "badge":
        return {"component": target.component}
    if target.renderer != "html":
        return {}
    renderer = rt.registry.renderers.get("html")
    params: dict[str, Any] = {"asset_url": asset_url_for(renderer)} if renderer else {}
    if target.view is not None:
        params["view"] = target.view
    if target.view == "page":
        params["refresh_seconds"] = int(rt.config.public.refresh_interval)
        params["fragment_url"] = target.fragment_url
    return params


# -- answers ----------------------------------------------------------------------


class NotFound(Exception):
    """Unknown page, incident or component (the message is safe to show)."""


async def lookup(rt: Runtime, target: Target, host: str | None) -> CachedPage | CachedIncident:
    """The page cache's entry for the target (computed if due), or :class:`NotFound`.

    Raises ``SnapshotUnavailable`` on a cold compute failure.
    """
    cache = rt.page_cache
    if target.incident_id is not None:
        if not 0 < target.incident_id <= MAX_INCIDENT_ID:
            raise NotFound("no such incident")
        incident = await cache.incident(
            target.incident_id,
            target.slug,
            host if target.slug is None else None,
            before=target.before,
        )
        if incident is None:
            raise NotFound("no such incident")
        return incident
    page = await cache.page(slug=target.slug, host=host if target.slug is None else None)
    if page is None:
        raise NotFound("no such status page")
    if target.component is not None and page.snapshot.component(target.component) is None:
        raise NotFound("no such component on this page")
    return page


async def rendered_for(
    rt: Runtime, entry: CachedPage | CachedIncident, target: Target, *, gzip: bool
) -> Rendered:
    """The entry's bytes for the target's renderer and parameters: rendered once,
    off the event loop (see ``pages/cache.py``)."""
    renderer = rt.registry.renderers.get(target.renderer)
    if renderer is None:  # a built-in removed by packaging: nothing to render with
        raise NotFound(f"no {target.renderer} renderer is installed")
    return await entry.render(renderer, gzip=gzip, **render_params(rt, target))


async def answer(
    rt: Runtime,
    target: Target,
    *,
    host: str | None,
    head: bool,
    if_none_match: str | None,
    accept_encoding: str | None,
) -> Answer:
    """Look the target up in the page cache and answer it (200 or 304).

    Raises :class:`NotFound` and ``SnapshotUnavailable``; the caller turns them
    into the public error answers.
    """
    entry = await lookup(rt, target, host)
    rendered = await rendered_for(rt, entry, target, gzip=accepts_gzip(accept_encoding))
    return cached_answer(rendered, head=head, if_none_match=if_none_match)


def not_found(rt: Runtime, target: Target, message: str) -> Response:
    accept = request.headers.get("Accept")
    page = error_page(
        rt,
        accept,
        "not_found",
        404,
        html_route=target.html_errors,
        config_path=unconfigured_config_path(rt, target),
    )
    if page is not None:
        return page.to_response()
    return envelope(404, "NOT_FOUND", message).to_response()


def unconfigured_config_path(rt: Runtime, target: Target) -> str | None:
    """The config file's path, for the 404 of ``/status`` on a fresh install.

    Only while the config has no monitors at all, so there is nothing else to
    leak, and only for the default page (not a slug, an incident or a badge): a
    configured server never tells the internet where its files are.
    """
    if rt.config.monitors or rt.config.source is None:
        return None
    if target.renderer != "html" or target.view != "page" or target.slug is not None:
        return None
    return str(rt.config.source)


async def serve(target: Target) -> Response:
    """A public route's whole answer through Quart: the rate limit was applied before."""
    rt = runtime()
    try:
        result = await answer(
            rt,
            target,
            host=request.headers.get("Host"),
            head=request.method == "HEAD",
            if_none_match=request.headers.get("If-None-Match"),
            accept_encoding=request.headers.get("Accept-Encoding"),
        )
    except NotFound as exc:
        return not_found(rt, target, str(exc))
    except SnapshotUnavailable:
        retry = max(1, int(rt.config.public.cache_ttl) or 10)
        message = "the status page is temporarily unavailable"
        return envelope(503, "UNAVAILABLE", message, retry_after=retry).to_response()
    return result.to_response()


# -- the rate limit, shared with the fast path ------------------------------------

# Set in the ASGI scope by the fast path when it already charged this request's
# token and then left the answer to Quart (an error it does not build itself).
RATE_CHECKED = "uplight.rate_checked"


def rate_gate(app: Quart, rt: Runtime) -> RateGate:
    """The app's one limiter, following the running config (a reload may change it)."""
    gate: RateGate | None = app.extensions.get(PUBLIC_EXTENSION)
    settings = rt.config.public.rate_limit
    if gate is None:
        gate = app.extensions[PUBLIC_EXTENSION] = RateGate(settings)
    else:
        gate.configure(settings)
    return gate


# The Quart endpoints of the HTML routes: a browser's 429 there is a page.
HTML_ENDPOINTS = frozenset(
    {
        "public.status_page",
        "public.status_fragment",
        "public.status_page_by_slug",
        "public.status_fragment_by_slug",
        "public.incident_page",
        "public.incident_page_on_page",
        "public.incident_page_not_found",
        "public.incident_page_on_page_not_found",
        "public.root",
    }
)
HTML_ROUTE = Target("html", html_errors=True)  # a route error before there is a target


async def enforce_rate_limit() -> Response | None:
    """``before_request`` of the public blueprints: a 429 answer, or None to go on."""
    if request.scope.get(RATE_CHECKED):
        return None
    rt = runtime()
    gate = rate_gate(current_app, rt)
    # Every X-Forwarded-For line, in order: a proxy may add its own line rather than
    # append to the client's, and reading only the first would trust a forged one.
    forwarded = ", ".join(request.headers.getlist("X-Forwarded-For")) or None
    retry_after = gate.check(request.remote_addr, forwarded)
    if retry_after:
        answer = rate_limited(
            retry_after,
            head=request.method == "HEAD",
            rt=rt,
            accept=request.headers.get("Accept"),
            html_route=request.endpoint in HTML_ENDPOINTS,
        )
        return answer.to_response()
    return None


async def no_store_errors(response: Response) -> Response:
    """Errors raised by the API layer (400, 422) must not be cached either."""
    if response.status_code >= 400 and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = ERROR_CACHE_CONTROL
    return response


blueprint.before_request(enforce_rate_limit)
blueprint.after_request(no_store_errors)


# -- routes -------------------------------------------------------------------------


@blueprint.get("/status")
async def status_page() -> Response:
    return await serve(page_target(None, fragment=False))


@blueprint.get("/status/fragment")
async def status_fragment() -> Response:
    return await serve(page_target(None, fragment=True))


@blueprint.get("/status/pages/<slug>")
async def status_page_by_slug(slug: str) -> Response:
    return await serve(page_target(slug, fragment=False))


@blueprint.get("/status/pages/<slug>/fragment")
async def status_fragment_by_slug(slug: str) -> Response:
    return await serve(page_target(slug, fragment=True))


@blueprint.get("/")
async def root() -> Response:
    """The root is the status page: ``/status`` resolves the Host to its own page."""
    return redirect_to(url_for("public.status_page"))


@blueprint.get("/status/incidents/<int:incident_id>")
async def incident_page(incident_id: int) -> Response:
    try:
        target = incident_target(incident_id, None, request.args.getlist("before"))
    except NotFound as exc:
        return not_found(runtime(), HTML_ROUTE, str(exc))
    response = await serve(target)
    if response.status_code == 404:
        return await moved_incident(target) or response
    return response


async def moved_incident(target: Target) -> Response | None:
    """A permalink on the default page reached by a Host no page claims, for an
    incident that page does not show: a redirect to the first page that does.

    Links from before permalinks were per page (an old feed item, a notification,
    which links ``<public_base_url>/status/incidents/<id>``) keep working; a Host
    that names a page gets that page's answer, a 404 when it does not show it.
    """
    rt = runtime()
    incident_id = target.incident_id
    if incident_id is None or rt.pages.by_host(request.headers.get("Host")) is not None:
        return None
    home = await rt.pages.incident_home(incident_id)
    if home is None or home == rt.pages.resolve():
        return None
    query = f"?before={target.before}" if target.before is not None else ""
    location = url_for("public.incident_page_on_page", slug=home, incident_id=incident_id)
    return redirect_to(location + query)


def redirect_to(location: str) -> Response:
    """A 302 to a path on this origin; not cached, as pages and their Hosts can be edited."""
    response = Response("", status=302, headers={"Location": location})
    response.headers["Cache-Control"] = ERROR_CACHE_CONTROL
    return response


@blueprint.get("/status/pages/<slug>/incidents/<int:incident_id>")
async def incident_page_on_page(slug: str, incident_id: int) -> Response:
    try:
        target = incident_target(incident_id, slug, request.args.getlist("before"))
    except NotFound as exc:
        return not_found(runtime(), HTML_ROUTE, str(exc))
    return await serve(target)


@blueprint.get("/status/incidents/<path:anything>")
async def incident_page_not_found(anything: str) -> Response:
    """``/status/incidents/abc``: the same 404 page as an unknown id."""
    return not_found(runtime(), HTML_ROUTE, "no such incident")


@blueprint.get("/status/pages/<slug>/incidents/<path:anything>")
async def incident_page_on_page_not_found(slug: str, anything: str) -> Response:
    return not_found(runtime(), HTML_ROUTE, "no such incident")


# Any renderer a plugin adds (an Atom feed, a text view) is served here, from the
# same cache, with the same headers and rate limit as the built-in routes.
@blueprint.get("/status/render/<name>")
async def rendered_page(name: str) -> Response:
    return await serve(Target(name))


@blueprint.get("/status/pages/<slug>/render/<name>")
async def rendered_page_by_slug(slug: str, name: str) -> Response:
    return await serve(Target(name, slug=slug))
