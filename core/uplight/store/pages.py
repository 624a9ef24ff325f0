"""Status pages and their components: tables, reads and the API's writes.

Pages come from two places: the config (``provisioned``: rewritten at start and
on reload by ``page_sync.sync_provisioned_pages``, read-only through the API)
and the admin API (fully editable, kept across restarts). Every check that
depends on the current rows (provisioned? slug taken? on the page?) runs inside
the write transaction, so two requests cannot both pass a check and then clash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from .sql import from_millis, run_script, to_millis

SECRET_KEY = "component_id_secret"


async def m005_status_pages(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TABLE status_pages (
            slug TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            hostname TEXT,                           -- lowercased
            is_default INTEGER NOT NULL DEFAULT 0,   -- set explicitly (config or API)
            provisioned INTEGER NOT NULL DEFAULT 0,  -- 1: owned by the config file
            config_index INTEGER,                    -- pages[i] in the config, when provisioned
            created_at INTEGER NOT NULL,             -- unix milliseconds, UTC
            updated_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX status_pages_by_hostname ON status_pages (hostname)
            WHERE hostname IS NOT NULL;
        CREATE UNIQUE INDEX status_pages_one_default ON status_pages (is_default)
            WHERE is_default = 1;

        CREATE TABLE page_components (
            id INTEGER PRIMARY KEY,                  -- insertion order breaks sort_order ties
            page_slug TEXT NOT NULL REFERENCES status_pages (slug) ON DELETE CASCADE,
            monitor_id TEXT NOT NULL,
            public_id TEXT NOT NULL,                 -- keyed hash of page + monitor, see below
            public_name TEXT,
            public_description TEXT,
            public_group TEXT,
            sort_order INTEGER NOT NULL DEFAULT 0,
            UNIQUE (page_slug, monitor_id)
        );
        CREATE INDEX page_components_by_public_id ON page_components (public_id);
        """,
    )
    await db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)", (SECRET_KEY, secrets.token_hex(32))
    )


# -- types --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredComponent:
    monitor_id: str
    public_id: str
    public_name: str | None
    public_description: str | None
    public_group: str | None
    sort_order: int


@dataclass(frozen=True, slots=True)
class StoredPage:
    slug: str
    title: str
    hostname: str | None
    default: bool  # effective: the page served at /status
    provisioned: bool
    config_index: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    components: tuple[StoredComponent, ...]  # by sort_order, then insertion

    def component(self, monitor_id: str) -> StoredComponent | None:
        return next((c for c in self.components if c.monitor_id == monitor_id), None)


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


def public_component_id(page_slug: str, monitor_id: str, secret: str) -> str:
    """Opaque to visitors and stable across restarts and reloads: a keyed hash of
    page and monitor with the database's own random secret, never the monitor id."""
    key = bytes.fromhex(secret) if len(secret) == 64 else secret.encode()[:64]
    digest = hashlib.blake2b(f"{page_slug}\0{monitor_id}".encode(), key=key, digest_size=16)
    return "c_" + digest.hexdigest()[:20]


# -- reads --------------------------------------------------------------------

_PAGE_COLUMNS = (
    "slug, title, hostname, is_default, provisioned, config_index, created_at, updated_at"
)
_COMPONENT_COLUMNS = (
    "page_slug, monitor_id, public_id, public_name, public_description, public_group, sort_order"
)
# Provisioned pages in config order, then API pages oldest first.
_PAGE_ORDER = "ORDER BY provisioned DESC, config_index, created_at, slug"


async def _rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


def _assemble(page_rows: list[Any], component_rows: list[Any]) -> list[StoredPage]:
    by_page: dict[str, list[StoredComponent]] = {}
    for slug, *rest in component_rows:
        by_page.setdefault(slug, []).append(StoredComponent(*rest))
    default = next((row[0] for row in page_rows if row[3]), None)
    if default is None:
        # Nobody chose: the first config page, else the oldest API page.
        default = page_rows[0][0] if page_rows else None
    return [
        StoredPage(
            slug=slug,
            title=title,
            hostname=hostname,
            default=slug == default,
            provisioned=bool(provisioned),
            config_index=config_index,
            created_at=from_millis(created_at),
            updated_at=from_millis(updated_at),
            components=tuple(by_page.get(slug, ())),
        )
        for slug, title, hostname, _, provisioned, config_index, created_at, updated_at in page_rows
    ]


async def _read_all(fetch: Any) -> list[StoredPage]:
    pages = await fetch(f"SELECT {_PAGE_COLUMNS} FROM status_pages {_PAGE_ORDER}", ())
    components = await fetch(
        f"SELECT {_COMPONENT_COLUMNS} FROM page_components ORDER BY page_slug, sort_order, id", ()
    )
    return _assemble(pages, components)


async def list_pages(store: Any) -> list[StoredPage]:
    """Every page with its components (pages are few: one read of everything)."""
    return await _read_all(store.fetchall)


async def get_page(store: Any, slug: str) -> StoredPage | None:
    return next((p for p in await list_pages(store) if p.slug == slug), None)


async def _page_in(db: aiosqlite.Connection, slug: str) -> StoredPage:
    found = next(
        (p for p in await _read_all(lambda sql, params: _rows(db, sql, params)) if p.slug == slug),
        None,
    )
    if found is None:
        raise PageNotFound(slug)
    return found


async def _secret(db: aiosqlite.Connection) -> str:
    rows = await _rows(db, "SELECT value FROM meta WHERE key = ?", (SECRET_KEY,))
    return rows[0][0]


# -- writes through the API ---------------------------------------------------


async def _editable(db: aiosqlite.Connection, slug: str) -> StoredPage:
    page = await _page_in(db, slug)
    if page.provisioned:
        raise PageProvisioned(slug, page.config_index)
    return page


async def _claim_hostname(db: aiosqlite.Connection, hostname: str | None, slug: str) -> None:
    if hostname is None:
        return
    rows = await _rows(
        db, "SELECT slug FROM status_pages WHERE hostname = ? AND slug != ?", (hostname, slug)
    )
    if rows:
        raise HostnameTaken(hostname, rows[0][0])


async def _claim_default(db: aiosqlite.Connection, slug: str) -> None:
    rows = await _rows(
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
        if await _rows(db, "SELECT 1 FROM status_pages WHERE slug = ?", (slug,)):
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
                public_component_id(slug, monitor_id, await _secret(db)),
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
    """``changes`` holds only what the caller sent; None clears a nullable field."""

    async def update(db: aiosqlite.Connection) -> StoredComponent:
        page = await _editable(db, slug)
        if page.component(monitor_id) is None:
            raise ComponentNotFound(monitor_id)
        for name in _COMPONENT_FIELDS:
            if name in changes:
                await db.execute(
                    f"UPDATE page_components SET {name} = ? WHERE page_slug = ? AND monitor_id = ?",
                    (changes[name], slug, monitor_id),
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
