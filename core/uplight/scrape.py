"""One scrape's view of uplight's in-memory state: what ``/metrics`` reads, and the
copy of it a scrape takes.

The protocols name exactly what the collector (``metrics.py``) reads from the
runtime, so it depends on them rather than on the runtime. :func:`freeze`
copies all of it into :class:`ScrapeFacts` on the event loop (the only thread
that changes that state; copies only, linear in monitors), so the families and
the exposition text can then be built from the facts in a worker thread while
checks go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from .checks import CheckType
from .config import MonitorConfig
from .db.writer import WriterStats
from .monitoring.stats import MonitorStats
from .notify.stats import ChannelFacts
from .pages.cache import CacheStats


class MonitorRun(Protocol):
    """One monitor's scheduler state (``monitoring.scheduler.MonitorState``)."""

    @property
    def monitor(self) -> MonitorConfig: ...
    @property
    def last_lag(self) -> float: ...
    @property
    def skipped_ticks(self) -> int: ...
    @property
    def abandoned(self) -> Collection[object]: ...
    @property
    def uncounted(self) -> int: ...


class WatchdogView(Protocol):
    """``monitoring.watchdog.LoopWatchdog``."""

    @property
    def stalls(self) -> Counter[str]: ...
    @property
    def stall_seconds(self) -> Counter[str]: ...
    @property
    def lag(self) -> float: ...


class SchedulerView(Protocol):
    @property
    def states(self) -> Mapping[str, MonitorRun]: ...
    @property
    def watchdog(self) -> WatchdogView: ...


class StatsView(Protocol):
    """``monitoring.stats.CheckStats``."""

    def snapshot(self) -> tuple[Mapping[str, MonitorStats], Counter[tuple[str, str]]]: ...


class MaintenanceView(Protocol):
    def is_active(self, monitor_id: str) -> bool: ...


class IncidentsView(Protocol):
    def has_open_incident(self, monitor_id: str) -> bool: ...


class WriterView(Protocol):
    @property
    def stats(self) -> WriterStats: ...


class StoreView(Protocol):
    @property
    def writer(self) -> WriterView:
        """Raises ``RuntimeError`` while the store is not open."""
        ...


class PageCacheView(Protocol):
    def stats(self) -> Mapping[str, CacheStats]: ...


class NotificationStatsView(Protocol):
    def snapshot(self) -> tuple[Mapping[str, ChannelFacts], Counter[tuple[str, str]]]: ...


class NotificationsView(Protocol):
    @property
    def stats(self) -> NotificationStatsView: ...


class CheckTypesView(Protocol):
    @property
    def check_types(self) -> Mapping[str, CheckType]: ...


class MetricsSettings(Protocol):
    """``config.MetricsConfig``."""

    @property
    def per_monitor_histograms(self) -> bool: ...


class ConfigView(Protocol):
    @property
    def metrics(self) -> MetricsSettings: ...


class ProbesView(Protocol):
    """``probes.service.ProbeService``: each location's counted result, (monitor,
    location, down)."""

    def location_facts(self) -> list[tuple[str, str, bool]]: ...


class MetricsSource(Protocol):
    """Everything a scrape reads, all of it in memory; the runtime is one."""

    @property
    def config(self) -> ConfigView: ...

    @property
    def started_at(self) -> float: ...
    @property
    def scheduler(self) -> SchedulerView: ...
    @property
    def check_stats(self) -> StatsView: ...
    @property
    def maintenance(self) -> MaintenanceView: ...
    @property
    def incidents(self) -> IncidentsView: ...
    @property
    def store(self) -> StoreView: ...
    @property
    def page_cache(self) -> PageCacheView | None: ...
    @property
    def notifications(self) -> NotificationsView | None: ...
    @property
    def registry(self) -> CheckTypesView: ...


@dataclass(frozen=True, slots=True)
class MonitorFacts:
    """One monitor's share of a scrape, copied on the event loop."""

    id: str
    type: str
    stats: MonitorStats  # a copy: CheckStats.snapshot()
    window_live: bool  # a maintenance window covers it now
    last_lag: float
    skipped_ticks: int
    abandoned: int
    uncounted: int
    incident_open: bool  # public or private: the engine's open incident


@dataclass(frozen=True, slots=True)
class ScrapeFacts:
    """Everything one scrape exports: copies and plain values, safe to read in any
    thread, while the live state they came from goes on changing."""

    now: float
    started_at: float
    monitors: tuple[MonitorFacts, ...]
    errors: Counter[tuple[str, str]]
    stalls: Counter[str]
    stall_seconds: Counter[str]
    loop_lag: float
    writer: WriterStats | None  # None: the store is not open
    page_cache: Mapping[str, CacheStats] | None
    notifications: tuple[Mapping[str, ChannelFacts], Counter[tuple[str, str]]] | None
    check_types: Mapping[str, CheckType]  # loaded once; a reload builds a new registry
    per_monitor_histograms: bool
    # (monitor, location, down) for each location's result counted in a join.
    locations: tuple[tuple[str, str, bool], ...] = ()
    leading: bool = True  # one of several servers on PostgreSQL may follow


def freeze(src: MetricsSource, now: float) -> ScrapeFacts:
    """A consistent copy of what a scrape reads. On the event loop: it reads live
    state that only the loop changes. Linear in monitors, copies only."""
    states = src.scheduler.states
    stats, errors = src.check_stats.snapshot()
    empty = MonitorStats()
    is_active = src.maintenance.is_active
    has_open_incident = src.incidents.has_open_incident
    monitors = tuple(
        MonitorFacts(
            monitor_id,
            state.monitor.type,
            stats.get(monitor_id) or empty,
            is_active(monitor_id),
            state.last_lag,
            state.skipped_ticks,
            len(state.abandoned),
            state.uncounted,
            has_open_incident(monitor_id),
        )
        for monitor_id, state in states.items()
    )
    watchdog = src.scheduler.watchdog
    try:
        writer: WriterStats | None = replace(src.store.writer.stats)  # plain counters
    except RuntimeError:
        writer = None  # store not open (starting or stopped)
    notifications = src.notifications
    # Not in MetricsSource: a source without probes (a test's) has no locations.
    probes: ProbesView | None = getattr(src, "probes", None)
    return ScrapeFacts(
        now=now,
        started_at=src.started_at,
        monitors=monitors,
        errors=errors,
        stalls=Counter(watchdog.stalls),
        stall_seconds=Counter(watchdog.stall_seconds),
        loop_lag=watchdog.lag,
        writer=writer,
        page_cache=src.page_cache.stats() if src.page_cache is not None else None,
        notifications=notifications.stats.snapshot() if notifications is not None else None,
        check_types=src.registry.check_types,
        per_monitor_histograms=src.config.metrics.per_monitor_histograms,
        locations=tuple(probes.location_facts()) if probes is not None else (),
        # Not in MetricsSource either: a source without leadership (a test's) leads.
        leading=bool(getattr(src, "leading", True)),
    )
