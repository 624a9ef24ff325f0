"""``GET /metrics``: Prometheus exposition of the runtime's in-memory state.

The app owns its collectors (built when the blueprint is registered), so two
apps in one process (tests) never share metrics and nothing lands on
prometheus_client's global default registry.

A scrape never holds the event loop for long: on the loop, the collector copies
what it needs from the live state (``UplightCollector.freeze``: copies only);
the metric families and the exposition text (22 MB at 10,000 monitors) are
built from that copy in uplight's one worker thread (:mod:`uplight.memory`,
shared with page renders). Scrapes that arrive while one is
being built for the same format share its answer, so a burst of scrapers costs
one build and one copy of the state, not one each.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Metric, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from quart import Blueprint, Response, current_app, request
from quart.blueprints import BlueprintSetupState

from ..config import Config, ConfigError, ConfigIssue
from ..memory import in_worker
from ..metrics import UplightCollector
from ..scrape import ScrapeFacts
from .context import EXTENSION
from .errors import ApiError, error_response
from .exposition import encode

log = logging.getLogger(__name__)

blueprint = Blueprint("metrics", __name__)
METRICS_EXTENSION = "uplight.metrics"


@dataclass(frozen=True)
class _Scrape:
    """What an encoder reads in the worker thread: one frozen moment of uplight's state,
    then the process and platform collectors (they read /proc, not uplight's state)."""

    collector: UplightCollector
    facts: ScrapeFacts
    others: CollectorRegistry

    def collect(self) -> Iterator[Metric]:
        yield from self.collector.families(self.facts)
        yield from self.others.collect()


@dataclass
class Exposition:
    collector: UplightCollector
    others: CollectorRegistry  # process_* and python_info
    token: bytes | None  # the bearer token; never logged, never in a response
    _building: dict[str, asyncio.Future[tuple[bytes, str]]] = field(default_factory=dict)

    async def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition in the format ``accept`` negotiates, built off the event loop."""
        # Prometheus asks for OpenMetrics in Accept; choose_encoder negotiates as
        # client_python does (exposition.encode writes what its encoder would).
        _, content_type = choose_encoder(accept)
        pending = self._building.get(content_type)
        if pending is None:
            scrape = _Scrape(self.collector, self.collector.freeze(), self.others)
            pending = in_worker(encode, scrape.collect(), accept)
            self._building[content_type] = pending
            pending.add_done_callback(lambda _: self._building.pop(content_type, None))
        # Shielded: a scraper that gives up must not cancel the others' answer.
        return await asyncio.shield(pending)

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
    others = CollectorRegistry()
    ProcessCollector(registry=others)
    PlatformCollector(registry=others)
    token = read_token(rt.config)
    if token is not None:
        log.info("metrics: /metrics requires a bearer token")
    collector = UplightCollector(lambda: app.extensions[EXTENSION])
    app.extensions[METRICS_EXTENSION] = Exposition(collector, others, token)


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
    body, content_type = await exposition.render(request.headers.get("Accept", ""))
    response = Response(body, status=200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
