"""Embeddable public URLs ignore unknown query parameters; the admin API stays strict
(issue 10, point 18, second half; and point 23's badge ``style``).

A README badge with ``?v=2`` to bust a cache, a feed link with
``?utm_source=…``: both must keep working. Through the fast path, ignored
parameters must neither make cache entries of their own nor escape the rate
limit.
"""

from __future__ import annotations

from typing import Any

import pytest

from uplight.web.fastpath import FastPath

UNLIMITED = "[public.rate_limit]\nenabled = false\n"

EMBEDDED = [
    ("/api/public/v1/badge.svg", "v=2"),
    ("/api/public/v1/badge.svg", "style=flat&v=2&cachebust=1700000000"),
    ("/api/public/v1/incidents.rss", "utm_source=x&utm_medium=readme"),
    ("/api/public/v1/status.json", "callback=x&_=123"),
    ("/status", "utm_source=x"),
    ("/status/pages/main", "ref=mastodon"),
    ("/status/fragment", "t=1"),
]


async def get(api: Any, path: str, query: str = "") -> Any:
    response = await api.client.get(f"{path}?{query}" if query else path)
    response.body = await response.get_data()
    return response


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "quart"])
async def test_unknown_parameters_on_public_urls_are_ignored(api_factory, fast_path) -> None:
    async with api_factory(UNLIMITED) as api:
        fast: FastPath = api.app.asgi_app
        fast.enabled = fast_path
        for path, query in EMBEDDED:
            plain = await get(api, path)
            assert plain.status_code == 200, (path, plain.body[:200])
            with_params = await get(api, path, query)
            assert with_params.status_code == 200, (path, query, with_params.body[:200])
            # The same document, with the same validator: one cache entry serves both.
            assert with_params.body == plain.body, (path, query)
            assert with_params.headers["ETag"] == plain.headers["ETag"], (path, query)


async def test_ignored_parameters_make_no_cache_entries(api_factory) -> None:
    async with api_factory(UNLIMITED) as api:
        fast: FastPath = api.app.asgi_app
        assert (await get(api, "/api/public/v1/badge.svg")).status_code == 200
        prepared, passed = len(fast._prepared), fast.stats.passed
        for n in range(20):
            answer = await get(api, "/api/public/v1/badge.svg", f"v={n}&utm_source=readme")
            assert answer.status_code == 200
        assert len(fast._prepared) == prepared  # one entry, whatever the query string
        assert fast.stats.passed == passed  # all answered by the fast path


async def test_ignored_parameters_pay_the_rate_limit(api_factory) -> None:
    limited = "[public.rate_limit]\nrequests_per_minute = 1\nburst = 3\n"
    async with api_factory(limited) as api:
        statuses = [
            (await get(api, "/api/public/v1/badge.svg", f"v={n}")).status_code for n in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]  # a new query string is not a new budget


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "quart"])
async def test_any_badge_style_draws_the_flat_badge(api_factory, fast_path) -> None:
    async with api_factory(UNLIMITED) as api:
        fast: FastPath = api.app.asgi_app
        fast.enabled = fast_path
        flat = await get(api, "/api/public/v1/badge.svg")
        for style in ("", "plastic", "flat-square", "for-the-badge", "%00"):
            answer = await get(api, "/api/public/v1/badge.svg", f"style={style}")
            assert answer.status_code == 200, (style, answer.body[:200])
            assert answer.headers["Content-Type"].startswith("image/svg+xml")
            assert answer.body == flat.body, style


async def test_the_document_says_what_the_badge_route_does(api_factory) -> None:
    async with api_factory(UNLIMITED) as api:
        document = await (await api.client.get("/api/openapi.json")).get_json()
        badge = document["paths"]["/api/public/v1/badge.svg"]["get"]
        style = next(p for p in badge["parameters"] if p["name"] == "style")
        assert style["schema"]["type"] == "string" and "enum" not in style["schema"]
        assert "400" not in badge["responses"]  # no style is refused


async def test_mistakes_still_answer_on_public_urls(api_factory) -> None:
    async with api_factory(UNLIMITED) as api:
        missing = await get(api, "/api/public/v1/badge.svg", "page=nope&v=2")
        assert missing.status_code == 404
        twice = await get(api, "/api/public/v1/status.json", "page=main&page=main")
        assert twice.status_code == 422


async def test_the_admin_api_stays_strict(api_factory) -> None:
    async with api_factory(UNLIMITED) as api:
        for path in ("/api/v1/incidents", "/api/v1/maintenance", "/api/v1/status-pages"):
            status, body = await api.call("GET", f"{path}?v=2")
            assert status == 422, (path, body)
            assert body["error"] == {
                "code": "UNKNOWN_FIELD",
                "message": "v: unknown query parameter",
                "field": "v",
            }
