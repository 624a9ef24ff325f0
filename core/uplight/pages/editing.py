"""The admin API's writes to status pages and their components.

Every check that depends on the current rows (provisioned? slug taken? on the
page?) runs inside the write transaction, so two requests cannot both pass a
check and then clash. A refusal is an exception the web layer maps to a status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from ..db.sql import to_millis
from .store import (
    StoredComponent,
    StoredPage,
    component_id_secret,
    page_in,
    public_component_id,
    rows_in,
)


class PageError(Exception):
    """A write the current rows refuse; the web layer maps each kind to a status."""


class PageNotFound(PageError):
    pass


class ComponentNotFound(PageError):
    pass


class PageProvisioned(PageError):
    def __init__(self, slug: str, config_index: int | None) -> None:
        super().__init__(slug)
        self.slug = slug
        self.config_index = config_index


class DefaultProvisioned(PageError):
    """The config names its default page; the API cannot move it."""

    def __init__(self, slug: str, config_index: int | None) -> None:
        super().__init__(slug)
        self.slug = slug
        self.config_index = config_index


class SlugTaken(PageError):
    pass


class HostnameTaken(PageError):
    def __init__(self, hostname: str, slug: str) -> None:
        super().__init__(hostname)
        self.hostname = hostname
        self.slug = slug


class ReorderMismatch(PageError):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


async def _page_in(db: aiosqlite.Connection, slug: str) -> StoredPage:
    found = await page_in(db, slug)
    if found is None:
        raise PageNotFound(slug)
    return found


async def _editable(db: aiosqlite.Connection, slug: str) -> StoredPage:
    page = await _page_in(db, slug)
    if page.provisioned:
        raise PageProvisioned(slug, page.config_index)
    return page


async def _claim_hostname(db: aiosqlite.Connection, hostname: str | None, slug: str) -> None:
    if hostname is None:
        return
    rows = await rows_in(
        db, "SELECT slug FROM status_pages WHERE hostname = ? AND slug != ?", (hostname, slug)
    )
    if rows:
        raise HostnameTaken(hostname, rows[0][0])


async def _claim_default(db: aiosqlite.Connection, slug: str) -> None:
    rows = await rows_in(
        db, "SELECT slug, provisioned, config_index FROM status_pages WHERE is_default = 1"
    )
    if rows and rows[0][1] and rows[0][0] != slug:
        raise DefaultProvisioned(rows[0][0], rows[0][2])
    await db.execute("UPDATE status_pages SET is_default = 0 WHERE is_default = 1")


async def _touch(db: aiosqlite.Connection, slug: str, now: dt.datetime) -> None:
    await db.execute(
        "UPDATE status_pages SET updated_at = ? WHERE slug = ?", (to_millis(now), slug)
    )


async def create_page(
    store: Any,
    *,
    slug: str,
    title: str,
    hostname: str | None,
    default: bool,
    now: dt.datetime,
) -> StoredPage:
    async def create(db: aiosqlite.Connection) -> StoredPage:
        if await rows_in(db, "SELECT 1 FROM status_pages WHERE slug = ?", (slug,)):
            raise SlugTaken(slug)
        await _claim_hostname(db, hostname, slug)
        if default:
            await _claim_default(db, slug)
        await db.execute(
            "INSERT INTO status_pages (slug, title, hostname, is_default, provisioned,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
            (slug, title, hostname, int(default), to_millis(now), to_millis(now)),
        )
        return await _page_in(db, slug)

    return await store.write(create)


async def update_page(
    store: Any, slug: str, changes: Mapping[str, Any], now: dt.datetime
) -> StoredPage:
    """``changes`` holds only what the caller sent: title, hostname (None clears), default."""

    async def update(db: aiosqlite.Connection) -> StoredPage:
        await _editable(db, slug)
        if "title" in changes:
            await db.execute(
                "UPDATE status_pages SET title = ? WHERE slug = ?", (changes["title"], slug)
            )
        if "hostname" in changes:
            await _claim_hostname(db, changes["hostname"], slug)
            await db.execute(
                "UPDATE status_pages SET hostname = ? WHERE slug = ?", (changes["hostname"], slug)
            )
        if changes.get("default") is True:
            await _claim_default(db, slug)
            await db.execute("UPDATE status_pages SET is_default = 1 WHERE slug = ?", (slug,))
        elif changes.get("default") is False:
            # Giving up the flag lets the fallback (first config page, oldest page) serve /status.
            await db.execute("UPDATE status_pages SET is_default = 0 WHERE slug = ?", (slug,))
        await _touch(db, slug, now)
        return await _page_in(db, slug)

    return await store.write(update)


async def delete_page(store: Any, slug: str) -> None:
    async def delete(db: aiosqlite.Connection) -> None:
        await _editable(db, slug)
        await db.execute("DELETE FROM status_pages WHERE slug = ?", (slug,))

    await store.write(delete)


async def add_component(
    store: Any, slug: str, monitor_id: str, fields: Mapping[str, Any], now: dt.datetime
) -> tuple[StoredComponent, bool]:
    """Add ``monitor_id`` to the page; (component, created). Already there: unchanged, False."""

    async def add(db: aiosqlite.Connection) -> tuple[StoredComponent, bool]:
        page = await _editable(db, slug)
        existing = page.component(monitor_id)
        if existing is not None:
            return existing, False
        sort_order = fields.get("sort_order")
        if sort_order is None:
            # Omitted: after everything already on the page.
            sort_order = max((c.sort_order for c in page.components), default=0) + 1
        await db.execute(
            "INSERT INTO page_components (page_slug, monitor_id, public_id, public_name,"
            " public_description, public_group, sort_order) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                slug,
                monitor_id,
                public_component_id(slug, monitor_id, await component_id_secret(db)),
                fields.get("public_name"),
                fields.get("public_description"),
                fields.get("public_group"),
                sort_order,
            ),
        )
        await _touch(db, slug, now)
        component = (await _page_in(db, slug)).component(monitor_id)
        assert component is not None
        return component, True

    return await store.write(add)


_COMPONENT_FIELDS = ("public_name", "public_description", "public_group", "sort_order")


async def update_component(
    store: Any, slug: str, monitor_id: str, changes: Mapping[str, Any], now: dt.datetime
) -> StoredComponent:
    """``changes`` holds only what the caller sent; None clears a nullable field, and
    ``sort_order: None`` is the default placement: after every other component."""

    async def update(db: aiosqlite.Connection) -> StoredComponent:
        page = await _editable(db, slug)
        if page.component(monitor_id) is None:
            raise ComponentNotFound(monitor_id)
        for name in _COMPONENT_FIELDS:
            if name in changes:
                value = changes[name]
                if name == "sort_order" and value is None:
                    # The column is NOT NULL: compute "last" now, as add_component does.
                    others = (c.sort_order for c in page.components if c.monitor_id != monitor_id)
                    value = max(others, default=0) + 1
                await db.execute(
                    f"UPDATE page_components SET {name} = ? WHERE page_slug = ? AND monitor_id = ?",
                    (value, slug, monitor_id),
                )
        await _touch(db, slug, now)
        component = (await _page_in(db, slug)).component(monitor_id)
        assert component is not None
        return component

    return await store.write(update)


async def remove_component(store: Any, slug: str, monitor_id: str, now: dt.datetime) -> None:
    async def remove(db: aiosqlite.Connection) -> None:
        await _editable(db, slug)
        cursor = await db.execute(
            "DELETE FROM page_components WHERE page_slug = ? AND monitor_id = ?",
            (slug, monitor_id),
        )
        if cursor.rowcount == 0:
            raise ComponentNotFound(monitor_id)
        await _touch(db, slug, now)

    await store.write(remove)


async def reorder_components(
    store: Any, slug: str, monitor_ids: Sequence[str], now: dt.datetime
) -> StoredPage:
    """``monitor_ids`` must be exactly the page's components, in the new order."""

    async def reorder(db: aiosqlite.Connection) -> StoredPage:
        page = await _editable(db, slug)
        on_page = {c.monitor_id for c in page.components}
        seen: set[str] = set()
        for index, monitor_id in enumerate(monitor_ids):
            where = f"target_ids[{index}]"
            if monitor_id not in on_page:
                raise ReorderMismatch(
                    "INVALID_COMPONENT_ID", f"{monitor_id!r} is not on page {slug!r}", where
                )
            if monitor_id in seen:
                raise ReorderMismatch(
                    "DUPLICATE_COMPONENT_ID", f"{monitor_id!r} is listed twice", where
                )
            seen.add(monitor_id)
        missing = [c.monitor_id for c in page.components if c.monitor_id not in seen]
        if missing:
            raise ReorderMismatch(
                "MISSING_COMPONENT_ID",
                f"every component of the page must be listed; missing: {', '.join(missing)}",
                "target_ids",
            )
        for position, monitor_id in enumerate(monitor_ids, start=1):
            await db.execute(
                "UPDATE page_components SET sort_order = ? WHERE page_slug = ? AND monitor_id = ?",
                (position, slug, monitor_id),
            )
        await _touch(db, slug, now)
        return await _page_in(db, slug)

    return await store.write(reorder)
