"""Config pages → database: at start, on a changed config, beside API-created pages."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from postgres import storage_toml

from uplight.clock import FakeClock
from uplight.config import Config
from uplight.db.store import Store
from uplight.pages.editing import PageEditor
from uplight.pages.models import StoredPage
from uplight.pages.provisioning import provision_pages
from uplight.pages.service import PageService
from uplight.pages.store import list_pages
from uplight.runtime import Runtime
from uplight.schema import build_store

MONITORS = """
[[monitors]]
id = "web"
name = "Web server"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "dns"
name = "Resolver"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
"""

PAGES_V1 = """
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "web"
public_name = "Website"
public_group = "Front"
[[pages.components]]
monitor = "db"
sort_order = 5
[[pages]]
slug = "internal"
title = "Internal"
hostname = "Internal.Example.com"
default = true
[[pages.components]]
monitor = "dns"
"""

PAGES_V2 = """
[[pages]]
slug = "main"
title = "Main status"
[[pages.components]]
monitor = "db"
public_name = "Data"
[[pages.components]]
monitor = "dns"
[[pages]]
slug = "fresh"
title = "Fresh"
"""

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def config_for(make_config, db_location: Path | str) -> Callable[..., Config]:
    """A config of these pages whose database is the test's (SQLite, then PostgreSQL),
    or ``location``."""

    def make(pages: str, location: Path | str = db_location) -> Config:
        return make_config(MONITORS + pages + storage_toml(location))

    return make


@asynccontextmanager
async def opened(config: Config) -> AsyncIterator[Store]:
    async with build_store(config.database_location) as store:
        yield store


def editor(config: Config, store: Store) -> PageEditor:
    """An admin API editor with a directory of its own (not the one a test inspects)."""
    return PageEditor(config, store, PageService(config, store), clock=FakeClock(T0))


def by_slug(pages: list[StoredPage]) -> dict[str, StoredPage]:
    return {p.slug: p for p in pages}


async def test_config_pages_are_written_as_declared(config_for) -> None:
    config = config_for(PAGES_V1)
    async with opened(config) as store:
        report = await provision_pages(store, config, T0)
        assert report.created == ["main", "internal"]
        pages = await list_pages(store)
    assert [p.slug for p in pages] == ["main", "internal"]  # config order
    main, internal = pages
    assert main.provisioned and main.config_index == 0 and main.title == "Main"
    assert main.created_at == main.updated_at == T0
    assert [
        (c.monitor_id, c.public_name, c.public_group, c.sort_order) for c in main.components
    ] == [
        ("web", "Website", "Front", 0),
        ("db", None, None, 5),
    ]
    assert internal.hostname == "internal.example.com"
    assert internal.default and not main.default
    assert all(c.public_id.startswith("c_") for p in pages for c in p.components)
    assert len({c.public_id for p in pages for c in p.components}) == 3


async def test_same_config_twice_changes_nothing(config_for) -> None:
    config = config_for(PAGES_V1)
    async with opened(config) as store:
        await provision_pages(store, config, T0)
        first = await list_pages(store)
        report = await provision_pages(store, config, T0 + dt.timedelta(hours=1))
        assert (report.created, report.updated, report.removed) == ([], [], [])
        assert await list_pages(store) == first  # updated_at included


async def test_a_changed_config_updates_removes_and_keeps_api_pages(config_for, caplog) -> None:
    v1 = config_for(PAGES_V1)
    async with opened(v1) as store:
        await provision_pages(store, v1, T0)
        edit = editor(v1, store)
        await edit.create_page(slug="ops", title="Ops", hostname=None, default=False)
        await edit.add_component("ops", "web", {"public_name": "Our web"})
        ops_before = by_slug(await list_pages(store))["ops"]

    v2 = config_for(PAGES_V2)
    later = T0 + dt.timedelta(days=1)
    caplog.set_level(logging.INFO, logger="uplight.pages.provisioning")
    async with opened(v2) as store:
        report = await provision_pages(store, v2, later)
        pages = by_slug(await list_pages(store))
    assert report.created == ["fresh"]
    assert report.updated == ["main"]
    assert report.removed == ["internal"]
    assert "1 created, 1 updated, 1 removed" in caplog.text
    assert set(pages) == {"main", "fresh", "ops"}
    main = pages["main"]
    assert main.title == "Main status" and main.updated_at == later and main.created_at == T0
    assert [(c.monitor_id, c.public_name, c.sort_order) for c in main.components] == [
        ("db", "Data", 0),
        ("dns", None, 0),
    ]
    assert pages["ops"] == ops_before  # an API page is never touched
    # No default in the config any more: the first config page serves /status.
    assert main.default and not pages["ops"].default


async def test_public_ids_are_stable_across_restarts_and_reloads(
    config_for, registry, tmp_path, db_location, request
) -> None:
    config = config_for(PAGES_V1)
    ids = {}
    for _ in range(2):
        runtime = Runtime(config, registry, clock=FakeClock(T0))
        await runtime.start()
        try:
            await runtime.scheduler.stop()
            page = runtime.pages.page("main")
            assert page is not None
            found = {c.monitor_id: c.public_id for c in page.components}
        finally:
            await runtime.stop()
        assert not ids or found == ids
        ids = found
    # A reload that rewrites the components keeps their ids (derived, not stored state).
    changed = config_for(PAGES_V1.replace('public_name = "Website"', 'public_name = "Site"'))
    async with opened(changed) as store:
        await provision_pages(store, changed, T0)
        main = by_slug(await list_pages(store))["main"]
    assert {c.monitor_id: c.public_id for c in main.components} == ids
    # Another database has its own secret: ids cannot be guessed from slug and monitor.
    elsewhere = (
        request.getfixturevalue("postgres_server").new_database()
        if isinstance(db_location, str)
        else tmp_path / "other.db"
    )
    other = config_for(PAGES_V1, elsewhere)
    async with opened(other) as store:
        await provision_pages(store, other, T0)
        other_main = by_slug(await list_pages(store))["main"]
    assert {c.public_id for c in other_main.components}.isdisjoint(ids.values())


async def test_a_config_page_never_takes_over_an_api_page_with_its_slug(config_for, caplog) -> None:
    base = config_for("")
    async with opened(base) as store:
        edit = editor(base, store)
        await edit.create_page(slug="main", title="Mine", hostname=None, default=False)
        await edit.add_component("main", "dns", {})
        before = by_slug(await list_pages(store))["main"]
    config = config_for(PAGES_V1)
    async with opened(config) as store:
        report = await provision_pages(store, config, T0)
        pages = by_slug(await list_pages(store))
    assert report.refused == ["main"] and "main" not in report.created + report.updated
    # The API page, untouched (``default`` is effective: the config's default page
    # now serves /status, which is not a change to this page's row).
    assert replace(pages["main"], default=False) == replace(before, default=False)
    assert pages["internal"].provisioned  # the other config page is provisioned
    assert "pages[0].slug = 'main'" in caplog.text and "not provisioned" in caplog.text

    # Removing the config page later must not delete the API page.
    async with opened(base) as store:
        report = await provision_pages(store, base, T0)
        pages = by_slug(await list_pages(store))
    assert report.removed == ["internal"] and report.refused == []
    assert pages["main"] == before  # the fallback default again


async def test_a_refused_config_page_claims_no_hostname_or_default(config_for) -> None:
    base = config_for("")
    async with opened(base) as store:
        await editor(base, store).create_page(
            slug="main", title="Mine", hostname="mine.example.com", default=True
        )
    config = config_for('[[pages]]\nslug = "main"\ntitle = "Main"\ndefault = true\n')
    async with opened(config) as store:
        report = await provision_pages(store, config, T0)
        main = by_slug(await list_pages(store))["main"]
    assert report.refused == ["main"] and report.default_released == []
    assert report.hostnames_released == []
    assert not main.provisioned and main.default and main.hostname == "mine.example.com"


async def test_config_claims_hostname_and_default_from_api_pages(config_for, caplog) -> None:
    base = config_for("")
    async with opened(base) as store:
        await editor(base, store).create_page(
            slug="ops", title="Ops", hostname="internal.example.com", default=True
        )
    config = config_for(PAGES_V1)
    async with opened(config) as store:
        report = await provision_pages(store, config, T0)
        pages = by_slug(await list_pages(store))
    assert report.hostnames_released == [("ops", "internal.example.com")]
    assert report.default_released == ["ops"]
    assert pages["ops"].hostname is None and not pages["ops"].default
    assert pages["internal"].hostname == "internal.example.com" and pages["internal"].default
    assert "lost hostname" in caplog.text


async def test_hostnames_can_swap_between_config_pages(config_for) -> None:
    two = """
