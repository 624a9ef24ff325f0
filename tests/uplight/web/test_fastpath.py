"""The ASGI fast path answers exactly what the Quart routes answer, without entering Quart.

Requests go through the app's ASGI callable with a hand-built scope, so the raw
status, header list and body are compared byte for byte, exactly as a server
would send them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from dataclasses import dataclass
from typing import Any

from uplight.models import CheckResult, ResultRecord
from uplight.web.fastpath import FastPath, match

PAGES = """
[[pages]]
slug = "other"
title = "Other page"
hostname = "status.other.test"
[[pages.components]]
monitor = "db"
public_name = "Other store"
"""
UNLIMITED = "[public.rate_limit]\nenabled = false\n"


@dataclass
class Raw:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        key = name.lower().encode()
        return next((v.decode() for k, v in self.headers if k == key), None)


async def call(
    app: Any,
    path: str,
    *,
    method: str = "GET",
    query: bytes = b"",
    headers: dict[str, str] | None = None,
    client: tuple[str, int] = ("192.0.2.10", 50000),
) -> Raw:
    raw_headers = [(b"host", b"localhost")]
    for name, value in (headers or {}).items():
        raw_headers = [h for h in raw_headers if h[0] != name.lower().encode()]
        raw_headers.append((name.lower().encode(), value.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": raw_headers,
        "client": client,
        "server": ("127.0.0.1", 8080),
        "extensions": {},
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects on its own
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Raw(start["status"], [(bytes(k), bytes(v)) for k, v in start["headers"]], body)


async def both_ways(app: Any, path: str, **kwargs: Any) -> tuple[Raw, Raw]:
    """The same request answered by Quart alone, then by the fast path."""
    fast: FastPath = app.asgi_app
    fast.enabled = False
    served = fast.stats.served
    by_quart = await call(app, path, **kwargs)
    assert fast.stats.served == served
    fast.enabled = True
    by_fast = await call(app, path, **kwargs)
    assert fast.stats.served == served + 1, f"{path} was not answered by the fast path"
    return by_quart, by_fast


async def seed(api: Any) -> None:
    now = api.clock.now()
    api.runtime.store.add_result(ResultRecord("web", now, CheckResult.up("fine", 0.05)))
    api.runtime.store.add_result(ResultRecord("db", now, CheckResult.degraded("slow", 2.0)))
    await api.runtime.store.flush()
    api.runtime.page_cache.invalidate()


async def open_incident(api: Any) -> int:
    monitor = api.runtime.config.monitor("web")
    for _ in range(2):
        record = ResultRecord("web", api.clock.now(), CheckResult.down("refused"))
        await api.runtime.incidents.observe(monitor, record)
    _, body = await api.call("GET", "/api/v1/incidents?active=true")
    api.runtime.page_cache.invalidate()
    return body["items"][0]["id"]


async def test_fast_answers_are_identical_to_quart_answers(api_factory) -> None:
    async with api_factory(PAGES + UNLIMITED) as api:
        await seed(api)
        incident_id = await open_incident(api)
        document = (await call(api.app, "/api/public/v1/status.json")).body
        component = json.loads(document)["components"][0]["id"]
        requests: list[tuple[str, bytes]] = [
            ("/status", b""),
            ("/status", b"utm_source=x"),  # HTML routes ignore the query
            ("/status/fragment", b""),
            ("/status/pages/other", b""),
            ("/status/pages/other/fragment", b""),
            (f"/status/incidents/{incident_id}", b""),
            (f"/status/incidents/{incident_id}", b"utm_source=feed"),
            (f"/status/pages/main/incidents/{incident_id}", b""),
            ("/api/public/v1/status.json", b""),
            ("/api/public/v1/status.json", b"page=other"),
            ("/api/public/v1/incidents.rss", b""),
            ("/api/public/v1/badge.svg", b""),
            ("/api/public/v1/badge.svg", f"component={component}&style=flat".encode()),
        ]
        variants: list[dict[str, Any]] = [
            {},
            {"headers": {"Accept-Encoding": "gzip, deflate, br"}},
            {"headers": {"Accept-Encoding": "gzip;q=0"}},
            {"method": "HEAD"},
            {"method": "HEAD", "headers": {"Accept-Encoding": "gzip"}},
            {"headers": {"Host": "status.other.test"}},
        ]
        for path, query in requests:
            plain = None
            for variant in variants:
                on_main_only = b"component" in query or "/incidents/" in path
                if on_main_only and "Host" in variant.get("headers", {}):
                    continue  # that component is on the default page, not the other one
                by_quart, by_fast = await both_ways(api.app, path, query=query, **variant)
                assert by_quart == by_fast, (path, query, variant)
                assert by_fast.status == 200
                if variant.get("method") == "HEAD":
                    assert by_fast.body == b""
                    assert int(by_fast.header("Content-Length") or 0) > 0
                elif plain is None:
                    plain = by_fast
            assert plain is not None
            assert plain.header("Content-Length") == str(len(plain.body))
            # A conditional request: 304 from both, with the same headers and no body.
            etag = plain.header("ETag")
            assert etag
            for condition in (etag, f'W/{etag}, "x"', "*"):
                headers = {"If-None-Match": condition}
                by_quart, by_fast = await both_ways(api.app, path, query=query, headers=headers)
                assert by_quart == by_fast
                assert by_fast.status == 304 and by_fast.body == b""
                assert by_fast.header("Content-Length") is None
                assert by_fast.header("Cache-Control") == "public, max-age=10"


async def test_host_header_picks_the_page_on_the_fast_path(api_factory) -> None:
    async with api_factory(PAGES + UNLIMITED) as api:
        await seed(api)
        other = await call(api.app, "/status", headers={"Host": "Status.Other.Test:443"})
        main = await call(api.app, "/status", headers={"Host": "localhost:8080"})
        assert b"Other store" in other.body and b"Other store" not in main.body
        assert api.app.asgi_app.stats.served == 2
        # Answers from the fast path still count as page cache hits (for /metrics).
        hits = api.runtime.page_cache.stats()["other"].hits
        await call(api.app, "/status", headers={"Host": "status.other.test"})
        assert api.runtime.page_cache.stats()["other"].hits == hits + 1


async def test_the_rate_limit_is_shared_and_identical(api_factory) -> None:
    limit = "[public.rate_limit]\nrequests_per_minute = 1\nburst = 4\n"
    async with api_factory(limit) as api:
        fast: FastPath = api.app.asgi_app
        # One budget for both paths: fast, Quart, fast, Quart use up the burst.
        for enabled in (True, False, True, False):
            fast.enabled = enabled
            assert (await call(api.app, "/status")).status == 200
        by_quart, by_fast = None, None
        fast.enabled = False
        by_quart = await call(api.app, "/api/public/v1/status.json")
        fast.enabled = True
        by_fast = await call(api.app, "/api/public/v1/status.json")
        assert fast.stats.rate_limited == 1
        assert by_quart == by_fast
        assert by_fast.status == 429 and by_fast.header("Retry-After") == "60"
        assert json.loads(by_fast.body)["error"]["code"] == "RATE_LIMITED"
        head = await call(api.app, "/status", method="HEAD")
        assert head.status == 429 and head.body == b""
        # A browser on an HTML route gets the HTML 429 page, by both paths alike.
        browser = {"Accept": "text/html,*/*;q=0.8"}
        fast.enabled = False
        by_quart = await call(api.app, "/status", headers=browser)
        fast.enabled = True
        by_fast = await call(api.app, "/status", headers=browser)
        assert by_quart == by_fast
        assert by_fast.status == 429
        assert by_fast.header("Content-Type") == "text/html; charset=utf-8"
        assert b"Too many requests" in by_fast.body and by_fast.header("Retry-After") == "60"
        json_route = await call(api.app, "/api/public/v1/status.json", headers=browser)
        assert json_route.header("Content-Type") == "application/json"
        # Another client is not affected.
        other = await call(api.app, "/status", client=("192.0.2.99", 1))
        assert other.status == 200


async def test_errors_go_to_quart_and_are_charged_once(api_factory) -> None:
    async with api_factory("[public.rate_limit]\nrequests_per_minute = 1\nburst = 3\n") as api:
        fast: FastPath = api.app.asgi_app
        missing = await call(api.app, "/status/pages/nope", headers={"Accept": "text/html"})
        assert missing.status == 404 and b"<html" in missing.body
        gone = await call(api.app, "/status/incidents/12345")
        assert gone.status == 404 and b'"NOT_FOUND"' in gone.body
        assert fast.stats.passed == 2 and fast.stats.served == 0
        # Two tokens spent above, not four: the third request still passes.
        assert (await call(api.app, "/status")).status == 200
        assert (await call(api.app, "/status")).status == 429


async def test_what_the_fast_path_leaves_to_quart(api_factory) -> None:
    async with api_factory() as api:
        fast: FastPath = api.app.asgi_app
        cases = [
            ("POST", "/status", b"", 405),
            ("GET", "/api/public/v1/status.json", b"page=main&page=main", 422),
            ("GET", "/status/pages/", b"", 404),
            ("GET", "/status/incidents/007", b"", 404),
            ("GET", "/healthz", b"", 200),
        ]
        for method, path, query, status in cases:
            served = fast.stats.served
            answer = await call(api.app, path, method=method, query=query)
            assert answer.status == status, (method, path, query, answer.body)
            assert fast.stats.served == served, (method, path, query)

        assert match("/status/pages/a/b", b"") is None
        # Permalinks on a page, and the part of a timeline: both served here.
        on_page = match("/status/pages/ops/incidents/12", b"before=51&utm_source=x")
        assert on_page is not None and (on_page.slug, on_page.incident_id) == ("ops", 12)
        assert on_page.before == 51
        for query in (b"before=x", b"before=0", b"before=1&before=2"):
            assert match("/status/incidents/12", query) is None  # Quart's 404
        assert match("/api/public/v1/badge.svg", b"component=%C3%A9") is not None
        assert match("/api/public/v1/badge.svg", "component=é".encode()) is None


async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    fast = FastPath(app=None, inner=inner)  # type: ignore[arg-type]
    for kind in ("lifespan", "websocket"):
        await fast({"type": kind, "path": "/status", "method": "GET"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]


async def test_replaced_snapshots_are_not_kept_by_the_fast_path(api_factory) -> None:
    """Its encoded answers live as long as the page cache's entry, no longer: holding
    the entries made RSS climb by a page's bodies every cache window (issue 11, point 3)."""
    async with api_factory(UNLIMITED) as api:
        fast: FastPath = api.app.asgi_app
        assert (await call(api.app, "/status")).status == 200
        first = await api.runtime.page_cache.page()
        assert first is not None and first in fast._prepared
        gone = weakref.ref(first)
        del first
        for _ in range(5):
            api.runtime.page_cache.invalidate()  # a new snapshot, a new entry
            for gzip in ("gzip", "identity"):
                answer = await call(api.app, "/status", headers={"Accept-Encoding": gzip})
                assert answer.status == 200
        gc.collect()
        assert gone() is None
        assert len(fast._prepared) == 1
