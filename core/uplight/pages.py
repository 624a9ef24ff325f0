"""Page snapshots: the pure data a public renderer gets.

The snapshot types hold only public facts — names, groups, status words,
times — so a renderer cannot leak a monitor's URL, headers, credentials or check
message: those never enter these classes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .config import Config
from .models import CHECK_TO_STATUS, Status, utcnow
from .store import Store, StoredResult
from .store.pages import StoredPage, list_pages
from .store.pages import public_component_id as public_component_id

BANNER_LABELS: dict[Status, str] = {
    Status.OPERATIONAL: "All Systems Operational",
    Status.DEGRADED: "Degraded Performance",
    Status.PARTIAL_OUTAGE: "Partial Outage",
    Status.MAJOR_OUTAGE: "Major Outage",
    Status.MAINTENANCE: "Under Maintenance",
    Status.NO_DATA: "No Data Yet",
}


@dataclass(frozen=True, slots=True)
class ComponentSnapshot:
    id: str  # opaque public id: never the monitor id or anything from its target
    name: str
    group: str | None
    description: str | None
    status: Status
    updated_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PageSnapshot:
    slug: str
    title: str
    status: Status
    components: tuple[ComponentSnapshot, ...]
    generated_at: dt.datetime

    @property
    def banner(self) -> str:
        return BANNER_LABELS[self.status]

    def groups(self) -> list[tuple[str | None, list[ComponentSnapshot]]]:
        """Components by group in first-appearance order, ungrouped last."""
        grouped: dict[str | None, list[ComponentSnapshot]] = {}
        for component in self.components:
            grouped.setdefault(component.group, []).append(component)
        ungrouped = grouped.pop(None, None)
        out: list[tuple[str | None, list[ComponentSnapshot]]] = list(grouped.items())
        if ungrouped:
            out.append((None, ungrouped))
        return out


def component_status(latest: StoredResult | None) -> Status:
    if latest is None:
        return Status.NO_DATA
    return CHECK_TO_STATUS[latest.result.status]


def overall_status(statuses: Iterable[Status]) -> Status:
    """Maintenance dominates; then all down → major, some down → partial; any degraded."""
    known = [s for s in statuses if s is not Status.NO_DATA]
    if not known:
        return Status.NO_DATA
    if Status.MAINTENANCE in known:
        return Status.MAINTENANCE
    down = sum(s is Status.MAJOR_OUTAGE for s in known)
    if down and down == len(known):
        return Status.MAJOR_OUTAGE
    if down:
        return Status.PARTIAL_OUTAGE
    if Status.DEGRADED in known:
        return Status.DEGRADED
    return Status.OPERATIONAL


class PageService:
    """Pages as stored in the database (config-provisioned and API-created).

    The directory of pages is held in memory and reloaded by :meth:`refresh`
    after every change (provisioning, API writes), so looking a page up costs
    no query and :meth:`is_on_a_page` can be answered synchronously.
    """

    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self._pages: dict[str, StoredPage] = {}
        self._default: str | None = None
        self._on_a_page: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()

    async def refresh(self, config: Config | None = None) -> None:
        """Reload the directory from the database (and take a reloaded config)."""
        # Serialised: a slow refresh that started earlier must not overwrite a newer one.
        async with self._lock:
            if config is not None:
                self._config = config
            pages = await list_pages(self._store)
            self._pages = {p.slug: p for p in pages}
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

    def is_on_a_page(self, monitor_id: str) -> bool:
        """Whether any page shows this monitor; for the incident engine, called per result."""
        return monitor_id in self._on_a_page

    async def snapshot(self, page: StoredPage) -> PageSnapshot:
        # A component whose monitor left the config has nothing to show (and only
        # its monitor id to name it by, which must not reach the public): skip it.
        shown = [c for c in page.components if self._config.monitor(c.monitor_id) is not None]
        latest = await self._store.latest_results(c.monitor_id for c in shown)
        components = []
        for comp in shown:
            monitor = self._config.monitor(comp.monitor_id)
            stored = latest.get(comp.monitor_id)
            components.append(
                ComponentSnapshot(
                    id=comp.public_id,
                    name=comp.public_name or (monitor.name if monitor else ""),
                    group=comp.public_group,
                    description=comp.public_description,
                    status=component_status(stored),
                    updated_at=stored.checked_at if stored else None,
                )
            )
        return PageSnapshot(
            slug=page.slug,
            title=page.title,
            status=overall_status(c.status for c in components),
            components=tuple(components),
            generated_at=utcnow(),
        )
