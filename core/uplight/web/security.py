"""What every response carries to be safe on the open internet, and the public rate limit.

The same constants and the same :class:`RateGate` are used by the Quart routes
and by the cached fast path in front of them (``fastpath.py``), so a visitor
gets identical headers and shares one budget whichever path answers.
"""

from __future__ import annotations

from quart import Quart, Response

from ..config import RateLimitConfig
from .ratelimit import Network, TokenBucketLimiter, client_ip, parse_networks

# No inline script or style anywhere: the page's CSS and JS are files under /assets.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    # A status page links to nothing private, but its visitors' paths are theirs.
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)

# Raw ASGI header pairs, built once: the fast path appends them as they are.
SECURITY_HEADERS_RAW: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS
)


def install_security_headers(app: Quart) -> None:
    """Every response of the app gets the headers (harmless on JSON, vital on HTML)."""

    @app.after_request
    async def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        return response


class RateGate:
    """The public routes' per-client-IP token bucket, shared by both serving paths.

    The settings come from the running config, which a reload can replace: the
    limiter is rebuilt only when ``[public.rate_limit]`` actually changed, so
    clients keep their budgets across an unrelated reload.
    """

    def __init__(self, settings: RateLimitConfig) -> None:
        self._settings: RateLimitConfig | None = None
        self._limiter: TokenBucketLimiter | None = None
        self._trusted: tuple[Network, ...] = ()
        self.configure(settings)

    def configure(self, settings: RateLimitConfig) -> None:
        # Identity first: this runs per request, and the settings object rarely changes.
        if settings is self._settings or settings == self._settings:
            return
        self._settings = settings
        self._trusted = parse_networks(settings.trusted_proxies)
        self._limiter = (
            TokenBucketLimiter(settings.requests_per_minute / 60.0, settings.burst)
            if settings.enabled
            else None
        )

    @property
    def limiter(self) -> TokenBucketLimiter | None:
        return self._limiter

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        return client_ip(peer, forwarded_for, self._trusted)

    def check(self, peer: str | None, forwarded_for: str | None) -> int:
        """0 when the request may go on, else the Retry-After seconds for a 429."""
        limiter = self._limiter
        if limiter is None:
            return 0
        allowed, retry_after = limiter.allow(self.client(peer, forwarded_for))
        return 0 if allowed else retry_after


def rate_limited_message(retry_after: int) -> str:
    return f"too many requests from this address; retry in {retry_after} s"
