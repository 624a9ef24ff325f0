"""Page snapshots: the pure data a public renderer gets.

The snapshot types hold only public facts — names, groups, status words,
times — so a renderer cannot leak a monitor's URL, headers, credentials or check
message: those never enter these classes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from .config import Config, PageConfig
from .models import CHECK_TO_STATUS, Status, utcnow
from .store import Store, StoredResult

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


def public_component_id(page_slug: str, monitor_id: str, salt: str) -> str:
    """Stable across restarts, opaque to visitors (a keyed hash, not the monitor id)."""
    digest = hashlib.blake2b(f"{page_slug}\0{monitor_id}".encode(), key=salt.encode()[:64])
    return "c_" + digest.hexdigest()[:16]


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
    def __init__(self, config: Config, store: Store, *, id_salt: str = "") -> None:
        self._config = config
        self._store = store
        self._salt = id_salt

    def page(self, slug: str | None = None) -> PageConfig | None:
        if slug is None:
            return self._config.default_page
        return next((p for p in self._config.pages if p.slug == slug), None)

    async def snapshot(self, page: PageConfig) -> PageSnapshot:
        latest = await self._store.latest_results(c.monitor for c in page.components)
        ordered = sorted(
            page.components,
            key=lambda c: (c.public_group is None, c.public_group or "", c.sort_order),
        )
        components = []
        for comp in ordered:
            monitor = self._config.monitor(comp.monitor)
            stored = latest.get(comp.monitor)
            components.append(
                ComponentSnapshot(
                    id=public_component_id(page.slug, comp.monitor, self._salt),
                    name=comp.public_name or (monitor.name if monitor else comp.monitor),
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
