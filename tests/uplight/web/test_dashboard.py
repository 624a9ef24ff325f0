"""GET /api/v1/health/dashboard: every section, the page cache counters included."""

from __future__ import annotations

from typing import Any

DASHBOARD = "/api/v1/health/dashboard"


async def test_dashboard_has_every_section(api_factory: Any) -> None:
    async with api_factory() as api:
        status, body = await api.call("GET", DASHBOARD)
        assert status == 200, body
        assert set(body) >= {
            "version",
            "uptime_seconds",
            "scheduler",
            "monitors",
            "store",
            "notifications",
            "cache",
        }
        assert {m["id"] for m in body["monitors"]} == {"web", "db"}
        assert body["store"]["path"]
        assert body["cache"]["ttl_seconds"] == api.runtime.page_cache.ttl
        # Known pages are listed with zeros before their first request.
        assert body["cache"]["pages"]["main"] == {
            "hits": 0,
            "misses": 0,
            "stale_served": 0,
            "compute_errors": 0,
            "computes": 0,
            "compute_seconds_total": 0.0,
        }


async def test_dashboard_cache_counts_public_requests(api_factory: Any) -> None:
    async with api_factory() as api:
        for _ in range(3):
            response = await api.client.get("/api/public/v1/status.json")
            assert response.status_code == 200
        status, body = await api.call("GET", DASHBOARD)
        assert status == 200, body
        main = body["cache"]["pages"]["main"]
        # One compute serves the first request; the next two are fresh hits (the
        # FakeClock does not move, so the TTL never runs out).
        assert main["misses"] == 1 and main["computes"] == 1
        assert main["hits"] == 2
        assert main["stale_served"] == 0 and main["compute_errors"] == 0
        assert main["compute_seconds_total"] >= 0.0
        assert "_incidents" in body["cache"]["pages"]
