"""GET /api/v1/health/dashboard: what an operator checks first when something is off."""

from __future__ import annotations

import datetime as dt
import time

from pydantic import BaseModel

from ... import __version__
from ...notify.stats import ChannelFacts
from ...runtime import Runtime
from ..context import runtime
from .operations import ApiBlueprint

api = ApiBlueprint("dashboard", "/api/v1/health", tag="health")


class LoopStall(BaseModel):
    """The event loop held for ``seconds``: by a check of ``monitor`` (of check type
    ``type``), or by something else when both are null."""

    at: dt.datetime
    seconds: float
    monitor: str | None
    type: str | None


class SchedulerHealth(BaseModel):
    running: bool
    monitors: int
    lag_seconds: float
    last_tick: dt.datetime | None
    abandoned_checks: int
    loop_lag_seconds: float
    loop_stalls: int
    recent_stalls: list[LoopStall]  # newest first


class MonitorHealth(BaseModel):
    id: str
    type: str
    last_status: str | None
    last_checked_at: dt.datetime | None
    last_message: str | None
    last_error: str | None
    consecutive_failures: int
    active_incident: int | None
    skipped_ticks: int
    abandoned_checks: int  # still running; at 3 its checks are skipped
    not_counted: int  # runs that event loop stalls caused by others covered twice


class StoreHealth(BaseModel):
    path: str
    file_bytes: int
    wal_bytes: int
    pending_writes: int
    flushed_results: int
    failed_flushes: int
    last_flush: dt.datetime | None


class ChannelHealth(BaseModel):
    """One notification channel; ``last_error`` is scrubbed of every option value."""

    id: str
    type: str
    enabled: bool
    pending: int
    dead: int
    oldest_pending: dt.datetime | None
    last_success: dt.datetime | None
    last_failure: dt.datetime | None
    last_error: str | None


class PageCacheCounters(BaseModel):
    """One page's public cache counters (incident permalinks share ``_incidents``)."""

    hits: int
    misses: int
    stale_served: int
    compute_errors: int
    computes: int
    compute_seconds_total: float


class CacheHealth(BaseModel):
    ttl_seconds: float
    pages: dict[str, PageCacheCounters]


class Dashboard(BaseModel):
    version: str
    uptime_seconds: float
    scheduler: SchedulerHealth
    monitors: list[MonitorHealth]
    store: StoreHealth
    notifications: list[ChannelHealth]
    cache: CacheHealth


def _time(unix: float | None) -> dt.datetime | None:
    return None if unix is None else dt.datetime.fromtimestamp(unix, dt.UTC)


@api.route(
    "GET", "/dashboard", summary="Scheduler, monitors and store at a glance", response=Dashboard
)
async def health_dashboard() -> Dashboard:
    rt = runtime()
    scheduler = rt.scheduler
    facts = await rt.store.facts()
    monitors = []
    for monitor_id, state in scheduler.states.items():
        last = state.last
        tracker = rt.monitor_tracker(monitor_id)
        monitors.append(
            MonitorHealth(
                id=monitor_id,
                type=state.monitor.type,
                last_status=last.result.status.value if last else None,
                last_checked_at=last.checked_at if last else None,
                last_message=last.result.message if last else None,
                last_error=last.error_reason if last else None,
                consecutive_failures=tracker.consecutive_failures,
                active_incident=tracker.active_incident,
                skipped_ticks=state.skipped_ticks,
                abandoned_checks=len(state.abandoned),
                not_counted=state.uncounted,
            )
        )
    return Dashboard(
        version=__version__,
        uptime_seconds=round(time.time() - rt.started_at, 3),
        scheduler=SchedulerHealth(
            running=scheduler.running,
            monitors=len(scheduler.states),
            lag_seconds=max((s.last_lag for s in scheduler.states.values()), default=0.0),
            last_tick=_time(scheduler.stats.last_tick),
            abandoned_checks=scheduler.stats.abandoned_tasks,
            loop_lag_seconds=round(scheduler.watchdog.lag, 3),
            loop_stalls=scheduler.watchdog.stalls.total(),
            recent_stalls=[
                LoopStall(
                    at=stall.at,
                    seconds=round(stall.seconds, 3),
                    monitor=stall.monitor_id,
                    type=stall.check_type,
                )
                for stall in scheduler.watchdog.recent
            ],
        ),
        monitors=monitors,
        store=StoreHealth(
            path=facts.path,
            file_bytes=facts.file_bytes,
            wal_bytes=facts.wal_bytes,
            pending_writes=facts.pending_results + facts.queued_writes,
            flushed_results=facts.flushed_results,
            failed_flushes=facts.failed_flushes,
            last_flush=_time(facts.last_flush),
        ),
        notifications=_channels(rt),
        cache=_cache(rt),
    )


def _cache(rt: Runtime) -> CacheHealth:
    """The public page cache: a page serving ``stale_served`` or ``compute_errors``
    is why visitors see an old status while the monitors look fine."""
    cache = rt.page_cache
    return CacheHealth(
        ttl_seconds=cache.ttl,
        pages={
            key: PageCacheCounters(
                hits=s.hits,
                misses=s.misses,
                stale_served=s.stale_served,
                compute_errors=s.compute_errors,
                computes=s.computes,
                compute_seconds_total=round(s.compute_seconds_total, 6),
            )
            for key, s in sorted(cache.stats().items())
        },
    )


def _channels(rt: Runtime) -> list[ChannelHealth]:
    """From the worker's in-memory view (refreshed after every delivery pass)."""
    facts, _ = rt.notifications.stats.snapshot()
    found = []
    for channel in rt.config.notifiers:
        f = facts.get(channel.id) or ChannelFacts()
        found.append(
            ChannelHealth(
                id=channel.id,
                type=channel.type,
                enabled=channel.enabled,
                pending=f.pending,
                dead=f.dead,
                oldest_pending=f.oldest_pending,
                last_success=f.last_success,
                last_failure=f.last_failure,
                last_error=f.last_error,
            )
        )
    return found
