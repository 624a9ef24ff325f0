"""The console's blueprint and the rules every route of it goes through.

- No live session: a redirect to the sign-in page (the sign-in page and the
  static files excepted).
- A state-changing request carries the session's CSRF token (a form field, or
  the ``X-CSRF-Token`` header for a fetch), else a 403 page says why.
- Every answer: a CSP that lets forms post to us (the public page's allows no
  form at all), and ``no-store``: an operator's view is not for a shared cache.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, g, redirect, render_template, request

from ...auth.sessions import ConsoleSessions, Session
from ..context import runtime

COOKIE = "uplight_console"
PRE_COOKIE = "uplight_console_signin"  # sign-in's own CSRF (double submit), before a session
PATH = "/admin"
SIGN_IN = "/admin/sign-in"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

OPEN_ENDPOINTS = frozenset({"console.sign_in", "console.sign_in_post", "console.static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

blueprint = Blueprint(
    "console",
    __name__,
    url_prefix=PATH,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def sessions() -> ConsoleSessions:
    rt = runtime()
    admin = rt.config.admin
    return ConsoleSessions(rt.store, rt.clock, idle=admin.session_idle, max_age=admin.session_max)


def current_session() -> Session:
    session: Session = g.console_session
    return session


def secure_cookies() -> bool:
    """HTTPS to us, or a public address that says so (a TLS proxy in front)."""
    return request.scheme == "https" or runtime().config.server.public_base_url.startswith(
        "https://"
    )


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        secure=secure_cookies(),
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, secure=secure_cookies(), httponly=True, samesite="Strict"
    )


async def page(template: str, status: int = 200, **context: Any) -> Response:
    body = await render_template(template, **context)
    return Response(body, status=status, content_type="text/html; charset=utf-8")


async def refused(message: str, status: int = 403) -> Response:
    return await page("console/refused.html", status, message=message)


def to_sign_in() -> Response:
    response = redirect(SIGN_IN, code=303)
    clear_cookie(response, COOKIE)
    return response


@blueprint.before_request
async def _guard() -> Response | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    session = await sessions().resume(request.cookies.get(COOKIE))
    if session is None:
        return to_sign_in()
    g.console_session = session
    if request.method not in SAFE_METHODS:
        form = await request.form
        given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not ConsoleSessions.csrf_ok(session, given):
            return await refused(
                "This form was refused: its security token is missing or wrong."
                " Reload the page and try again."
            )
    return None


@blueprint.after_request
async def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.context_processor
async def _context() -> dict[str, Any]:
    session = g.get("console_session")
    return {"console_session": session, "csrf_token": session.csrf_token if session else ""}
