"""Stored rows → public views: pure functions, no I/O (``pages.PageService`` reads,
these shape). Rules are in ``uplight.snapshot``'s docstring."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..config import Config
from ..incidents.models import Incident, IncidentUpdate, auto_title
from ..maintenance.lifecycle import clock_status
from ..maintenance.models import LIVE, StoredWindow
from ..models import Status
from ..monitoring.store import DayCountRow, DayCounts, LatestStatus, group_daily_counts
from ..snapshot import (
    HISTORY_DAYS,
    ComponentView,
    HistoryDay,
    IncidentUpdateView,
    IncidentView,
    MaintenanceView,
    PageSnapshot,
    counted_checks,
    history_status,
    overall_status,
    uptime_percent,
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
    """Groups by their smallest sort_order, members by sort_order, ungrouped last.

    Ties keep the given order, which is the config's for a provisioned page (and
    the order components were added for one made through the API): with no
    ``sort_order`` at all, a page shows its components as they are configured.
    """
    grouped: dict[str | None, list[ShownComponent]] = {}
    for comp in components:
        grouped.setdefault(comp.group, []).append(comp)
    ungrouped = grouped.pop(None, [])
    # Stable sorts: a dict keeps first appearance, so equal groups stay in config order.
    names = sorted(
        (g for g in grouped if g is not None),
        key=lambda g: min(c.sort_order for c in grouped[g]),
    )
    out: list[ShownComponent] = []
    for members in [*(grouped[name] for name in names), ungrouped]:
        out.extend(sorted(members, key=lambda c: c.sort_order))
    return out


def history_days(today: dt.date) -> tuple[dt.date, ...]:
    """The ``HISTORY_DAYS`` UTC days ending ``today``, oldest first."""
    return tuple(today - dt.timedelta(days=back) for back in range(HISTORY_DAYS - 1, -1, -1))


def history_cell(day: dt.date, counts: DayCounts | None, overlapped: bool = False) -> HistoryDay:
    if counts is None:
        return HistoryDay(day, Status.NO_DATA, None, 0)
    total, up, degraded, down, maintenance = counts
    # A window that overlapped the day makes it a maintenance cell even when no
    # check happened to fall inside it (a short window, an hourly monitor).
    status = history_status(total, up, degraded, down, maintenance or int(overlapped))
    uptime = uptime_percent(up + degraded, counted_checks(total, down, maintenance))
    return HistoryDay(day, status, uptime, total)


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
            checks += counted_checks(found[0], found[3], found[4])
            answered += found[1] + found[2]
        else:
            found = None
        in_window = day in overlapped
        cell = shared.get((key, found, in_window))
        if cell is None:
            cell = shared[(key, found, in_window)] = history_cell(day, found, in_window)
        cells.append(cell)
    return tuple(cells), uptime_percent(answered, checks)


_RANK = {
    Status.OPERATIONAL: 0,
    Status.DEGRADED: 1,
    Status.PARTIAL_OUTAGE: 2,
    Status.MAJOR_OUTAGE: 3,
}


def component_status(
    latest: LatestStatus | None,
    *,
    in_maintenance: bool,
    incident: Incident | None = None,
    set_by_operator: Iterable[str] = (),
) -> Status:
    """The monitor's classified state: its thresholds decide, as they do for incidents.

    A monitor counts as down (or degraded) once it tripped ``failure_threshold``,
    which is exactly when the incident engine opens an incident, and until
    ``recovery_threshold`` ends it; a single failed check does not turn the page red.
    ``set_by_operator``: the ``component_status`` of the active manual incidents that
    concern it; the worst of those and the checks' state wins (before any check too).
    """
    if in_maintenance:
        return Status.MAINTENANCE  # dominates a real failure and an operator's word
    found = [Status(s) for s in set_by_operator]
    if latest is None:
        return max(found, key=_RANK.__getitem__) if found else Status.NO_DATA
    if incident is not None:
        found.append(Status.DEGRADED if incident.severity == "minor" else Status.MAJOR_OUTAGE)
    return max(found, key=_RANK.__getitem__, default=Status.OPERATIONAL)


def incident_names(
    incident: Incident, page_slug: str, shown: Sequence[ShownComponent]
) -> tuple[str, ...] | None:
    """The public names of the incident's components on this page; None when the page
    does not show the incident. An automatic incident is shown where its monitor is;
    a manual one on its ``page`` (every page without one), where it names at least one
    shown component or names none (then it concerns the whole page: no names)."""
    if not incident.manual:
        names = tuple(c.name for c in shown if c.monitor_id == incident.monitor_id)
        return names or None
    if incident.page is not None and incident.page != page_slug:
        return None
    if not incident.component_ids:
        return ()
    concerned = set(incident.component_ids)
    names = tuple(c.name for c in shown if c.monitor_id in concerned)
    return names or None


def operator_statuses(
    incidents: Iterable[Incident], page_slug: str, shown: Sequence[ShownComponent]
) -> dict[str, list[str]]:
    """By monitor id: the component_status the active manual incidents shown on this page
    give it (one naming no component gives it to every component of the page)."""
    found: dict[str, list[str]] = {}
    for incident in incidents:
        if not (incident.manual and incident.active and incident.component_status):
            continue
        if incident_names(incident, page_slug, shown) is None:
            continue
        concerned = set(incident.component_ids)
        for comp in shown:
            if not concerned or comp.monitor_id in concerned:
                found.setdefault(comp.monitor_id, []).append(incident.component_status)
    return found


def incident_view(
    incident: Incident,
    names: tuple[str, ...],
    timeline: Sequence[IncidentUpdate],
    permalink: str,
) -> IncidentView:
    """``names`` are its components' public names on the page the incident is shown on
    (:func:`incident_names`), ``permalink`` its URL there (:func:`incident_url`)."""
    updates = tuple(IncidentUpdateView(u.phase, u.message, u.created_at) for u in timeline)
    # A manual incident always has a public title; an automatic one has its component.
    title = incident.public_title or auto_title(names[0] if names else "", incident.auto_severity)
    return IncidentView(
        id=incident.id,
        title=title,
        description=incident.public_description,
        severity=incident.severity,
        status="active" if incident.active else "ended",
        started_at=incident.started_at,
        ended_at=incident.ended_at,
        components=names,
        latest_update=updates[0] if updates else None,
        updates=updates,
        permalink=permalink,
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
        completed_at=completed_at(window, now),
    )


def completed_at(window: StoredWindow, now: dt.datetime) -> dt.datetime | None:
    """When a completed window really ended: its ``completed_at`` (earlier than
    ``ends_at`` when completed early), or ``ends_at`` when the clock ended it and the
    stored status has not caught up yet."""
    if window.status == "completed":
        return window.completed_at or window.ends_at
    if window.status in LIVE and window_status(window, now) == "completed":
        return window.ends_at
    return None


def page_origin(base_url: str, page: StoredPage) -> str:
    """Where the page's absolute links point: ``server.public_base_url``, or for a
    page with a ``hostname``, that name under the base URL's scheme, port and path
    (the same server, reached by another name)."""
    if not page.hostname:
        return base_url
    parts = urlsplit(base_url)
    port = f":{parts.port}" if parts.port else ""
    netloc = host_name(page.hostname) + port
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def page_path(page: StoredPage) -> str:
    """The page's path on its origin: /status for the default page and for a page with
    a hostname (its Host picks it), /status/pages/<slug> for the others."""
    return "/status" if page.default or page.hostname else f"/status/pages/{page.slug}"


def page_url(base_url: str, page: StoredPage) -> str:
    return page_origin(base_url, page) + page_path(page)


def incident_url(base_url: str, page: StoredPage, incident_id: int) -> str:
    """An incident's permalink on this page: under the page's path, so that following
    it renders the incident with this page's names."""
    return f"{page_url(base_url, page)}/incidents/{incident_id}"


