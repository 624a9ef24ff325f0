"""One monitor's page: its facts, recent results (paged), a latency chart drawn here as
SVG (``chart.py``), the incidents and maintenance windows touching it, and what an
operator does to it: reveal a push monitor's ping URL, set a manual monitor's state,
run its check now.

Everything goes through the services the admin API uses: the monitor service (the
facts as ``GET /api/v1/monitors/<id>`` shapes them, scrubbed by its ``MonitorOut``;
results; ``set_state`` as ``PUT …/state``, after the API's own ``StateSet`` model
has checked the form; ``check_now``; ``ping_url``), the incident service and the
maintenance service. The ping URL holds the monitor's secret token: it is on the
answer to the reveal form only (``no-store``, as every console answer).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import ValidationError
from quart import Response, redirect, request

from ...incidents.models import incident_title
from ...models import CheckStatus, ResultRecord
from ...monitoring.pings import PingSetupError
from ...monitoring.service import (
    MonitorNotCheckable,
    MonitorNotFound,
    MonitorNotManual,
    MonitorNotPush,
    MonitorOverview,
    ResultPosition,
)
from ..api.monitors import STATES, StateSet, monitor_out
from ..api.paging import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from ..context import runtime
from .chart import Point, latency_chart
from .guard import blueprint, current_session, page, refused

CHART_HOURS = 24
CHART_MAX = 2000  # results drawn at most: a 30 s monitor's day is 2,880
GAP_INTERVALS = 2.5  # silence, in the monitor's intervals, that breaks the chart's line
LISTED = 20  # incidents and maintenance windows shown
MAX_MS = 253_402_300_799_999  # the end of year 9999: later is no time to page from
SET_STATUS = {
    "operational": CheckStatus.UP,
    "degraded": CheckStatus.DEGRADED,
    "down": CheckStatus.DOWN,
}

Errors = dict[str, str]


def _url(monitor_id: str) -> str:
    return f"/admin/monitors/{monitor_id}"


def _position() -> ResultPosition | None:
    cursor = request.args.get("before")
    if cursor is None or not re.search(CURSOR_PATTERN, cursor):
        return None  # not one this page made: the newest results
    at_ms, skip = decode_cursor(cursor)
    return ResultPosition(max(0, min(at_ms, MAX_MS)), skip)


def _limit() -> int:
    try:
        return max(1, min(int(request.args.get("limit", DEFAULT_LIMIT)), MAX_LIMIT))
    except ValueError:
        return DEFAULT_LIMIT


def _points(records: list[ResultRecord]) -> list[Point]:
    return [Point(r.checked_at, r.result.latency, r.result.status.value) for r in records]


async def _view(monitor_id: str) -> MonitorOverview | None:
    try:
        return await runtime().monitors.get_monitor(monitor_id)
    except MonitorNotFound:
        return None


async def _not_found() -> Response:
    return await refused("There is no monitor with that id in the config.", 404)


async def _monitor_page(
    view: MonitorOverview,
    *,
    status: int = 200,
    ping_url: str | None = None,
    state_errors: Errors | None = None,
    check_error: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    rt = runtime()
    monitor = view.monitor
    service = rt.monitors
    limit = _limit()
    before = _position()
    results = await service.results(monitor.id, before=before, limit=limit)
    now = rt.clock.now()
    start = now - dt.timedelta(hours=CHART_HOURS)
    recent = await service.results(monitor.id, since=start, limit=CHART_MAX)
    if recent.next is not None and recent.items:
        start = recent.items[-1].checked_at  # more than it draws: the chart covers those drawn
    chart = latency_chart(
        _points(recent.items),
        start=start,
        end=now,
        gap=monitor.interval * GAP_INTERVALS,
        title=f"Latency of {monitor.name}, last {CHART_HOURS} hours",
        ident="latency",
    )
    incidents = await rt.incident_service.list_incidents(monitor_id=monitor.id, limit=LISTED)
    windows = await rt.maintenance.windows_touching(monitor.id, limit=LISTED)
    check_type = rt.registry.check_types.get(monitor.type)
    next_before = (
        encode_cursor(results.next.at_ms, results.next.skip) if results.next is not None else None
    )
    return await page(
        "console/monitor.html",
        status,
        m=monitor_out(view),
        url=_url(monitor.id),
        results=results.items,
        paged=before is not None,
        next_before=next_before,
        limit=limit,
        chart=chart,
        incidents=incidents.items,
        title_of=incident_title,
        more_incidents=incidents.next is not None,
        windows=windows,
        push=bool(check_type is not None and check_type.accepts_pings),
        manual=view.operator_state is not None,
        not_checkable=service.why_not_checkable(monitor.id),
        ping_url=ping_url,
        states=STATES,
        state_errors=state_errors or {},
        check_error=check_error,
        form=form or {},
        saved=request.args.get("saved", "")[:20],
        checked=request.args.get("checked", "")[:20],
    )


@blueprint.get("/monitors/<monitor_id>")
async def monitor(monitor_id: str) -> Response:
    view = await _view(monitor_id)
    if view is None:
        return await _not_found()
    return await _monitor_page(view)


@blueprint.post("/monitors/<monitor_id>/ping-url")
async def reveal_ping_url(monitor_id: str) -> Response:
    view = await _view(monitor_id)
    if view is None:
        return await _not_found()
    try:
        url = runtime().monitors.ping_url(monitor_id)
    except (MonitorNotPush, PingSetupError) as exc:  # neither message holds the token
        return await refused(str(exc), 409)
    return await _monitor_page(view, ping_url=url)


def _state_errors(exc: ValidationError) -> Errors:
    found: Errors = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "form"
        found.setdefault(field, error["msg"])
    return found


@blueprint.post("/monitors/<monitor_id>/state")
async def set_state(monitor_id: str) -> Response:
    view = await _view(monitor_id)
    if view is None:
        return await _not_found()
    form = await request.form
    message = form.get("message", "")
    data: dict[str, Any] = {
        "status": form.get("status", ""),
        "message": message if message.strip() else None,
    }
    errors: Errors = {}
    try:
        body = StateSet.model_validate(data)
    except ValidationError as exc:
        errors = _state_errors(exc)
    else:
        try:
            await runtime().monitors.set_state(
                monitor_id,
                SET_STATUS[body.status],
                body.message or "",
                set_by=current_session().token_name,
            )
        except MonitorNotManual as exc:
            errors = {"form": str(exc)}
    if errors:
        shown = {k: v for k, v in form.items() if k != "csrf"}
        status = 409 if "form" in errors else 422
        return await _monitor_page(view, status=status, state_errors=errors, form=shown)
    return redirect(f"{_url(monitor_id)}?saved=state", code=303)


@blueprint.post("/monitors/<monitor_id>/check")
async def check_now(monitor_id: str) -> Response:
    view = await _view(monitor_id)
    if view is None:
        return await _not_found()
    try:
        record = await runtime().monitors.check_now(monitor_id)
    except MonitorNotCheckable as exc:
        return await _monitor_page(view, status=409, check_error=str(exc))
    outcome = "done" if record is not None else "uncounted"
    return redirect(f"{_url(monitor_id)}?checked={outcome}", code=303)
