"""Words for an ``http`` check that got no usable answer.

Messages name the host and port of the request that failed, never the URL, and
exception text (not ours) is scrubbed of every configured credential.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from .http import HttpOptions

MAX_REDIRECTS = 10


def describe_error(exc: BaseException, options: HttpOptions) -> str:
    target = _target(exc, options)
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than {MAX_REDIRECTS})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return f"invalid HTTP response from {target}: {_scrub(str(exc), options, 120)}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "redirected to a URL that is not http:// or https://"
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS error: certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            reason = (cause.reason or "handshake failed").lower().replace("_", " ")
            return f"TLS error: {reason}"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {target}: {cause.strerror}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {target}"
        if isinstance(cause, OSError) and cause.errno:
            return f"connection to {target} failed: {os.strerror(cause.errno).lower()}"
    detail = _scrub(str(exc), options, 120)
    return f"request to {target} failed: {type(exc).__name__}" + (f": {detail}" if detail else "")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _target(exc: BaseException, options: HttpOptions) -> str:
    """host:port of the request that failed (a redirect may have moved it)."""
    url = httpx.URL(options.url)
    with contextlib.suppress(AttributeError, RuntimeError):
        url = exc.request.url  # type: ignore[attr-defined]
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _scrub(text: str, options: HttpOptions, limit: int) -> str:
    # Exception text is not ours: make sure no configured credential rides along.
    url, auth = httpx.URL(options.url), options.basic_auth
    secrets = [v.get_secret_value() for v in options.headers.values()]
    secrets += [url.username, url.password or "", auth.password.get_secret_value() if auth else ""]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _short(text, limit)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
