"""The overview: every monitor (public and private) with its state, filterable, with a
24-hour strip and uptime over 24 h / 7 d / 30 d (``monitoring/availability.py``).

The rows come from the monitor service the admin API's ``GET /api/v1/monitors``
uses; filters are query parameters, so a plain reload shows the same thing the
script's periodic refresh does (it fetches ``/admin/fragment/overview``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, replace

from quart import Response, request

from ...checks import MonitorState
from ...models import CheckStatus
from ...monitoring.availability import Availability, availability
from ...monitoring.service import MonitorOverview
from ..context import runtime
from .guard import blueprint, page

STATES = ("operational", "degraded", "down", "maintenance", "no_data")
_WORDS = {
    CheckStatus.UP: "operational",
    CheckStatus.DEGRADED: "degraded",
    CheckStatus.DOWN: "down",
}
REFRESH_SECONDS = 15


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    type: str
    state: str
    since: dt.datetime | None
    latency_ms: float | None
    checked_at: dt.datetime | None
    message: str
    pages: tuple[str, ...]
    public: bool
    availability: Availability | None = None


@dataclass(frozen=True)
class Overview:
    rows: list[Row]
    counts: dict[str, int]
    total: int
    types: list[str]
    pages: list[str]
    state: str
    type: str
    page: str


def state_word(state: MonitorState) -> str:
    if state.in_maintenance:
        return "maintenance"
    if state.status is None:
        return "no_data"
    return _WORDS[state.status]


def row(view: MonitorOverview) -> Row:
    last = view.last
    latency = last.result.latency if last is not None else None
    return Row(
        id=view.monitor.id,
        name=view.monitor.name,
        type=view.monitor.type,
        state=state_word(view.state),
        since=view.state.since,
        latency_ms=latency * 1000 if latency is not None else None,
        checked_at=last.checked_at if last is not None else None,
        message=last.result.message if last is not None else "",
        pages=view.pages,
        public=bool(view.pages),
    )


async def overview(state: str, type_: str, page_: str) -> Overview:
    rt = runtime()
    rows = [row(v) for v in await rt.monitors.list_monitors()]
    counts = Counter(r.state for r in rows)
    shown = [
        r
        for r in rows
        if (not state or r.state == state)
        and (not type_ or r.type == type_)
        and (not page_ or page_ in r.pages)
    ]
    # Rollups of the rows shown only: a filter narrows the read too.
    found = await availability(rt.store, [r.id for r in shown], rt.clock.now())
    shown = [replace(r, availability=found.get(r.id)) for r in shown]
    return Overview(
        rows=shown,
        counts={s: counts.get(s, 0) for s in STATES},
        total=len(rows),
        types=sorted({r.type for r in rows}),
        pages=sorted({p for r in rows for p in r.pages}),
        state=state,
        type=type_,
        page=page_,
    )


def _filters() -> tuple[str, str, str]:
    state = request.args.get("state", "")
    return (
        state if state in STATES else "",
        request.args.get("type", "")[:64],
        request.args.get("page", "")[:64],
    )


@blueprint.get("")
async def home() -> Response:
    data = await overview(*_filters())
    return await page(
        "console/overview.html", view=data, refresh=REFRESH_SECONDS, query=request.query_string
    )


@blueprint.get("/fragment/overview")
async def overview_fragment() -> Response:
    data = await overview(*_filters())
    return await page("console/_overview_body.html", view=data)
