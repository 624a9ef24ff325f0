"""The console's overview: every monitor, public or private, filterable, from the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from uplight.models import CheckResult, ResultRecord

from .helpers import signed_in, text

# BASE_CONFIG: "web" on page "main", "db" on no page (private); both http.
EXTRA = """
[[monitors]]
id = "storage"
name = "Model storage"
type = "manual"
interval = "1h"
"""


async def test_the_overview_lists_a_failing_private_monitor(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        # A real check: nothing listens on 127.0.0.1:9.
        await api.runtime.scheduler.run_once("db")
        await api.runtime.scheduler.run_once("db")
        await api.runtime.store.flush()
        body = await text(await api.client.get("/admin"))
        row = body[body.index('data-monitor="db"') :].split("</tr>")[0]
        assert "Database" in row and "private" in row and "state-down" in body
        assert "refused" in row.lower()  # the check's message: the operator's eyes only
        assert 'data-monitor="web"' in body and 'data-monitor="storage"' in body
        assert "1 down" in body and "3 monitors" in body
        assert api.token not in body


async def test_filters_by_state_type_and_page(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        await api.runtime.scheduler.run_once("db")
        await api.runtime.scheduler.run_once("db")

        async def shown(query: str) -> set[str]:
            body = await text(await api.client.get(f"/admin?{query}"))
            return {m for m in ("web", "db", "storage") if f'data-monitor="{m}"' in body}

        assert await shown("state=down") == {"db"}
        assert await shown("type=manual") == {"storage"}
        assert await shown("page=main") == {"web"}
        assert await shown("type=http&state=no_data") == {"web"}
        assert await shown("state=nonsense") == {"web", "db", "storage"}


async def test_the_fragment_is_the_refreshed_body(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        home = await text(await api.client.get("/admin?type=manual"))
        assert 'data-fragment="/admin/fragment/overview?type=manual"' in home
        fragment = await api.client.get("/admin/fragment/overview?type=manual")
        body = await text(fragment)
        assert fragment.status_code == 200 and "<html" not in body
        assert 'data-monitor="storage"' in body and 'data-monitor="web"' not in body


async def test_uptime_and_the_strip_come_from_the_rollups(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        now = api.clock.now()
        store = api.runtime.store
        for minutes, result in (
            (50, CheckResult.up("ok", 0.01)),
            (40, CheckResult.up("ok", 0.01)),
            (30, CheckResult.up("ok", 0.01)),
            (20, CheckResult.down("refused", 0.01)),
        ):
            store.add_result(ResultRecord("web", now - dt.timedelta(minutes=minutes), result))
        # Three days ago: counted over 7 and 30 days, not over 24 hours.
        store.add_result(
            ResultRecord("web", now - dt.timedelta(days=3), CheckResult.up("ok", 0.01))
        )
        await store.flush()
        body = await text(await api.client.get("/admin?page=main"))
        row = body[body.index('data-monitor="web"') :].split("</tr>")[0]
        assert "75.00% / 80.00% / 80.00%" in row
        assert row.count('class="cell ') == 24
        assert "state-no_data" in row
