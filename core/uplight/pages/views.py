"""Stored rows → public views: pure functions, no I/O (``pages.PageService`` reads,
these shape). Rules are in ``uplight.snapshot``'s docstring."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from ..config import Config
from ..incidents.models import Incident, IncidentUpdate, auto_title
from ..maintenance.lifecycle import clock_status
from ..maintenance.models import LIVE, StoredWindow
from ..models import Status
from ..monitoring.store import DayCounts, LatestStatus
from ..snapshot import (
    HISTORY_DAYS,
    HistoryDay,
    IncidentUpdateView,
    IncidentView,
    MaintenanceView,
    history_status,
)
from .models import StoredPage


@dataclass(frozen=True, slots=True)
class ShownComponent:
    """A page component as the public sees it, still knowing its monitor (never shown)."""

    monitor_id: str
    public_id: str
    name: str
    group: str | None
    description: str | None
    sort_order: int


def shown_components(page: StoredPage, config: Config) -> list[ShownComponent]:
    """The page's components in display order, those of unconfigured monitors left out.

    A component whose monitor left the config has nothing to show, and only its
    monitor id to name it by, which must not reach the public.
    """
    monitors = {m.id: m for m in config.monitors}
    shown = []
    for comp in page.components:
        monitor = monitors.get(comp.monitor_id)
        if monitor is None:
            continue
        shown.append(
            ShownComponent(
                monitor_id=comp.monitor_id,
                public_id=comp.public_id,
                name=comp.public_name or monitor.name,
                group=comp.public_group,
                description=comp.public_description,
                sort_order=comp.sort_order,
            )
        )
    return display_order(shown)


def display_order(components: Iterable[ShownComponent]) -> list[ShownComponent]:
    """Groups by their smallest sort_order (ties: name), members by sort_order then
    name, ungrouped last. Sorting is stable: insertion order breaks full ties."""
    grouped: dict[str | None, list[ShownComponent]] = {}
    for comp in components:
        grouped.setdefault(comp.group, []).append(comp)
    ungrouped = grouped.pop(None, [])
    names = sorted(
        (g for g in grouped if g is not None),
        key=lambda g: (min(c.sort_order for c in grouped[g]), g),
    )
    out: list[ShownComponent] = []
    for members in [*(grouped[name] for name in names), ungrouped]:
        out.extend(sorted(members, key=lambda c: (c.sort_order, c.name)))
    return out


def history_days(today: dt.date) -> tuple[dt.date, ...]:
    """The ``HISTORY_DAYS`` UTC days ending ``today``, oldest first."""
    return tuple(today - dt.timedelta(days=back) for back in range(HISTORY_DAYS - 1, -1, -1))


def uptime_percent(answered: int, checks: int) -> float | None:
    return answered / checks * 100 if checks else None


def history_cell(day: dt.date, counts: DayCounts | None, overlapped: bool = False) -> HistoryDay:
    if counts is None:
        return HistoryDay(day, Status.NO_DATA, None, 0)
    total, up, degraded, down, maintenance = counts
    # A window that overlapped the day makes it a maintenance cell even when no
    # check happened to fall inside it (a short window, an hourly monitor).
    status = history_status(total, up, degraded, down, maintenance or int(overlapped))
    return HistoryDay(day, status, (up + degraded) / total * 100, total)


def history(
    days: Sequence[tuple[dt.date, str]],
    counts: Mapping[str, DayCounts],
    shared: dict[tuple[str, DayCounts | None, bool], HistoryDay],
    overlapped: Set[dt.date] = frozenset(),
) -> tuple[tuple[HistoryDay, ...], float | None]:
    """One cell per (day, ISO day), ``no_data`` where no rollup counted a check, and
    the uptime over all of them.

    ``shared`` holds the cells made so far for the page, by day and counts: cells
    are immutable, and on most pages most components count the same on most days
    (every check up), so a cell is made once per page rather than per component.
    """
    cells = []
    checks = answered = 0
    for day, key in days:
        found = counts.get(key)
        if found and found[0]:
            checks += found[0]
            answered += found[1] + found[2]
        else:
            found = None
        in_window = day in overlapped
        cell = shared.get((key, found, in_window))
        if cell is None:
            cell = shared[(key, found, in_window)] = history_cell(day, found, in_window)
        cells.append(cell)
    return tuple(cells), uptime_percent(answered, checks)


def component_status(
    latest: LatestStatus | None,
    *,
    in_maintenance: bool,
    incident: Incident | None = None,
) -> Status:
    """The monitor's classified state: its thresholds decide, as they do for incidents.

    A monitor counts as down (or degraded) once it tripped ``failure_threshold``,
    which is exactly when the incident engine opens an incident, and until
    ``recovery_threshold`` ends it; a single failed check does not turn the page red.
    """
    if in_maintenance:
        return Status.MAINTENANCE  # dominates a real failure
    if latest is None:
        return Status.NO_DATA
    if incident is not None:
        return Status.DEGRADED if incident.severity == "minor" else Status.MAJOR_OUTAGE
    return Status.OPERATIONAL


def incident_view(
    incident: Incident,
    name: str,
    timeline: Sequence[IncidentUpdate],
    base_url: str,
) -> IncidentView:
    """``name`` is the component's public name on the page the incident is shown on."""
    updates = tuple(IncidentUpdateView(u.phase, u.message, u.created_at) for u in timeline)
    return IncidentView(
        id=incident.id,
        title=incident.public_title or auto_title(name, incident.auto_severity),
        description=incident.public_description,
        severity=incident.severity,
        status="active" if incident.active else "ended",
        started_at=incident.started_at,
        ended_at=incident.ended_at,
        components=(name,),
        latest_update=updates[0] if updates else None,
        updates=updates,
        permalink=f"{base_url}/status/incidents/{incident.id}",
    )


def window_status(window: StoredWindow, now: dt.datetime) -> str:
    """The status by the clock for a live window (the stored one may lag by a tick)."""
    if window.status in LIVE:
        return clock_status(window.starts_at, window.ends_at, now)
    return window.status


def maintenance_view(
    window: StoredWindow, names: dict[str, str], now: dt.datetime
) -> MaintenanceView:
    return MaintenanceView(
        id=window.id,
        title=window.title,
        description=window.description,
        severity=window.severity,
        status=window_status(window, now),
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        components=tuple(names[m] for m in window.component_ids if m in names),
    )


def page_url(base_url: str, page: StoredPage) -> str:
    """The default page lives at /status, the others under /status/pages/<slug>."""
    return f"{base_url}/status" if page.default else f"{base_url}/status/pages/{page.slug}"


def host_name(host: str) -> str:
    """A Host header without its port, lowercased: ``Status.Example.com:443`` →
    ``status.example.com``; ``[::1]:8080`` → ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
