"""What a follower refuses (docs/deploy.md, "Several servers").

Every server sharing a PostgreSQL database serves the page and the APIs' reads.
Writes (any method but GET, HEAD and OPTIONS) and heartbeats (``/ping/…``, any
method) change what the leader holds in memory (its scheduler, incident engine,
maintenance windows, heartbeat states), so a follower answers them ``503
NOT_LEADER`` with ``Retry-After``, having done nothing: the proxy can send the
request to the other server (nginx: ``proxy_next_upstream http_503
non_idempotent``), or the client retries. With SQLite the one server always leads.
"""

from __future__ import annotations

import math

from quart import Quart, Response, request

from .console.guard import PATH as CONSOLE_PATH
from .console.guard import refused
from .context import EXTENSION
from .errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sessions are rows in the shared database: nothing the leader holds in memory.
SESSION_ENDPOINTS = frozenset({"console.sign_in_post", "console.sign_out"})


def install_leader_only(app: Quart) -> None:
    @app.before_request
    async def _refuse_on_a_follower() -> Response | None:
        runtime = app.extensions[EXTENSION]
        if runtime.leading:
            return None
        if request.method in SAFE_METHODS and not request.path.startswith("/ping/"):
            return None
        if request.endpoint in SESSION_ENDPOINTS:
            return None
        if request.path.startswith(CONSOLE_PATH + "/") or request.path == CONSOLE_PATH:
            response = await refused(
                "This server follows another one, which does the changes: nothing was"
                " changed. Try again in a moment (a proxy in front can send it to the"
                ' leading server; see docs/deploy.md, "Several servers").',
                503,
            )
        else:
            response = error_response(
                503,
                "NOT_LEADER",
                "this server follows another that leads; send writes and heartbeats there",
            )
        # By then a follower may have taken the lead from a leader that died.
        response.headers["Retry-After"] = str(math.ceil(runtime.config.server.leader_poll))
        return response
