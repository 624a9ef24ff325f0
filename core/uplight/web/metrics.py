"""``GET /metrics``: Prometheus exposition of the runtime's in-memory state.

The app owns its ``CollectorRegistry`` (built when the blueprint is registered),
so two apps in one process (tests) never share metrics and nothing lands on
prometheus_client's global default registry.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from quart import Blueprint, Response, current_app, request
from quart.blueprints import BlueprintSetupState

from ..config import Config, ConfigError, ConfigIssue
from ..metrics import UplightCollector
from .context import EXTENSION
from .errors import ApiError, error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("metrics", __name__)
METRICS_EXTENSION = "uplight.metrics"


@dataclass(frozen=True)
class Exposition:
    registry: CollectorRegistry
    token: bytes | None  # the bearer token; never logged, never in a response

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Constant-time: response timing must not reveal how much of a guess matched.
        return hmac.compare_digest(credentials.strip().encode(), self.token)


@blueprint.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    rt = app.extensions[EXTENSION]  # create_app puts the runtime there before blueprints
    settings = rt.config.metrics
    if not settings.enabled:
        return
    registry = CollectorRegistry()
    registry.register(UplightCollector(lambda: app.extensions[EXTENSION]))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    token = read_token(rt.config)
    if token is not None:
        log.info("metrics: /metrics requires a bearer token")
    app.extensions[METRICS_EXTENSION] = Exposition(registry, token)


def read_token(config: Config) -> bytes | None:
    """The token from ``metrics.bearer_token_file``, read once; surrounding whitespace dropped.

    A missing, unreadable or empty file is a startup error: serving metrics without
    the protection the operator asked for would be worse than not starting.
    """
    path = config.metrics.bearer_token_file
    if path is None:
        return None
    if not path.is_absolute() and config.source is not None:
        path = config.source.parent / path  # like storage.path: relative to the config file
    where = "metrics.bearer_token_file"
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(where, f"cannot read {path}: {exc.strerror}")], config.source
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            [ConfigIssue(where, f"{path} is not UTF-8 text")], config.source
        ) from None
    if not token:
        raise ConfigError([ConfigIssue(where, f"{path} is empty")], config.source)
    return token.encode()


@blueprint.get("/metrics")
async def metrics() -> Response:
    exposition: Exposition | None = current_app.extensions.get(METRICS_EXTENSION)
    if exposition is None:  # [metrics] enabled = false: as if the route did not exist
        raise ApiError(404, "NOT_FOUND", "no such route or resource")
    if not exposition.authorized(request.headers.get("Authorization")):
        response = error_response(401, "UNAUTHORIZED", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    # Prometheus asks for OpenMetrics in Accept; choose_encoder negotiates as client_python does.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(exposition.registry)  # in-memory only: cheap enough for the event loop
    response = Response(body, status=200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
