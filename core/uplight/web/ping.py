"""Heartbeat routes: ``/ping/<token>`` for cron jobs, backups and anything that can run curl.

- ``GET|POST|HEAD /ping/<token>``: a success
- ``/ping/<token>/start``: a run started (the next success measures its duration)
- ``/ping/<token>/fail``: a failure
- ``/ping/<token>/<exit-code>``: 0 is a success, 1 to 255 a failure

A POST body's first 10 KB (UTF-8, undecodable bytes replaced) go with the ping as
text for the operator. The answer is ``200 OK`` as text. A token no monitor has is
the app's plain 404, the answer of any unknown path, so a guess learns nothing; the
routes are rate-limited per client (as the public routes are, in a budget of their
own) and per monitor. The token is never logged, and the answers never repeat it.
What a ping means is the monitor's check type's to say (``monitoring/pings.py``).
"""

from __future__ import annotations

from quart import Blueprint, Quart, Response, abort, current_app, request

from ..checks import PingKind
from ..runtime import Runtime
from .answers import rate_limited
from .context import runtime
from .security import RateGate

blueprint = Blueprint("ping", __name__)
PING_EXTENSION = "uplight.ping"
MAX_BODY = 10 * 1024
METHODS = ["GET", "POST"]  # HEAD comes with GET


def ping_gate(app: Quart, rt: Runtime) -> RateGate:
    """The ping routes' limiter: ``[public.rate_limit]``'s budget, kept apart from the
    pages' so a busy cron host and its visitors do not starve each other."""
    gate: RateGate | None = app.extensions.get(PING_EXTENSION)
    settings = rt.config.public.rate_limit
    if gate is None:
        gate = app.extensions[PING_EXTENSION] = RateGate(settings)
    else:
        gate.configure(settings)
    return gate


def parse_action(action: str | None) -> tuple[PingKind, int | None] | None:
    """What the path after the token asks for; None for anything unknown."""
    if action is None:
        return "success", None
    if action in ("start", "fail"):
        return action, None  # type: ignore[return-value]
    if action.isascii() and action.isdigit() and len(action) <= 3 and action == str(int(action)):
        code = int(action)
        if code <= 255:
            return ("success" if code == 0 else "fail"), code
    return None


async def read_body() -> str:
    """The first ``MAX_BODY`` bytes of a POST body, as text; the rest is not read."""
    if request.method != "POST":
        return ""
    data = bytearray()
    async for chunk in request.body:
        data += chunk
        if len(data) >= MAX_BODY:
            break
    # A character cut at the limit becomes one replacement character, as any bad byte.
    return bytes(data[:MAX_BODY]).decode("utf-8", "replace")


def _limited(retry_after: int) -> Response:
    return rate_limited(retry_after, head=request.method == "HEAD").to_response()


@blueprint.route("/ping/<token>", methods=METHODS)
@blueprint.route("/ping/<token>/<action>", methods=METHODS)
async def ping(token: str, action: str | None = None) -> Response:
    rt = runtime()
    gate = ping_gate(current_app, rt)
    forwarded = ", ".join(request.headers.getlist("X-Forwarded-For")) or None
    # Per client first, so guessing tokens costs a guesser its own budget.
    retry_after = gate.check(request.remote_addr, forwarded)
    if retry_after:
        return _limited(retry_after)
    parsed = parse_action(action)
    monitor = rt.pings.find(token) if parsed is not None else None
    if monitor is None or parsed is None:
        abort(404)
    limiter = gate.limiter
    if limiter is not None:
        allowed, retry_after = limiter.allow(f"monitor {monitor.id}")  # no IP has a space
        if not allowed:
            return _limited(retry_after)
    kind, exit_code = parsed
    await rt.pings.receive(monitor, kind, exit_code, await read_body())
    body = "" if request.method == "HEAD" else "OK\n"
    response = Response(body, status=200, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"  # every ping must reach us
    return response
