"""A fresh install: `GET /` leads to the page, and while the config has no monitors the
page says which file to edit, and nothing else about the box."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ONE_MONITOR = """
[[monitors]]
id = "manual"
name = "Manual"
type = "manual"
interval = "1h"
"""


async def _get(api: Any, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = await api.client.get(path, headers=headers or {})
    return response.status_code, (await response.get_data()).decode()


async def test_a_fresh_install_says_where_its_config_is(api_factory: Callable[..., Any]) -> None:
    async with api_factory(base="") as api:
        config = api.runtime.config
        status, _ = await _get(api, "/")
        response = await api.client.get("/", headers=HTML)
        assert (status, response.headers["Location"]) == (302, "/status")

        status, body = await _get(api, "/status", HTML)
        assert status == 404
        assert "Nothing configured yet" in body
        assert f"<code>{config.source}</code>" in body
        # Only the config's path: not the database's, nor the folder's other files.
        assert str(config.database_path) not in body and "uplight.db" not in body

        # Scripts get the usual envelope; other pages and permalinks the usual 404.
        status, body = await _get(api, "/status")
        assert status == 404 and str(config.source) not in body
        for path in ("/status/pages/main", "/status/incidents/1", "/status/fragment"):
            status, body = await _get(api, path, HTML)
            assert status == 404 and str(config.source) not in body, path


async def test_a_configured_server_never_shows_its_path(api_factory: Callable[..., Any]) -> None:
    # Monitors but no page yet: not a fresh install any more, so a plain 404.
    async with api_factory(base=ONE_MONITOR) as api:
        status, body = await _get(api, "/status", HTML)
        assert status == 404 and "Not found" in body
        assert str(api.runtime.config.source) not in body


async def test_the_root_leads_to_the_page(api_factory: Callable[..., Any]) -> None:
    async with api_factory() as api:
        response = await api.client.get("/", headers=HTML)
        assert response.status_code == 302
        status, body = await _get(api, response.headers["Location"], HTML)
        assert status == 200 and "Website" in body
        assert str(api.runtime.config.source) not in body
