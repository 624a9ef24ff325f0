"""The Quart app in-process: health, the first page, the error envelope."""

from __future__ import annotations

import datetime as dt

from uplight import __version__
from uplight.models import CheckResult, ResultRecord
from uplight.web import create_app

CONFIG = """
[[monitors]]
id = "api"
name = "API server"
type = "http"
url = "http://127.0.0.1:9/secret-path?token=canary-123"
interval = "1h"
[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
[[monitors]]
id = "unlisted"
name = "Not on any page"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
[[pages]]
slug = "main"
title = "Main page"
[[pages.components]]
monitor = "api"
public_name = "Public API"
public_group = "Backend"
[[pages.components]]
monitor = "db"
[[pages]]
slug = "other"
title = "Other page"
"""


async def test_health_status_and_errors(make_config, registry) -> None:
    config = make_config(CONFIG.replace('interval = "1h"', 'interval = "1h"\ntimeout = "1s"'))
    app = create_app(config, registry)
    async with app.test_app() as test_app:
        runtime = app.extensions["uplight"]
        await runtime.scheduler.stop()  # the test decides what the results are
        now = dt.datetime.now(dt.UTC)

        async def check(monitor_id: str, result: CheckResult) -> None:
            # What the scheduler's listeners do with a result: store it, feed the engine.
            record = ResultRecord(monitor_id, now, result)
            runtime.store.add_result(record)
            await runtime.incidents.observe(config.monitor(monitor_id), record)
            await runtime.store.flush()
            runtime.page_cache.invalidate()

        client = test_app.test_client()
        await check("api", CheckResult.up("fine", 0.1))
        down = CheckResult.down("refused at 127.0.0.1:9 canary-123")
        await check("db", down)
        # One failure is below failure_threshold (2): the database does not count as down yet.
        first = await (await client.get("/status")).get_data(as_text=True)
        assert "All Systems Operational" in first and 'data-status="major_outage"' not in first
        await check("db", down)  # the threshold is met: now it is down

        health = await client.get("/healthz")
        assert health.status_code == 200
        assert await health.get_json() == {"status": "ok", "version": __version__, "leader": True}

        page = await client.get("/status")
        assert page.status_code == 200
        assert page.content_type.startswith("text/html")
        html = await page.get_data(as_text=True)
        assert "Main page" in html and "Partial Outage" in html
        assert "Public API" in html and "Backend" in html
        assert "Database" in html  # no public_name: falls back to the monitor's name
        assert "Not on any page" not in html
        for secret in ("canary-123", "secret-path", "127.0.0.1:9", '"api"', "refused"):
            assert secret not in html

        other = await client.get("/status/pages/other")
        assert other.status_code == 200 and "Other page" in await other.get_data(as_text=True)

        missing = await client.get("/status/pages/nope")
        assert missing.status_code == 404
        assert (await missing.get_json())["error"]["code"] == "NOT_FOUND"

        unknown = await client.get("/no/such/route")
        assert unknown.status_code == 404
        assert await unknown.get_json() == {
            "error": {"code": "NOT_FOUND", "message": "no such route or resource"}
        }

        wrong_method = await client.post("/healthz")
        assert wrong_method.status_code == 405
        assert (await wrong_method.get_json())["error"]["code"] == "METHOD_NOT_ALLOWED"
