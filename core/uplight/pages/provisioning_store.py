"""Provisioning's SQL: make the config's pages in the database exactly what the config says.

One transaction for the whole sync, so a visitor or an API call sees either the
old set of provisioned pages or the new one. Rows that did not change keep their
``updated_at``; rewriting the same config is a no-op.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiosqlite

from ..db.sql import to_millis
from ..db.store import Store
from .store import component_id_secret, public_component_id, rows_in


@dataclass(frozen=True, slots=True)
class ProvisionedComponent:
    monitor_id: str
    public_name: str | None
    public_description: str | None
    public_group: str | None
    sort_order: int


@dataclass(frozen=True, slots=True)
class ProvisionedPage:
    config_index: int  # pages[i] in the config file
    slug: str
    title: str
    hostname: str | None  # lowercased
    default: bool  # `default = true` in the config
    components: tuple[ProvisionedComponent, ...]


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # Config pages not provisioned because an API-created page has their slug
    # (the API page is left exactly as it was).
    refused: list[str] = field(default_factory=list)
    # API-created pages that lost a hostname or the default flag to the config.
    hostnames_released: list[tuple[str, str]] = field(default_factory=list)  # (slug, hostname)
    default_released: list[str] = field(default_factory=list)


async def sync_provisioned_pages(
    store: Store, pages: Sequence[ProvisionedPage], now: dt.datetime
) -> SyncReport:
    async def sync(db: aiosqlite.Connection) -> SyncReport:
        return await _sync(db, pages, to_millis(now))

    return await store.write(sync)


async def _sync(db: aiosqlite.Connection, pages: Sequence[ProvisionedPage], now: int) -> SyncReport:
    report = SyncReport()
    existing = {
        row[0]: row
        for row in await rows_in(
            db,
            "SELECT slug, title, hostname, is_default, provisioned, config_index FROM status_pages",
        )
    }
    # A config page never takes over an API-created page with its slug: the API
    # page's components would be replaced, and removing the config page later
    # would delete it outright. The config page is refused instead (logged by the
    # caller); it claims no hostname and no default flag either.
    refused = {p.slug for p in pages if p.slug in existing and not existing[p.slug][4]}
    report.refused.extend(p.slug for p in pages if p.slug in refused)
    pages = [p for p in pages if p.slug not in refused]
    wanted = {p.slug for p in pages}

    for slug, row in existing.items():
        if row[4] and slug not in wanted:
            await db.execute("DELETE FROM status_pages WHERE slug = ?", (slug,))
            report.removed.append(slug)

    # Hostnames and the default flag are unique: free them before assigning, so a
    # hostname that moves between two config pages never clashes mid-sync.
    claimed = {p.hostname for p in pages if p.hostname}
    for slug, row in existing.items():
        if row[2] is None or not (row[4] or slug in wanted or row[2] in claimed):
            continue
        await db.execute("UPDATE status_pages SET hostname = NULL WHERE slug = ?", (slug,))
        if not row[4] and slug not in wanted:
            report.hostnames_released.append((slug, row[2]))
    if any(p.default for p in pages):
        for slug, row in existing.items():
            if row[3] and not row[4] and slug not in wanted:
                report.default_released.append(slug)
        await db.execute("UPDATE status_pages SET is_default = 0")
    else:
        await db.execute("UPDATE status_pages SET is_default = 0 WHERE provisioned = 1")

    secret = await component_id_secret(db)
    for page in pages:
        row = existing.get(page.slug)
        if row is None:
            await db.execute(
                "INSERT INTO status_pages (slug, title, hostname, is_default, provisioned,"
                " config_index, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (
                    page.slug,
                    page.title,
                    page.hostname,
                    int(page.default),
                    page.config_index,
                    now,
                    now,
                ),
            )
            await _sync_components(db, page, secret)
            report.created.append(page.slug)
            continue
        components_changed = await _sync_components(db, page, secret)
        changed = components_changed or row[1:] != (
            page.title,
            page.hostname,
            int(page.default),
            1,
            page.config_index,
        )
        await db.execute(
            "UPDATE status_pages SET title = ?, hostname = ?, is_default = ?, provisioned = 1,"
            " config_index = ?, updated_at = CASE WHEN ? = 1 THEN ? ELSE updated_at END"
            " WHERE slug = ?",
            (
                page.title,
                page.hostname,
                int(page.default),
                page.config_index,
                int(changed),
                now,
                page.slug,
            ),
        )
        if changed and row[4]:
            report.updated.append(page.slug)
    return report


async def _sync_components(db: aiosqlite.Connection, page: ProvisionedPage, secret: str) -> bool:
    """Rewrite the page's components when they differ from the config; True if they did."""
    current = [
        ProvisionedComponent(*row)
        for row in await rows_in(
            db,
            "SELECT monitor_id, public_name, public_description, public_group, sort_order"
            " FROM page_components WHERE page_slug = ? ORDER BY id",
            (page.slug,),
        )
    ]
    if current == list(page.components):
        return False
    # Rows are replaced, not patched: insertion order is the config's order, which
    # breaks sort_order ties. Public ids are derived, so they survive the rewrite.
    await db.execute("DELETE FROM page_components WHERE page_slug = ?", (page.slug,))
    for component in page.components:
        await db.execute(
            "INSERT INTO page_components (page_slug, monitor_id, public_id, public_name,"
            " public_description, public_group, sort_order) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                page.slug,
                component.monitor_id,
                public_component_id(page.slug, component.monitor_id, secret),
                component.public_name,
                component.public_description,
                component.public_group,
                component.sort_order,
            ),
        )
    return True
