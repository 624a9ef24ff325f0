"""Page snapshots: the public data of a status page, computed in one place.

:class:`PageService` keeps the directory of pages (in memory, reloaded by
:meth:`PageService.refresh` after every change) and builds the public types of
``uplight.snapshot`` from the database. The status rules themselves
(component, page, history cell) live in ``uplight.snapshot``; this module
decides what goes in:

- Components: only the monitors bound to the page that are still configured,
  under the page's ``public_name`` (else the monitor's name). Groups are ordered
  by their smallest ``sort_order``, components within a group by ``sort_order``;
  ties keep the config's order; ungrouped components come last.
- Component status: ``no_data`` before any result, ``maintenance`` while an
  active window covers it, else the thresholded state: an open incident (the
  engine's, stored, so right after a restart too) makes it ``major_outage`` or,
  for a minor one, ``degraded``; otherwise ``operational``.
- History: exactly ``HISTORY_DAYS`` UTC days ending today, oldest first, from
  the daily rollups only. A day a (non-cancelled) maintenance window overlapped,
  or whose rollup counts a check taken during maintenance, is a maintenance
  cell. Uptime (a cell's, and the component's over the 90 days) is
  100 * (up + degraded) / counted checks, where failures during maintenance are
  not counted (``uplight.snapshot.counted_checks``).
- Manual incidents (opened by an operator): shown on their ``page`` (every page
  without one) when they name at least one of its components or name none (the
  whole page). While active, one with a ``component_status`` gives that state to
  the components it names (to every component of the page when it names none);
  the worst of that and the checks' state wins, and maintenance dominates both.
- Incidents of the page's monitors: active, plus those that ended within
  ``RECENT_INCIDENT_DAYS``. Their automatic title names the component by its
  public name on that page, in the incident engine's wording:
  ``"<public name> is down"`` (engine severity major/critical) or
  ``"<public name> is degraded"`` (minor). A monitor's own name never reaches a
  page on which it is called something else.
- Links: every absolute URL of a page (its own, its incidents' permalinks) is
  under the page's origin (``views.page_origin``), and a permalink is under the
  page's path, so following it shows the incident on the same page. A
  permalink page is built for one page: an incident of a monitor that page
  does not show is not there.
- Maintenance windows covering at least one of the page's monitors: active,
  upcoming (scheduled to start within ``UPCOMING_MAINTENANCE_DAYS``), and up to
  ``RECENT_MAINTENANCE_LIMIT`` in every state, newest start first, chosen from
  the windows that have started before any still ahead, so far-future plans
  never push history out (``recent_windows_touching``). A window names
  only the page's components, by their public names. Whether a window is
  active is decided by the clock, not by the stored status, which may lag it.

The public types are built only from names, status words, times and text the
operator wrote for the public: never from a monitor's target, headers,
credentials or check message (the queries used here do not even read those).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from ..clock import Clock, SystemClock
from ..config import Config
from ..db.store import Store
from ..incidents import store as db_incidents
from ..maintenance.models import LIVE
from ..maintenance.store import maintenance_days, recent_windows_touching, windows_touching
from ..monitoring.store import daily_count_rows, latest_statuses
from ..snapshot import (
    PERMALINK_UPDATES,
    RECENT_INCIDENT_DAYS,
    RECENT_MAINTENANCE_LIMIT,
    UPCOMING_MAINTENANCE_DAYS,
    IncidentPage,
    PageSnapshot,
)
from .cache import off_loop
from .models import StoredPage
from .store import get_page, list_pages
from .views import (
    SnapshotRows,
    history_days,
    host_name,
    incident_names,
    incident_url,
    incident_view,
    page_snapshot,
    page_url,
    shown_components,
    window_status,
)

__all__ = ["PageService", "host_name"]


class PageService:
    """Pages as stored in the database (config-provisioned and API-created), and the
    public snapshots built from them.

    The directory of pages is held in memory and reloaded by :meth:`refresh`
    after every change (provisioning, API writes), so resolving a request to a
    page costs no query and :meth:`is_on_a_page` can be answered synchronously.
    Snapshots read the page afresh, so they never show a component the database
    no longer has.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock | None = None,
        in_maintenance: Callable[[str], bool] = lambda monitor_id: False,
    ) -> None:
        self._config = config
        self._store = store
        self._clock: Clock = clock or SystemClock()
        # Maintenance no window names: a group whose members are all in maintenance.
        self._in_maintenance = in_maintenance
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
        return self.by_host(host) or self._default

    def by_host(self, host: str | None) -> str | None:
        """The page whose ``hostname`` is this Host header (any case, port ignored)."""
        return self._by_host.get(host_name(host)) if host else None

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
        days = history_days(now.astimezone(dt.UTC).date())

        latest = await latest_statuses(self._store, ids)
        count_rows = await daily_count_rows(self._store, ids, days[0])
        overlapped = await maintenance_days(self._store, ids, days[0], now)
        live = await windows_touching(self._store, ids, statuses=LIVE)
        recent_windows = await recent_windows_touching(
            self._store, ids, now=now, limit=RECENT_MAINTENANCE_LIMIT
        )
        since = now - dt.timedelta(days=RECENT_INCIDENT_DAYS)
        found = await db_incidents.incidents_of_monitors(self._store, ids, ended_since=since)
        found += await db_incidents.manual_incidents(self._store, ended_since=since)
        placed = [(i, n) for i in found if (n := incident_names(i, page.slug, shown)) is not None]
        placed.sort(key=lambda placing: (placing[0].started_at, placing[0].id), reverse=True)
        timelines = await db_incidents.incident_timelines(self._store, [i.id for i, _ in placed])

        active = [w for w in live if window_status(w, now) == "active"]
        horizon = now + dt.timedelta(days=UPCOMING_MAINTENANCE_DAYS)
        upcoming = [
            w for w in live if window_status(w, now) == "scheduled" and w.starts_at <= horizon
        ]
        covered = {m for w in active for m in w.component_ids}
        # Asked here, on the loop: the scheduler's state is not for another thread.
        covered |= {c.monitor_id for c in shown if self._in_maintenance(c.monitor_id)}
        rows = SnapshotRows(
            page=page,
            base_url=base_url,
            now=now,
            days=days,
            shown=tuple(shown),
            latest=latest,
            count_rows=count_rows,
            overlapped=overlapped,
            covered=frozenset(covered),
            active=tuple(active),
            upcoming=tuple(upcoming),
            recent_windows=tuple(recent_windows),
            placed=tuple(placed),
            timelines=timelines,
        )
        # The shaping (a cell per component and day: 90,000 at 1,000 components) is
        # pure CPU work on rows nothing else holds: in the render thread it no longer
        # holds the loop, so checks due meanwhile start on time.
        return await off_loop(page_snapshot, rows)

    async def incident_page(
        self, incident_id: int, slug: str, *, before: int | None = None
    ) -> IncidentPage | None:
        """An incident's permalink page on the page ``slug``, with that page's names.

        None when there is no such incident, that page does not show its monitor, or
        ``before`` names no part of its timeline. Updates are numbered from 1 (the
        first posted); the page shows the ``PERMALINK_UPDATES`` newest, or with
        ``before`` the ones numbered below it (``2 <= before <= count``).
        """
        page = await get_page(self._store, slug)
        if page is None:
            return None
        incident = await db_incidents.get_incident(self._store, incident_id)
        if incident is None:
            return None
        shown_as = incident_names(incident, page.slug, shown_components(page, self._config))
        if shown_as is None:
            return None
        timeline = await db_incidents.incident_updates(self._store, incident.id)
        count = len(timeline)
        if before is not None and not 2 <= before <= count:
            return None
        newest = count if before is None else before - 1  # numbers, 1 = oldest
        oldest = max(1, newest - PERMALINK_UPDATES + 1)
        base_url = self._config.server.public_base_url
        permalink = incident_url(base_url, page, incident.id)
        view = incident_view(incident, shown_as, timeline, permalink)
        newer = newest + PERMALINK_UPDATES + 1  # the ``before`` of the next newer part
        return IncidentPage(
            page_slug=page.slug,
            page_title=page.title,
            page_url=page_url(base_url, page),
            # timeline is newest first: number n sits at index count - n
            incident=replace(view, updates=view.updates[count - newest : count - oldest + 1]),
            generated_at=self._clock.now(),
            update_count=count,
            newest_shown=newest,
            older_url=f"{permalink}?before={oldest}" if oldest > 1 else None,
            newer_url=None
            if newest == count
            else (permalink if newer > count else f"{permalink}?before={newer}"),
        )

    async def incident_home(self, incident_id: int) -> str | None:
        """The first page showing the incident (the default page first), for a
        permalink reached where its page cannot be told; None: no page shows it."""
        incident = await db_incidents.get_incident(self._store, incident_id)
        if incident is None:
            return None
        pages = sorted(self._pages.values(), key=lambda p: not p.default)
        for page in pages:
            shown = shown_components(page, self._config)
            if incident_names(incident, page.slug, shown) is not None:
                return page.slug
        return None
