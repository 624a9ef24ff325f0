"""The admin API's page rules (PageEditor), on a real SQLite file with a driven clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from postgres import storage_toml

from uplight.clock import FakeClock
from uplight.config import Config
from uplight.db.store import Store
from uplight.pages.editing import (
    ComponentNotFound,
    DefaultProvisioned,
    HostnameTaken,
    PageEditor,
    PageNotFound,
    PageProvisioned,
    ReorderMismatch,
    SlugTaken,
    UnknownMonitor,
)
from uplight.pages.provisioning import provision_pages
from uplight.pages.service import PageService
from uplight.schema import build_store

MONITORS = "".join(
    f"""
[[monitors]]
id = "{monitor_id}"
name = "{monitor_id.title()}"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
"""
    for monitor_id in ("web", "db", "dns")
)

CONFIG_PAGE = """
[[pages]]
slug = "main"
title = "Main"
hostname = "status.example.com"
[[pages.components]]
monitor = "web"
"""

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Editing:
    editor: PageEditor
    directory: PageService
    clock: FakeClock
    store: Store


@pytest.fixture
def config_for(make_config) -> Callable[[str], Config]:
    return lambda pages: make_config(MONITORS + pages)


@pytest.fixture
async def editing(config_for, db_location: Path | str) -> AsyncIterator[Editing]:
    config = config_for(CONFIG_PAGE + storage_toml(db_location))
    clock = FakeClock(T0)
    async with build_store(config.database_location) as store:
        await provision_pages(store, config, T0)
        directory = PageService(config, store, clock=clock)
        await directory.refresh()
        yield Editing(PageEditor(config, store, directory, clock=clock), directory, clock, store)


async def test_create_stamps_the_clock_and_refreshes_the_directory(editing: Editing) -> None:
    editing.clock.set(T0 + dt.timedelta(minutes=5))
    page = await editing.editor.create_page(slug="ops", title="Ops", hostname=None, default=False)
    assert page.created_at == page.updated_at == T0 + dt.timedelta(minutes=5)
    assert not page.provisioned and page.components == ()
    assert editing.directory.page("ops") == page  # no separate refresh needed


async def test_slug_and_hostname_are_checked_against_every_page(editing: Editing) -> None:
    with pytest.raises(SlugTaken):
        await editing.editor.create_page(slug="main", title="X", hostname=None, default=False)
    with pytest.raises(HostnameTaken) as taken:
        await editing.editor.create_page(
            slug="ops", title="Ops", hostname="status.example.com", default=False
        )
    assert (taken.value.hostname, taken.value.slug) == ("status.example.com", "main")
    assert await editing.editor.page("ops") is None


async def test_two_creates_of_one_slug_cannot_both_pass(editing: Editing) -> None:
    # The check runs inside the write transaction: the second sees the first's row.
    results = await asyncio.gather(
        *(
            editing.editor.create_page(slug="ops", title=f"Ops {n}", hostname=None, default=False)
            for n in range(2)
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["SlugTaken", "StoredPage"]


async def test_a_provisioned_page_is_read_only(editing: Editing) -> None:
    editor = editing.editor
    for attempt in (
        editor.update_page("main", {"title": "New"}),
        editor.delete_page("main"),
        editor.add_component("main", "db", {}),
        editor.update_component("main", "web", {"public_name": "Site"}),
        editor.remove_component("main", "web"),
        editor.reorder_components("main", ["web"]),
    ):
        with pytest.raises(PageProvisioned) as refused:
            await attempt
        assert (refused.value.slug, refused.value.config_index) == ("main", 0)
    with pytest.raises(PageNotFound):
        await editor.update_page("nope", {"title": "New"})


async def test_the_default_moves_between_api_pages_but_not_off_a_config_choice(
    config_for, editing: Editing
) -> None:
    editor = editing.editor
    await editor.create_page(slug="a", title="A", hostname=None, default=True)
    b = await editor.create_page(slug="b", title="B", hostname=None, default=True)
    assert b.default and not (await editor.page("a")).default
    await editor.update_page("b", {"default": False})
    # Nobody chose: the first config page serves /status again.
    assert (await editor.page("main")).default and editing.directory.page().slug == "main"

    chosen = config_for(CONFIG_PAGE.replace('title = "Main"\n', 'title = "Main"\ndefault = true\n'))
    await provision_pages(editing.store, chosen, T0)
    with pytest.raises(DefaultProvisioned) as refused:
        await editor.update_page("a", {"default": True})
    assert (refused.value.slug, refused.value.config_index) == ("main", 0)


async def test_a_refusal_rolls_back_the_whole_change(editing: Editing) -> None:
    await editing.editor.create_page(slug="ops", title="Ops", hostname=None, default=False)
    with pytest.raises(HostnameTaken):
        await editing.editor.update_page(
            "ops", {"title": "Renamed", "hostname": "status.example.com"}
        )
    assert (await editing.editor.page("ops")).title == "Ops"


async def test_adding_a_component_is_idempotent_and_placed_last(editing: Editing) -> None:
    editor = editing.editor
    await editor.create_page(slug="ops", title="Ops", hostname=None, default=False)
    await editor.add_component("ops", "web", {"sort_order": 7})
    editing.clock.advance(minutes=1)
    db, created = await editor.add_component("ops", "db", {"public_name": "Data"})
    assert created and db.sort_order == 8 and db.public_name == "Data"
    assert (await editor.page("ops")).updated_at == T0 + dt.timedelta(minutes=1)

    editing.clock.advance(minutes=1)
    again, created = await editor.add_component("ops", "db", {"public_name": "Other"})
    assert not created and again == db  # unchanged
    assert editing.directory.is_on_a_page("db")

    with pytest.raises(UnknownMonitor):
        await editor.add_component("ops", "ghost", {})


async def test_update_and_remove_need_the_component_on_the_page(editing: Editing) -> None:
    editor = editing.editor
    await editor.create_page(slug="ops", title="Ops", hostname=None, default=False)
    await editor.add_component("ops", "web", {"sort_order": 3})
    await editor.add_component("ops", "db", {"sort_order": 1})
    moved = await editor.update_component("ops", "db", {"sort_order": None, "public_group": "G"})
    assert moved.sort_order == 4 and moved.public_group == "G"  # after every other one
    cleared = await editor.update_component("ops", "db", {"public_group": None})
    assert cleared.public_group is None and cleared.sort_order == 4

    with pytest.raises(ComponentNotFound):
        await editor.update_component("ops", "dns", {"public_name": "X"})
    await editor.remove_component("ops", "db")
    with pytest.raises(ComponentNotFound):
        await editor.remove_component("ops", "db")
    assert [c.monitor_id for c in (await editor.page("ops")).components] == ["web"]


@pytest.mark.parametrize(
    ("order", "code", "field"),
    [
        (["web", "dns"], "INVALID_COMPONENT_ID", "target_ids[1]"),
        (["web", "web", "db"], "DUPLICATE_COMPONENT_ID", "target_ids[1]"),
        (["db"], "MISSING_COMPONENT_ID", "target_ids"),
    ],
)
async def test_reorder_must_list_every_component_once(
    editing: Editing, order: list[str], code: str, field: str
) -> None:
    editor = editing.editor
    await editor.create_page(slug="ops", title="Ops", hostname=None, default=False)
    await editor.add_component("ops", "web", {})
    await editor.add_component("ops", "db", {})
    with pytest.raises(ReorderMismatch) as refused:
        await editor.reorder_components("ops", order)
    assert (refused.value.code, refused.value.field) == (code, field)

    page = await editor.reorder_components("ops", ["db", "web"])
    assert [(c.monitor_id, c.sort_order) for c in page.components] == [("db", 1), ("web", 2)]
