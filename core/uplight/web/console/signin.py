"""Signing in with an API token, and out.

The token travels only in the POST body of the sign-in form: never in a URL,
a cookie, a log line or a page. Attempts are rate-limited per client (the
public routes' client rules: the peer, or X-Forwarded-For from a trusted proxy).
"""

from __future__ import annotations

import hmac
import secrets

from quart import Response, current_app, redirect, request

from ..context import runtime
from ..ratelimit import TokenBucketLimiter, client_ip, parse_networks
from .guard import (
    COOKIE,
    PATH,
    PRE_COOKIE,
    blueprint,
    clear_cookie,
    current_session,
    page,
    refused,
    sessions,
    set_cookie,
    to_sign_in,
)

LIMITER = "uplight.console.sign_in_limiter"
ATTEMPTS_PER_MINUTE = 10
TOKEN_MAX = 200


def _limiter() -> TokenBucketLimiter:
    limiter = current_app.extensions.get(LIMITER)
    if limiter is None:
        limiter = TokenBucketLimiter(ATTEMPTS_PER_MINUTE / 60.0, ATTEMPTS_PER_MINUTE)
        current_app.extensions[LIMITER] = limiter
    return limiter


def _client() -> str:
    trusted = parse_networks(runtime().config.public.rate_limit.trusted_proxies)
    return client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"), trusted)


async def _form(status: int = 200, error: str = "") -> Response:
    pre = secrets.token_urlsafe(24)
    response = await page("console/sign_in.html", status, error=error, sign_in_csrf=pre)
    set_cookie(response, PRE_COOKIE, pre, max_age=3600)
    return response


@blueprint.get("/sign-in")
async def sign_in() -> Response:
    if await sessions().resume(request.cookies.get(COOKIE)) is not None:
        return redirect(PATH, code=303)
    return await _form()


@blueprint.post("/sign-in")
async def sign_in_post() -> Response:
    allowed, retry_after = _limiter().allow(_client())
    if not allowed:
        response = await refused(
            f"Too many sign-in attempts from this address; try again in {retry_after} s.", 429
        )
        response.headers["Retry-After"] = str(retry_after)
        return response
    form = await request.form
    expected = request.cookies.get(PRE_COOKIE, "")
    given = form.get("csrf", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return await refused(
            "The sign-in form was refused: its security token is missing or wrong."
            " Open the sign-in page again and retry."
        )
    token = form.get("token", "").strip()
    session = None
    if token and len(token) <= TOKEN_MAX:
        session = await sessions().sign_in(token)
    if session is None:
        return await _form(401, "That token is not valid (it may have been revoked).")
    response = redirect(PATH, code=303)
    clear_cookie(response, PRE_COOKIE)
    # A session cookie (no Max-Age): the server's limits end it, closing the browser too.
    set_cookie(response, COOKIE, session.secret, max_age=None)
    return response


@blueprint.post("/sign-out")
async def sign_out() -> Response:
    await sessions().sign_out(current_session())
    return to_sign_in()
