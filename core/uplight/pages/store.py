"""Status pages and their components: tables, reads and the admin API's writes.

Pages come from two places: the config (``provisioned``: rewritten at start and
on reload by ``provisioning_store.sync_provisioned_pages``, read-only through the
API) and the admin API (fully editable, kept across restarts; the rules in
``editing.PageEditor``, the SQL below). Functions taking ``db`` run inside the
caller's write transaction; they store what they are told and refuse nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store
from .models import StoredComponent, StoredPage

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


MIGRATIONS: tuple[Migration, ...] = (m005_status_pages,)


# -- public component ids -------------------------------------------------------


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


async def rows_in(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
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


async def list_pages(store: Store) -> list[StoredPage]:
    """Every page with its components (pages are few: one read of everything)."""
    return await _read_all(store.fetchall)


async def get_page(store: Store, slug: str) -> StoredPage | None:
    return next((p for p in await list_pages(store) if p.slug == slug), None)


async def page_in(db: aiosqlite.Connection, slug: str) -> StoredPage | None:
    """A page read inside the caller's write transaction."""
    pages = await _read_all(lambda sql, params: rows_in(db, sql, params))
    return next((p for p in pages if p.slug == slug), None)


async def component_id_secret(db: aiosqlite.Connection) -> str:
    rows = await rows_in(db, "SELECT value FROM meta WHERE key = ?", (SECRET_KEY,))
    return rows[0][0]


async def slug_in_use(db: aiosqlite.Connection, slug: str) -> bool:
    return bool(await rows_in(db, "SELECT 1 FROM status_pages WHERE slug = ?", (slug,)))


async def hostname_holder(db: aiosqlite.Connection, hostname: str, *, besides: str) -> str | None:
    """The slug of another page (not ``besides``) that has ``hostname``; None if none has."""
    rows = await rows_in(
        db, "SELECT slug FROM status_pages WHERE hostname = ? AND slug != ?", (hostname, besides)
    )
    return rows[0][0] if rows else None


async def chosen_default(db: aiosqlite.Connection) -> str | None:
    """The page whose default flag is set (config or API), not the effective fallback."""
    rows = await rows_in(db, "SELECT slug FROM status_pages WHERE is_default = 1")
    return rows[0][0] if rows else None


# -- writes (inside store.write) ----------------------------------------------------

_PAGE_FIELDS = ("title", "hostname")
_COMPONENT_FIELDS = ("public_name", "public_description", "public_group", "sort_order")


async def insert_page(
    db: aiosqlite.Connection,
    *,
    slug: str,
    title: str,
    hostname: str | None,
    default: bool,
    now: dt.datetime,
) -> None:
    await db.execute(
        "INSERT INTO status_pages (slug, title, hostname, is_default, provisioned,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
        (slug, title, hostname, int(default), to_millis(now), to_millis(now)),
    )


async def set_page_fields(
    db: aiosqlite.Connection, slug: str, fields: dict[str, Any], now: dt.datetime
) -> None:
    """Set the given columns (title, hostname) and ``updated_at``."""
    for name in _PAGE_FIELDS:
        if name in fields:
            await db.execute(
                f"UPDATE status_pages SET {name} = ? WHERE slug = ?", (fields[name], slug)
            )
    await touch_page(db, slug, now)


async def clear_default(db: aiosqlite.Connection) -> None:
    """No page has the default flag (the schema allows one at a time)."""
    await db.execute("UPDATE status_pages SET is_default = 0 WHERE is_default = 1")


async def set_default(db: aiosqlite.Connection, slug: str, default: bool) -> None:
    await db.execute("UPDATE status_pages SET is_default = ? WHERE slug = ?", (int(default), slug))


async def touch_page(db: aiosqlite.Connection, slug: str, now: dt.datetime) -> None:
    await db.execute(
        "UPDATE status_pages SET updated_at = ? WHERE slug = ?", (to_millis(now), slug)
    )


async def delete_page(db: aiosqlite.Connection, slug: str) -> None:
    """The page and (by cascade) its components."""
    await db.execute("DELETE FROM status_pages WHERE slug = ?", (slug,))


async def insert_component(
    db: aiosqlite.Connection,
    slug: str,
    monitor_id: str,
    *,
    public_name: str | None,
    public_description: str | None,
    public_group: str | None,
    sort_order: int,
) -> None:
    await db.execute(
        "INSERT INTO page_components (page_slug, monitor_id, public_id, public_name,"
        " public_description, public_group, sort_order) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            slug,
            monitor_id,
            public_component_id(slug, monitor_id, await component_id_secret(db)),
            public_name,
            public_description,
            public_group,
            sort_order,
        ),
    )


async def set_component_fields(
    db: aiosqlite.Connection, slug: str, monitor_id: str, fields: dict[str, Any]
) -> None:
    """Set the given columns (public_name, public_description, public_group, sort_order)."""
    for name in _COMPONENT_FIELDS:
        if name in fields:
            await db.execute(
                f"UPDATE page_components SET {name} = ? WHERE page_slug = ? AND monitor_id = ?",
                (fields[name], slug, monitor_id),
            )


async def delete_component(db: aiosqlite.Connection, slug: str, monitor_id: str) -> None:
    await db.execute(
        "DELETE FROM page_components WHERE page_slug = ? AND monitor_id = ?", (slug, monitor_id)
    )


async def set_sort_orders(db: aiosqlite.Connection, slug: str, monitor_ids: Sequence[str]) -> None:
    """``monitor_ids`` in display order: their sort_order becomes 1..n."""
    await db.executemany(
        "UPDATE page_components SET sort_order = ? WHERE page_slug = ? AND monitor_id = ?",
        [(position, slug, monitor_id) for position, monitor_id in enumerate(monitor_ids, 1)],
    )
