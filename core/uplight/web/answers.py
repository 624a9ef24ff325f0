"""Public answers as plain data: status, headers and body exactly as sent.

Both serving paths (the Quart views in ``public.py`` and the ASGI fast path in
``fastpath.py``) send these, so a cached page, an error envelope or an error
page carries the same headers whichever path answers.

Errors are never cached (``Cache-Control: no-store``). On an HTML route a
browser (``text/html`` named in ``Accept``, not below JSON) gets the html
renderer's page for a 404 or a 429; everyone else, and every other route, gets
the JSON envelope.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from quart import Response

from ..pages.cache import Rendered
from ..runtime import Runtime
from .assets import asset_url_for
from .negotiation import etag_matches, wants_html
from .security import SECURITY_HEADERS, rate_limited_message

ERROR_CACHE_CONTROL = "no-store"  # an error must not outlive its cause in a shared cache


@dataclass(frozen=True, slots=True)
class Answer:
    """Status, headers and body exactly as sent, by either serving path."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_response(self) -> Response:
        response = Response(self.body, status=self.status)
        response.headers.clear()  # no default Content-Type: exactly our headers
        for name, value in self.headers:
            response.headers.add(name, value)
        return response


def cached_answer(rendered: Rendered, *, head: bool, if_none_match: str | None) -> Answer:
    """A rendered cache entry → 200 (or 304), with every caching and security header."""
    common = (
        ("ETag", rendered.etag),
        ("Cache-Control", f"public, max-age={rendered.max_age}"),
        ("Vary", "Accept-Encoding"),
        *SECURITY_HEADERS,
    )
    if etag_matches(if_none_match, rendered.etag):
        return Answer(304, common, b"")
    headers = [("Content-Type", rendered.media_type), *common]
    if rendered.gzipped:
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(rendered.body))))
    return Answer(200, tuple(headers), b"" if head else rendered.body)


def envelope(
    status: int, code: str, message: str, *, retry_after: int | None = None, head: bool = False
) -> Answer:
    """The public error envelope, never cached, with the security headers."""
    # The same bytes as the rest of the API's envelope (compact, newline-terminated).
    error = {"error": {"code": code, "message": message}}
    body = (json.dumps(error, separators=(",", ":")) + "\n").encode()
    headers = [("Content-Type", "application/json"), ("Cache-Control", ERROR_CACHE_CONTROL)]
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    headers += [*SECURITY_HEADERS, ("Content-Length", str(len(body)))]
    return Answer(status, tuple(headers), b"" if head else body)


ErrorView = Literal["not_found", "rate_limited"]


@functools.lru_cache(maxsize=8)
def _error_page(
    renderer: Any,
    view: ErrorView,
    base_url: str,
    asset_url: Callable[[str], str],
    config_path: str | None = None,
) -> bytes:
    # One body per renderer and view: a flood of 429s must not cost a render each.
    extra = {"config_path": config_path} if config_path else {}
    return renderer.render(None, view=view, base_url=base_url, asset_url=asset_url, **extra)


def error_page(
    rt: Runtime,
    accept: str | None,
    view: ErrorView,
    status: int,
    *,
    html_route: bool,
    config_path: str | None = None,
) -> Answer | None:
    """The html renderer's page for an error on an HTML route, when a browser asked
    (``text/html`` in ``Accept``); None: answer with the envelope."""
    renderer = rt.registry.renderers.get("html")
    if not html_route or renderer is None or not wants_html(accept):
        return None
    base_url, asset_url = rt.config.server.public_base_url, asset_url_for(renderer)
    body = _error_page(renderer, view, base_url, asset_url, config_path)
    headers = (
        ("Content-Type", renderer.media_type),
        ("Cache-Control", ERROR_CACHE_CONTROL),
        ("Vary", "Accept"),
        *SECURITY_HEADERS,
        ("Content-Length", str(len(body))),
    )
    return Answer(status, headers, body)


def rate_limited(
    retry_after: int,
    *,
    head: bool,
    rt: Runtime | None = None,
    accept: str | None = None,
    html_route: bool = False,
) -> Answer:
    """429 with ``Retry-After``: the HTML page for a browser on an HTML route, else
    the envelope."""
    page = None
    if rt is not None:
        page = error_page(rt, accept, "rate_limited", 429, html_route=html_route)
    if page is None:
        message = rate_limited_message(retry_after)
        return envelope(429, "RATE_LIMITED", message, retry_after=retry_after, head=head)
    headers = (*page.headers[:3], ("Retry-After", str(retry_after)), *page.headers[3:])
    return Answer(429, headers, b"" if head else page.body)