[[pages]]
slug = "a"
title = "A"
hostname = "one.example.com"
[[pages]]
slug = "b"
title = "B"
hostname = "two.example.com"
"""
    swapped = two.replace("one.example", "tmp").replace("two.example", "one.example")
    swapped = swapped.replace("tmp", "two.example")
    first, second = config_for(two), config_for(swapped)
    async with opened(first) as store:
        await provision_pages(store, first, T0)
        await provision_pages(store, second, T0)
        pages = by_slug(await list_pages(store))
    assert pages["a"].hostname == "two.example.com" and pages["b"].hostname == "one.example.com"


async def test_page_service_reads_the_database(config_for) -> None:
    config = config_for(PAGES_V1)
    async with opened(config) as store:
        await provision_pages(store, config, T0)
        service = PageService(config, store)
        assert service.page() is None  # nothing loaded yet
        await service.refresh()
        default = service.page()
        assert default is not None and default.slug == "internal"
        assert service.is_on_a_page("web") and service.is_on_a_page("dns")
        await editor(config, store).create_page(
            slug="ops", title="Ops", hostname=None, default=False
        )
        assert service.page("ops") is None
        await service.refresh()
        assert service.page("ops") is not None
        # A reloaded config without the monitor: no page shows it any more.
        without_dns = config_for("").model_copy(
            update={"monitors": tuple(m for m in config.monitors if m.id != "dns")}
        )
        await service.refresh(without_dns)
        assert not service.is_on_a_page("dns") and service.is_on_a_page("web")
        internal = service.page("internal")
        assert internal is not None and len(internal.components) == 1  # still stored
        snapshot = await service.snapshot(internal)
        assert snapshot.components == ()
