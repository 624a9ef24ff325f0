"""The JSON APIs: the admin API under /api/v1 (bearer token) and its OpenAPI document."""

from __future__ import annotations

import importlib

from quart import Quart, Response, g, jsonify, request

from ...auth.tokens import identify_token
from ..context import runtime
from ..errors import ApiError
from .openapi import build_document
from .operations import ApiBlueprint

ADMIN_PREFIX = "/api/v1"
# The probe API (docs/probes.md): probe tokens only, and nothing else for them.
PROBE_PREFIX = ADMIN_PREFIX + "/probe"
OPENAPI_PATH = "/api/openapi.json"

# Each module defines `api = ApiBlueprint(...)`; listed in the order of the document.
API_MODULES = ("dashboard", "incidents", "maintenance", "monitors", "pages", "public", "probes")


def api_blueprints() -> list[ApiBlueprint]:
    found = []
    for name in API_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a surface not built yet
            raise
        found.append(module.api)
    return found


def install_api(app: Quart) -> None:
    blueprints = api_blueprints()
    for api in blueprints:
        # Before any rule is added: a rule looks its converters up when it is bound.
        app.url_map.converters.update(api.converters)
    for api in blueprints:
        app.register_blueprint(api.blueprint)
    document = build_document(op for api in blueprints for op in api.operations)

    @app.before_request
    async def _authenticate() -> None:
        # Runs before routing resolves, so an unknown /api/v1 path is a 401 too:
        # nothing about what exists leaks to a caller without a token.
        path = request.path
        if path != ADMIN_PREFIX and not path.startswith(ADMIN_PREFIX + "/"):
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401, "UNAUTHORIZED", "an Authorization: Bearer <token> header is required"
            )
        identity = await identify_token(runtime().store, token)
        if identity is None:
            raise ApiError(401, "UNAUTHORIZED", "the bearer token is not valid")
        probe_path = path == PROBE_PREFIX or path.startswith(PROBE_PREFIX + "/")
        if identity.probe and not probe_path:
            raise ApiError(
                403, "FORBIDDEN", "a probe token can only read its assignment and push results"
            )
        g.token_name = identity.name
        g.token_location = identity.location

    @app.after_request
    async def _refresh_public_pages(response: Response) -> Response:
        # An operator's write (narration, maintenance, pages) shows on the public
        # page at once instead of after the cache's TTL.
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and request.path.startswith(ADMIN_PREFIX + "/")
            and response.status_code < 400
        ):
            runtime().page_cache.invalidate()
        return response

    @app.get(OPENAPI_PATH)
    async def openapi() -> Response:
        return jsonify(document)


def token_name() -> str:
    """The name of the token that authenticated this request."""
    return g.token_name


def token_location() -> str:
    """The location of the probe token that authenticated this (probe API) request;
    asked by the probe API's views, so an admin token there is refused (after routing,
    so a wrong method is still a 405)."""
    if g.token_location is None:
        raise ApiError(403, "FORBIDDEN", "the probe API takes a probe token")
    return g.token_location
