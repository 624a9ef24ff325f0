"""Page snapshots: the public data of a status page, computed in one place.

:class:`PageService` keeps the directory of pages (in memory, reloaded by
:meth:`PageService.refresh` after every change) and builds the public types of
``uplight.snapshot`` from the database. The status rules themselves
(component, page, history cell) live in ``uplight.snapshot``; this module
decides what goes in:

- Components: only the monitors bound to the page that are still configured,
  under the page's ``public_name`` (else the monitor's name). Groups are ordered
  by their smallest ``sort_order`` (ties: group name), components within a
  group by ``sort_order`` then name; ungrouped components come last.
- Component status: ``no_data`` before any result, ``maintenance`` while an
  active window covers it, else the thresholded state: an open incident (the
  engine's, stored, so right after a restart too) makes it ``major_outage`` or,
  for a minor one, ``degraded``; otherwise ``operational``.
- History: exactly ``HISTORY_DAYS`` UTC days ending today, oldest first, from
  the daily rollups only. A cell's uptime is 100 * (up + degraded) / checks; a
  day whose rollup counts a check taken during maintenance is a maintenance
  cell. The component's uptime is the same ratio over all 90 days' checks.
- Incidents of the page's monitors: active, plus those that ended within
  ``RECENT_INCIDENT_DAYS``. Their automatic title names the component by its
  public name on that page, in the incident engine's wording:
  ``"<public name> is down"`` (engine severity major/critical) or
  ``"<public name> is degraded"`` (minor). A monitor's own name never reaches a
  page on which it is called something else.
- Maintenance windows covering at least one of the page's monitors: active,
  upcoming (scheduled to start within ``UPCOMING_MAINTENANCE_DAYS``), and the
  ``RECENT_MAINTENANCE_LIMIT`` newest by start in every state. A window names
  only the page's components, by their public names. Whether a window is
  active is decided by the clock, not by the stored status, which may lag it.

The public types are built only from names, status words, times and text the
operator wrote for the public: never from a monitor's target, headers,
credentials or check message (the queries used here do not even read those).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from .clock import Clock, SystemClock
from .config import Config
from .incidents import auto_title
from .models import Status
from .snapshot import (
    HISTORY_DAYS,
    RECENT_INCIDENT_DAYS,
    RECENT_MAINTENANCE_LIMIT,
    UPCOMING_MAINTENANCE_DAYS,
    ComponentView,
    HistoryDay,
    IncidentPage,
    IncidentUpdateView,
    IncidentView,
    MaintenanceView,
    PageSnapshot,
    history_status,
    overall_status,
)
from .store import Store
from .store import incidents as db_incidents
from .store.maintenance import (
    LIVE,
    StoredWindow,
    clock_status,
    maintenance_days,
    windows_touching,
)
from .store.pages import StoredPage, get_page, list_pages
from .store.pages import public_component_id as public_component_id
from .store.results import DayCounts, LatestStatus, daily_counts, latest_statuses


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
    incident: db_incidents.Incident | None = None,
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
    incident: db_incidents.Incident,
    name: str,
    timeline: Sequence[db_incidents.IncidentUpdate],
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


class PageService:
    """Pages as stored in the database (config-provisioned and API-created), and the
    public snapshots built from them.

    The directory of pages is held in memory and reloaded by :meth:`refresh`
    after every change (provisioning, API writes), so resolving a request to a
    page costs no query and :meth:`is_on_a_page` can be answered synchronously.
    Snapshots read the page afresh, so they never show a component the database
    no longer has.
    """

    def __init__(self, config: Config, store: Store, *, clock: Clock | None = None) -> None:
        self._config = config
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._pages: dict[str, StoredPage] = {}
        self._by_host: dict[str, str] = {}
        self._default: str | None = None
        self._on_a_page: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()

    # -- the directory ------------------------------------------------------------

    async def refresh(self, config: Config | None = None) -> None:
        """Reload the directory from the database (and take a reloaded config)."""
        # Serialised: a slow refresh that started earlier must not overwrite a newer one.
        async with self._lock:
            if config is not None:
                self._config = config
            pages = await list_pages(self._store)
            self._pages = {p.slug: p for p in pages}
            self._by_host = {p.hostname.lower(): p.slug for p in pages if p.hostname}
            self._default = next((p.slug for p in pages if p.default), None)
            self._on_a_page = frozenset(
                c.monitor_id
                for p in pages
                for c in p.components
                if self._config.monitor(c.monitor_id)
            )

    def page(self, slug: str | None = None) -> StoredPage | None:
        """A page by slug; the default page (served at /status) without one."""
        key = self._default if slug is None else slug
        return self._pages.get(key) if key is not None else None

    def pages(self) -> list[StoredPage]:
        return list(self._pages.values())

    def slugs(self) -> list[str]:
        return list(self._pages)

    def resolve(self, slug: str | None = None, host: str | None = None) -> str | None:
        """The slug a public request means: ``slug`` if such a page exists; without one,
        the page whose hostname is the request's Host (any case, port ignored), else
        the default page. None: no such page."""
        if slug is not None:
            return slug if slug in self._pages else None
        if host:
            matched = self._by_host.get(host_name(host))
            if matched is not None:
                return matched
        return self._default

    def is_on_a_page(self, monitor_id: str) -> bool:
        """Whether any page shows this monitor; for the incident engine, called per result."""
        return monitor_id in self._on_a_page

    # -- snapshots ----------------------------------------------------------------

    async def page_snapshot(self, slug: str) -> PageSnapshot | None:
        """The snapshot of the page stored under ``slug``; None if there is none."""
        page = await get_page(self._store, slug)
        return None if page is None else await self.snapshot(page)

    async def snapshot(self, page: StoredPage) -> PageSnapshot:
        now = self._clock.now()
        config = self._config
        base_url = config.server.public_base_url
        shown = shown_components(page, config)
        ids = [c.monitor_id for c in shown]
        names = {c.monitor_id: c.name for c in shown}
        days = history_days(now.astimezone(dt.UTC).date())

        latest = await latest_statuses(self._store, ids)
        counts = await daily_counts(self._store, ids, days[0])
        overlapped = await maintenance_days(self._store, ids, days[0], now)
        live = await windows_touching(self._store, ids, statuses=LIVE)
        recent_windows = await windows_touching(self._store, ids, limit=RECENT_MAINTENANCE_LIMIT)
        since = now - dt.timedelta(days=RECENT_INCIDENT_DAYS)
        incidents = await db_incidents.incidents_of_monitors(self._store, ids, ended_since=since)
        timelines = await db_incidents.incident_timelines(self._store, [i.id for i in incidents])

        active = [w for w in live if window_status(w, now) == "active"]
        horizon = now + dt.timedelta(days=UPCOMING_MAINTENANCE_DAYS)
        upcoming = [
            w for w in live if window_status(w, now) == "scheduled" and w.starts_at <= horizon
        ]
        covered = {m for w in active for m in w.component_ids}

        open_incidents = {i.monitor_id: i for i in incidents if i.active}
        keyed = [(day, day.isoformat()) for day in days]
        shared: dict[tuple[str, DayCounts | None, bool], HistoryDay] = {}
        components = []
        for comp in shown:
            cells, uptime = history(
                keyed,
                counts.get(comp.monitor_id, {}),
                shared,
                overlapped.get(comp.monitor_id, frozenset()),
            )
            last = latest.get(comp.monitor_id)
            components.append(
                ComponentView(
                    id=comp.public_id,
                    name=comp.name,
                    group=comp.group,
                    description=comp.description,
                    status=component_status(
                        last,
                        in_maintenance=comp.monitor_id in covered,
                        incident=open_incidents.get(comp.monitor_id),
                    ),
                    updated_at=last.checked_at if last else None,
                    uptime=uptime,
                    history=cells,
                )
            )
        views = [
            incident_view(i, names[i.monitor_id], timelines.get(i.id, ()), base_url)
            for i in incidents
        ]
        return PageSnapshot(
            slug=page.slug,
            title=page.title,
            status=overall_status([c.status for c in components], maintenance_active=bool(active)),
            components=tuple(components),
            active_incidents=tuple(v for v in views if v.status == "active"),
            recent_incidents=tuple(v for v in views if v.status == "ended"),
            # Soonest first: what happens next is read first.
            active_maintenance=tuple(maintenance_view(w, names, now) for w in reversed(active)),
            upcoming_maintenance=tuple(maintenance_view(w, names, now) for w in reversed(upcoming)),
            recent_maintenance=tuple(maintenance_view(w, names, now) for w in recent_windows),
            generated_at=now,
            base_url=base_url,
            page_url=page_url(base_url, page),
            history_days=days,
        )

    async def incident_page(self, incident_id: int) -> IncidentPage | None:
        """An incident's permalink page, on the first page showing its monitor (the
        default page first); None when there is no such incident or no page shows it."""
        incident = await db_incidents.get_incident(self._store, incident_id)
        if incident is None:
            return None
        pages = sorted(await list_pages(self._store), key=lambda p: not p.default)
        for page in pages:
            shown = next(
                (
                    c
                    for c in shown_components(page, self._config)
                    if c.monitor_id == incident.monitor_id
                ),
                None,
            )
            if shown is None:
                continue
            base_url = self._config.server.public_base_url
            timeline = await db_incidents.incident_updates(self._store, incident.id)
            return IncidentPage(
                page_slug=page.slug,
                page_title=page.title,
                page_url=page_url(base_url, page),
                incident=incident_view(incident, shown.name, timeline, base_url),
                generated_at=self._clock.now(),
            )
        return None


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