def host_name(host: str) -> str:
    """A Host header without its port, lowercased: ``Status.Example.com:443`` →
    ``status.example.com``; ``[::1]:8080`` → ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True, slots=True)
class SnapshotRows:
    """What a page snapshot is made of: read on the event loop, shaped by
    :func:`page_snapshot` in the render thread.

    Owned, not shared: the mappings come from this compute's own reads and nothing
    else holds them, the rows are frozen, and the loop does not touch any of it
    after the hand-over, so the thread needs no lock.
    """

    page: StoredPage
    base_url: str
    now: dt.datetime
    days: tuple[dt.date, ...]
    shown: tuple[ShownComponent, ...]
    latest: Mapping[str, LatestStatus]
    count_rows: Sequence[DayCountRow]  # daily rollups as read, grouped in page_snapshot
    overlapped: Mapping[str, Set[dt.date]]
    covered: frozenset[str]  # monitors in maintenance now
    active: tuple[StoredWindow, ...]
    upcoming: tuple[StoredWindow, ...]
    recent_windows: tuple[StoredWindow, ...]
    placed: tuple[tuple[Incident, tuple[str, ...]], ...]  # newest first, with page names
    timelines: Mapping[int, Sequence[IncidentUpdate]]


def page_snapshot(rows: SnapshotRows) -> PageSnapshot:
    """The public snapshot of rows already read: pure, so it may run off the loop."""
    page, now, shown = rows.page, rows.now, rows.shown
    names = {c.monitor_id: c.name for c in shown}
    counts = group_daily_counts((c.monitor_id for c in shown), rows.count_rows)
    incidents = [i for i, _ in rows.placed]
    open_incidents = {i.monitor_id: i for i in incidents if i.active and not i.manual}
    set_by_operator = operator_statuses(incidents, page.slug, shown)
    keyed = [(day, day.isoformat()) for day in rows.days]
    shared: dict[tuple[str, DayCounts | None, bool], HistoryDay] = {}
    components = []
    for comp in shown:
        cells, uptime = history(
            keyed,
            counts.get(comp.monitor_id, {}),
            shared,
            rows.overlapped.get(comp.monitor_id, frozenset()),
        )
        last = rows.latest.get(comp.monitor_id)
        components.append(
            ComponentView(
                id=comp.public_id,
                name=comp.name,
                group=comp.group,
                description=comp.description,
                status=component_status(
                    last,
                    in_maintenance=comp.monitor_id in rows.covered,
                    incident=open_incidents.get(comp.monitor_id),
                    set_by_operator=set_by_operator.get(comp.monitor_id, ()),
                ),
                updated_at=last.checked_at if last else None,
                uptime=uptime,
                history=cells,
            )
        )
    views = [
        incident_view(
            i,
            shown_as,
            rows.timelines.get(i.id, ()),
            incident_url(rows.base_url, page, i.id),
        )
        for i, shown_as in rows.placed
    ]
    return PageSnapshot(
        slug=page.slug,
        title=page.title,
        status=overall_status([c.status for c in components], maintenance_active=bool(rows.active)),
        components=tuple(components),
        active_incidents=tuple(v for v in views if v.status == "active"),
        recent_incidents=tuple(v for v in views if v.status == "ended"),
        # Soonest first: what happens next is read first.
        active_maintenance=tuple(maintenance_view(w, names, now) for w in reversed(rows.active)),
        upcoming_maintenance=tuple(
            maintenance_view(w, names, now) for w in reversed(rows.upcoming)
        ),
        recent_maintenance=tuple(maintenance_view(w, names, now) for w in rows.recent_windows),
        generated_at=now,
        base_url=page_origin(rows.base_url, page),
        page_url=page_url(rows.base_url, page),
        history_days=rows.days,
    )
