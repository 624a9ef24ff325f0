"""Header negotiation for the public answers: gzip, conditional requests, HTML or JSON, Host.

Pure functions of header strings, shared by the Quart routes and the ASGI fast
path; the per-request ones are memoised (clients send few distinct headers).
"""

from __future__ import annotations

import functools
import re


def _q(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0  # a malformed weight accepts nothing
    return 1.0


@functools.lru_cache(maxsize=512)
def accepts_gzip(header: str | None) -> bool:
    """``Accept-Encoding`` allows gzip: named with q > 0, or ``*`` with q > 0 and gzip unnamed.

    Memoised: clients send a handful of distinct headers, and this runs per request.
    """
    if not header:
        return False
    named: float | None = None
    star: float | None = None
    for part in header.split(","):
        token, _, params = part.partition(";")
        token = token.strip().lower()
        if token in ("gzip", "x-gzip"):
            named = max(named or 0.0, _q(params))
        elif token == "*":
            star = _q(params)
    if named is not None:
        return named > 0
    return star is not None and star > 0


_ETAG = re.compile(r'\*|(?:W/)?"[^"]*"')


@functools.lru_cache(maxsize=512)
def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` by weak comparison: a list of tags, ``W/`` ignored, ``*`` matches."""
    if not if_none_match:
        return False
    ours = etag.removeprefix("W/")
    for tag in _ETAG.findall(if_none_match):
        if tag == "*" or tag.removeprefix("W/") == ours:
            return True
    return False


def wants_html(accept: str | None) -> bool:
    """Whether an error should be a page: ``text/html`` named explicitly and not below JSON.

    A browser names text/html; ``curl`` (``*/*``) and API clients get the envelope.
    """
    html = json = 0.0
    for part in (accept or "").split(","):
        token, _, params = part.partition(";")
        token = token.strip().lower()
        if token in ("text/html", "application/xhtml+xml"):
            html = max(html, _q(params))
        elif token == "application/json":
            json = max(json, _q(params))
    return html > 0 and html >= json
