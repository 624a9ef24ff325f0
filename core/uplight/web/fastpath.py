"""The cached fast path: public GET/HEAD answered from the page cache without entering Quart.

Quart's own per-request work (request and response objects, context locals,
hooks, routing) costs about as much as hypercorn's, and a visitor's request to
``/status`` is almost always a cache hit. This ASGI layer, wrapped around
``app.asgi_app``, recognises the cacheable public routes and answers them
with the functions the Quart views use (``lookup``, ``rendered_for``,
``cached_answer`` in ``web/public.py``), so the rules cannot differ: the same
rate limiter instance (one budget per client whichever path answers), Host →
page resolution, ETag/304, gzip, Cache-Control, Vary and security headers.
Each cache entry's answer is encoded for ASGI once and reused until the entry
is replaced (a new snapshot is a new entry); the encoded answers are held only
as long as the page cache holds their entry (weakly keyed), so replaced
snapshots and their rendered bodies are freed at once.

Everything else passes through untouched: lifespan and websocket scopes, other
methods and routes, query strings the API would reject (a repeated parameter:
Quart answers with the 422 envelope), and every error (unknown page or
component, a cold compute failure). When it passes a request on after charging
its token, it marks the scope so the Quart route does not charge it again.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from quart import Quart

from ..pages.cache import Cached, SnapshotUnavailable
from .context import EXTENSION
from .negotiation import accepts_gzip, etag_matches
from .public import (
    RATE_CHECKED,
    Answer,
    NotFound,
    Target,
    cached_answer,
    incident_target,
    lookup,
    page_target,
    rate_gate,
    rate_limited,
    rendered_for,
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API = "/api/public/v1/"
_SLUG = r"[^/]+"  # what Quart's default converter takes; unknown slugs become a 404 in Quart
_PAGE = re.compile(rf"^/status/pages/({_SLUG})(/fragment)?$")
_INCIDENT = re.compile(rf"^/status(?:/pages/({_SLUG}))?/incidents/([1-9][0-9]{{0,18}})$")
_API_PARAMS = {
    "status.json": ("json", frozenset({"page"})),
    "incidents.rss": ("rss", frozenset({"page"})),
    "badge.svg": ("badge", frozenset({"page", "component", "style"})),
}


@functools.lru_cache(maxsize=1024)
def match(path: str, query_string: bytes) -> Target | None:
    """The cacheable target a request names, or None to let Quart decide.

    Memoised: a busy page sees the same few paths and query strings over and over.
    """
    if path == "/status":
        return page_target(None, fragment=False)
    if path == "/status/fragment":
        return page_target(None, fragment=True)
    if path.startswith("/status/"):
        found = _PAGE.match(path)
        if found:
            return page_target(found.group(1), fragment=found.group(2) is not None)
        found = _INCIDENT.match(path)
        if found:
            return _incident_target(found.group(1), int(found.group(2)), query_string)
        return None
    if path.startswith(API):
        spec = _API_PARAMS.get(path[len(API) :])
        return _api_target(*spec, query_string) if spec else None
    return None


def _incident_target(slug: str | None, incident_id: int, query_string: bytes) -> Target | None:
    # Other parameters are ignored, as on every HTML route (?utm_source=…).
    if not query_string.isascii():
        return None  # raw non-ASCII: Quart's own decoding decides
    pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True)
    before = [value for key, value in pairs if key == "before"]
    try:
        return incident_target(incident_id, slug, before)
    except NotFound:
        return None  # Quart answers the 404


def _api_target(renderer: str, allowed: frozenset[str], query_string: bytes) -> Target | None:
    if not query_string.isascii():
        return None  # raw non-ASCII: Quart's own decoding decides
    pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True)
    # Unknown parameters are ignored, as the API does (``?v=2`` busting a badge's
    # cache); the target holds only what selects the bytes, so they never make a
    # cache entry of their own. ``style`` has one value to draw: it selects nothing.
    known = [(name, value) for name, value in pairs if name in allowed]
    params = dict(known)
    if len(params) != len(known):
        return None  # a repeated parameter: the API's 422
    return Target(renderer, slug=params.get("page"), component=params.get("component"))


MAX_PREPARED = 64  # per entry: targets (page, fragment, permalinks) and encodings


@dataclass(frozen=True, slots=True)
class Prepared:
    """One cache entry's answers for one target and encoding, encoded for ASGI once.

    Built from :func:`cached_answer`, the function the Quart routes use, so the
    bytes are the same; HEAD sends the 200's headers with no body.
    """

    etag: str
    ok: tuple[tuple[bytes, bytes], ...]
    body: bytes
    not_modified: tuple[tuple[bytes, bytes], ...]


@dataclass
class FastPathStats:
    served: int = 0  # answered here, 304s included
    rate_limited: int = 0  # 429s answered here
    passed: int = 0  # handed to Quart


class FastPath:
    """ASGI middleware: ``app.asgi_app = FastPath(app, app.asgi_app)``."""

    def __init__(self, app: Quart, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner
        self.enabled = True  # tests and the benchmark compare against Quart alone
        self.stats = FastPathStats()
        # Weak keys: an entry the page cache has replaced (every TTL) goes with its
        # answers. Holding it here kept dozens of old snapshots and bodies alive.
        self._prepared: weakref.WeakKeyDictionary[Cached[Any], dict[Any, Prepared]] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.enabled
            or scope["method"] not in ("GET", "HEAD")
            or scope.get("root_path")  # mounted under a prefix: Quart maps the path
        ):
            return await self.inner(scope, receive, send)
        target = match(scope["path"], scope["query_string"])
        if target is None:
            self.stats.passed += 1
            return await self.inner(scope, receive, send)

        host = if_none_match = accept_encoding = forwarded_for = accept = None
        for name, value in scope["headers"]:
            # Header names arrive lowercased (ASGI); the first of each is used, as Quart does.
            if name == b"host":
                host = host or value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = if_none_match or value.decode("latin-1")
            elif name == b"accept-encoding":
                accept_encoding = accept_encoding or value.decode("latin-1")
            elif name == b"accept":
                accept = accept or value.decode("latin-1")
            elif name == b"x-forwarded-for":
                # Every line, in order (see public.enforce_rate_limit).
                line = value.decode("latin-1")
                forwarded_for = f"{forwarded_for}, {line}" if forwarded_for else line
        head = scope["method"] == "HEAD"
        rt = self.app.extensions[EXTENSION]  # read per request: a reload replaces it
        peer = (scope.get("client") or ("<local>",))[0]
        retry_after = rate_gate(self.app, rt).check(peer, forwarded_for)
        if retry_after:
            self.stats.rate_limited += 1
            limited = rate_limited(
                retry_after, head=head, rt=rt, accept=accept, html_route=target.html_errors
            )
            return await _send(send, limited)
        try:
            entry = await lookup(rt, target, host)
            gzip = accepts_gzip(accept_encoding)
            # Keyed by the entry itself: a new snapshot is a new entry, so nothing stale
            # is ever served from here, and a reload (a new cache) starts afresh.
            prepared = self._prepared.get(entry, {}).get((target, gzip))
            if prepared is None:
                prepared = await self._prepare(rt, entry, target, gzip)
        except (NotFound, SnapshotUnavailable):
            # Quart builds the error answers (the 404 page needs the Accept rules).
            scope[RATE_CHECKED] = True
            self.stats.passed += 1
            return await self.inner(scope, receive, send)
        self.stats.served += 1
        if if_none_match is not None and etag_matches(if_none_match, prepared.etag):
            status, headers, body = 304, prepared.not_modified, b""
        else:
            status, headers, body = 200, prepared.ok, b"" if head else prepared.body
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _prepare(self, rt: Any, entry: Any, target: Target, gzip: bool) -> Prepared:
        rendered = await rendered_for(rt, entry, target, gzip=gzip)
        ok = cached_answer(rendered, head=False, if_none_match=None)
        not_modified = cached_answer(rendered, head=False, if_none_match=rendered.etag)
        prepared = Prepared(
            rendered.etag, _raw_headers(ok.headers), ok.body, _raw_headers(not_modified.headers)
        )
        answers = self._prepared.setdefault(entry, {})
        if len(answers) >= MAX_PREPARED:
            answers.clear()
        answers[(target, gzip)] = prepared
        return prepared


def _raw_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    # A tuple: the prepared value is shared between requests, a server cannot change it.
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)


async def _send(send: Send, result: Answer) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": result.status,
            "headers": _raw_headers(result.headers),
        }
    )
    await send({"type": "http.response.body", "body": result.body, "more_body": False})


def install_fast_path(app: Quart) -> FastPath:
    fast = FastPath(app, app.asgi_app)
    app.asgi_app = fast  # type: ignore[method-assign]
    return fast
