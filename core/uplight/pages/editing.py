"""The admin API's writes to status pages and their components: the rules.

Every rule that depends on the current rows (provisioned? slug taken? on the
page?) is checked inside the write transaction, so two requests cannot both
pass a check and then clash. A refusal is an exception the web layer maps to a
status. After every write the page directory (``PageService``) is reloaded, so
the public routes and the incident engine see the change at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiosqlite

from ..clock import Clock
from ..config import Config
from ..db.store import Store
from . import store as queries
from .models import StoredComponent, StoredPage
from .service import PageService

T = TypeVar("T")


class PageError(Exception):
    """A write the current rows refuse; the web layer maps each kind to a status."""


class PageNotFound(PageError):
    pass


class ComponentNotFound(PageError):
    pass


class UnknownMonitor(PageError):
    """No monitor in the config has this id, so it cannot go on a page."""

    def __init__(self, monitor_id: str) -> None:
        super().__init__(monitor_id)
        self.monitor_id = monitor_id


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


class PageEditor:
    """Pages created through the admin API: create, change, delete, and put monitors on
    them. Pages provisioned from the config are read-only here."""

    def __init__(
        self, config: Config, store: Store, directory: PageService, *, clock: Clock
    ) -> None:
        self._config = config
        self._store = store
        self._directory = directory
        self._clock = clock

    # -- reads ----------------------------------------------------------------------

    async def pages(self) -> list[StoredPage]:
        """Every page as the database has it now (not the directory, which may lag)."""
        return await queries.list_pages(self._store)

    async def page(self, slug: str) -> StoredPage | None:
        return await queries.get_page(self._store, slug)

    # -- pages ----------------------------------------------------------------------

    async def create_page(
        self, *, slug: str, title: str, hostname: str | None, default: bool
    ) -> StoredPage:
        async def create(db: aiosqlite.Connection, now: dt.datetime) -> StoredPage:
            if await queries.slug_in_use(db, slug):
                raise SlugTaken(slug)
            await _claim_hostname(db, hostname, slug)
            if default:
                await _claim_default(db, slug)
            await queries.insert_page(
                db, slug=slug, title=title, hostname=hostname, default=default, now=now
            )
            return await _page(db, slug)

        return await self._write(create)

    async def update_page(self, slug: str, changes: Mapping[str, Any]) -> StoredPage:
        """``changes`` holds only what the caller sent: title, hostname (None clears), default."""

        async def update(db: aiosqlite.Connection, now: dt.datetime) -> StoredPage:
            await _editable(db, slug)
            if "hostname" in changes:
                await _claim_hostname(db, changes["hostname"], slug)
            if changes.get("default") is True:
                await _claim_default(db, slug)
                await queries.set_default(db, slug, True)
            elif changes.get("default") is False:
                # Giving up the flag lets the fallback (first config page, oldest page)
                # serve /status.
                await queries.set_default(db, slug, False)
            fields = {k: v for k, v in changes.items() if k in ("title", "hostname")}
            await queries.set_page_fields(db, slug, fields, now)
            return await _page(db, slug)

        return await self._write(update)

    async def delete_page(self, slug: str) -> None:
        async def delete(db: aiosqlite.Connection, now: dt.datetime) -> None:
            await _editable(db, slug)
            await queries.delete_page(db, slug)

        await self._write(delete)

    # -- components -----------------------------------------------------------------

    async def add_component(
        self, slug: str, monitor_id: str, fields: Mapping[str, Any]
    ) -> tuple[StoredComponent, bool]:
        """Put ``monitor_id`` on the page; (component, created). A monitor already on the
        page is an idempotent no-op: its component, unchanged, and False."""

        async def add(db: aiosqlite.Connection, now: dt.datetime) -> tuple[StoredComponent, bool]:
            page = await _editable(db, slug)
            if self._config.monitor(monitor_id) is None:
                raise UnknownMonitor(monitor_id)
            existing = page.component(monitor_id)
            if existing is not None:
                return existing, False
            sort_order = fields.get("sort_order")
            if sort_order is None:
                sort_order = _after_all(page, besides=monitor_id)
            await queries.insert_component(
                db,
                slug,
                monitor_id,
                public_name=fields.get("public_name"),
                public_description=fields.get("public_description"),
                public_group=fields.get("public_group"),
                sort_order=sort_order,
            )
            await queries.touch_page(db, slug, now)
            return await _component(db, slug, monitor_id), True

        return await self._write(add)

    async def update_component(
        self, slug: str, monitor_id: str, changes: Mapping[str, Any]
    ) -> StoredComponent:
        """``changes`` holds only what the caller sent; None clears a nullable field, and
        ``sort_order: None`` is the default placement: after every other component."""

        async def update(db: aiosqlite.Connection, now: dt.datetime) -> StoredComponent:
            page = await _editable(db, slug)
            if page.component(monitor_id) is None:
                raise ComponentNotFound(monitor_id)
            fields = dict(changes)
            if "sort_order" in fields and fields["sort_order"] is None:
                fields["sort_order"] = _after_all(page, besides=monitor_id)
            await queries.set_component_fields(db, slug, monitor_id, fields)
            await queries.touch_page(db, slug, now)
            return await _component(db, slug, monitor_id)

        return await self._write(update)

    async def remove_component(self, slug: str, monitor_id: str) -> None:
        async def remove(db: aiosqlite.Connection, now: dt.datetime) -> None:
            page = await _editable(db, slug)
            if page.component(monitor_id) is None:
                raise ComponentNotFound(monitor_id)
            await queries.delete_component(db, slug, monitor_id)
            await queries.touch_page(db, slug, now)

        await self._write(remove)

    async def reorder_components(self, slug: str, monitor_ids: Sequence[str]) -> StoredPage:
        """``monitor_ids`` must be exactly the page's components, in the new order; their
        sort_order becomes 1..n."""

        async def reorder(db: aiosqlite.Connection, now: dt.datetime) -> StoredPage:
            page = await _editable(db, slug)
            check_reorder(page, monitor_ids)
            await queries.set_sort_orders(db, slug, monitor_ids)
            await queries.touch_page(db, slug, now)
            return await _page(db, slug)

        return await self._write(reorder)

    # -- the transaction ------------------------------------------------------------

    async def _write(self, work: Callable[[aiosqlite.Connection, dt.datetime], Awaitable[T]]) -> T:
        """``work`` as one transaction, then the directory reloaded from the database."""

        async def job(db: aiosqlite.Connection) -> T:
            return await work(db, self._clock.now())

        try:
            return await self._store.write(job)
        finally:
            # After a refusal too: a reload is cheap and never leaves the directory
            # behind the database.
            await self._directory.refresh()


def check_reorder(page: StoredPage, monitor_ids: Sequence[str]) -> None:
    """Refuse an order that is not every component of ``page`` exactly once."""
    on_page = {c.monitor_id for c in page.components}
    seen: set[str] = set()
    for index, monitor_id in enumerate(monitor_ids):
        where = f"target_ids[{index}]"
        if monitor_id not in on_page:
            raise ReorderMismatch(
                "INVALID_COMPONENT_ID", f"{monitor_id!r} is not on page {page.slug!r}", where
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


def _after_all(page: StoredPage, *, besides: str) -> int:
    """The sort_order that places a component after every other one on the page."""
    others = (c.sort_order for c in page.components if c.monitor_id != besides)
    return max(others, default=0) + 1


async def _page(db: aiosqlite.Connection, slug: str) -> StoredPage:
    found = await queries.page_in(db, slug)
    if found is None:
        raise PageNotFound(slug)
    return found


async def _component(db: aiosqlite.Connection, slug: str, monitor_id: str) -> StoredComponent:
    component = (await _page(db, slug)).component(monitor_id)
    assert component is not None
    return component


async def _editable(db: aiosqlite.Connection, slug: str) -> StoredPage:
    page = await _page(db, slug)
    if page.provisioned:
        raise PageProvisioned(slug, page.config_index)
    return page


async def _claim_hostname(db: aiosqlite.Connection, hostname: str | None, slug: str) -> None:
    if hostname is None:
        return
    holder = await queries.hostname_holder(db, hostname, besides=slug)
    if holder is not None:
        raise HostnameTaken(hostname, holder)


async def _claim_default(db: aiosqlite.Connection, slug: str) -> None:
    """Take the default flag from whichever page has it, unless the config chose that page."""
    current = await queries.chosen_default(db)
    if current is not None and current != slug:
        holder = await _page(db, current)
        if holder.provisioned:
            raise DefaultProvisioned(holder.slug, holder.config_index)
    await queries.clear_default(db)
