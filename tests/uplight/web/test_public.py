"""The public surface in-process: every route's headers, caching, routing, errors, rate limit."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from typing import Any

from uplight.incidents.store import insert_incident, insert_update
from uplight.models import CheckResult, ResultRecord
from uplight.web.security import CONTENT_SECURITY_POLICY

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

PAGES = """
[[pages.components]]
monitor = "db"
public_name = "Data store"
[[monitors]]
id = "hidden"
name = "Hidden"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[pages]]
slug = "other"
title = "Other page"
hostname = "status.other.test"
[[pages.components]]
monitor = "db"
public_name = "Other store"
"""

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def fetch(api: Any, path: str, method: str = "GET", **headers: str) -> Any:
    response = await api.client.open(path, method=method, headers=headers)
    response.body = await response.get_data()
    return response


async def seed(api: Any) -> None:
    """One result per monitor, then a fresh snapshot."""
    now = api.clock.now()
    store = api.runtime.store
    store.add_result(ResultRecord("web", now, CheckResult.up("fine", 0.05)))
    store.add_result(ResultRecord("db", now, CheckResult.down("connection refused")))
    await store.flush()
    api.runtime.page_cache.invalidate()


async def open_incident(api: Any, monitor_id: str = "web") -> int:
    monitor = api.runtime.config.monitor(monitor_id)
    at = api.clock.now()
    for _ in range(2):
        record = ResultRecord(monitor_id, at, CheckResult.down("refused"))
        await api.runtime.incidents.observe(monitor, record)
    status, body = await api.call("GET", f"/api/v1/incidents?monitor={monitor_id}&active=true")
    assert status == 200 and body["items"], body
    api.runtime.page_cache.invalidate()
    return body["items"][0]["id"]


def component_id(api_json: dict[str, Any], name: str) -> str:
    return next(c["id"] for c in api_json["components"] if c["name"] == name)


def assert_public_headers(response: Any, *, cached: bool = True) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    if cached:
        assert headers["Cache-Control"] == "public, max-age=10"
        assert re.fullmatch(r'"[0-9a-f]{32}(-gz)?"', headers["ETag"])
        assert headers["Vary"] == "Accept-Encoding"
    else:
        assert headers["Cache-Control"] == "no-store"
        assert "ETag" not in headers


UNLIMITED = "[public.rate_limit]\nenabled = false\n"


async def test_every_route_answers_with_caching_and_security_headers(api_factory) -> None:
    async with api_factory(PAGES + UNLIMITED) as api:
        await seed(api)
        incident_id = await open_incident(api)
        document = (await fetch(api, "/api/public/v1/status.json")).body
        website = component_id(json.loads(document), "Website")
        routes = {
            "/status": "text/html; charset=utf-8",
            "/status/fragment": "text/html; charset=utf-8",
            "/status/pages/other": "text/html; charset=utf-8",
            "/status/pages/other/fragment": "text/html; charset=utf-8",
            f"/status/incidents/{incident_id}": "text/html; charset=utf-8",
            "/api/public/v1/status.json": "application/json",
            "/api/public/v1/status.json?page=other": "application/json",
            "/api/public/v1/incidents.rss": "application/rss+xml; charset=utf-8",
            "/api/public/v1/badge.svg": "image/svg+xml",
            f"/api/public/v1/badge.svg?component={website}&style=flat": "image/svg+xml",
        }
        for path, media_type in routes.items():
            plain = await fetch(api, path)
            assert plain.status_code == 200, (path, plain.body[:200])
            assert plain.headers["Content-Type"] == media_type, path
            assert "Content-Encoding" not in plain.headers
            assert int(plain.headers["Content-Length"]) == len(plain.body) > 0
            assert_public_headers(plain)
            etag = plain.headers["ETag"]

            # Conditional requests: the tag itself, in a list, weak, or *.
            for condition in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
                again = await fetch(api, path, **{"If-None-Match": condition})
                assert again.status_code == 304, (path, condition)
                assert again.body == b""
                assert again.headers["ETag"] == etag
                assert_public_headers(again)
            miss = await fetch(api, path, **{"If-None-Match": '"something-else"'})
            assert miss.status_code == 200 and miss.body == plain.body

            # gzip when it is acceptable, and only then; the bytes decompress to the plain ones.
            for accept in ("gzip", "br, gzip;q=0.5", "*", "deflate, *;q=0.1"):
                packed = await fetch(api, path, **{"Accept-Encoding": accept})
                assert packed.headers["Content-Encoding"] == "gzip", (path, accept)
                assert gzip.decompress(packed.body) == plain.body
                assert packed.headers["ETag"] != etag
                assert_public_headers(packed)
            for accept in ("gzip;q=0", "br", "identity", "*;q=0", "gzip;q=0, *"):
                identity = await fetch(api, path, **{"Accept-Encoding": accept})
                assert "Content-Encoding" not in identity.headers, (path, accept)
                assert identity.body == plain.body

            # HEAD: the same headers, no body (the test client recounts Content-Length
            # from the body it got; test_fastpath checks the raw header).
            head = await fetch(api, path, method="HEAD")
            assert head.status_code == 200 and head.body == b""
            assert head.headers["ETag"] == etag
            assert_public_headers(head)


async def test_pages_by_host_by_slug_and_the_fragment(api_factory) -> None:
    async with api_factory(PAGES) as api:
        await seed(api)
        default = (await fetch(api, "/status")).body.decode()
        assert "<h1" in default and "Main" in default and "Website" in default
        assert "Hidden" not in default
        assert 'href="/assets/html/status.css?v=' in default

        for host in ("status.other.test", "STATUS.Other.test:8443"):
            by_host = (await fetch(api, "/status", Host=host)).body.decode()
            assert "Other page" in by_host and "Other store" in by_host, host
            assert "Website" not in by_host
            fragment = (await fetch(api, "/status/fragment", Host=host)).body.decode()
            assert "Other store" in fragment and "<html" not in fragment
            badge = (await fetch(api, "/api/public/v1/badge.svg", Host=host)).body.decode()
            assert "Other page" in badge
        unknown_host = (await fetch(api, "/status", Host="elsewhere.test")).body.decode()
        assert "Website" in unknown_host  # the default page

        by_slug = (await fetch(api, "/status/pages/other")).body.decode()
        assert "Other store" in by_slug
        # The page's script fetches the fragment of the route the visitor used.
        assert "/status/pages/other/fragment" in by_slug
        fragment = (await fetch(api, "/status/fragment")).body.decode()
        assert "Website" in fragment and "<!doctype" not in fragment.lower()

        for path in ("/status/pages/nope", "/api/public/v1/status.json?page=nope"):
            missing = await fetch(api, path)
            assert missing.status_code == 404
            assert (
                missing.body == b'{"error":{"code":"NOT_FOUND","message":"no such status page"}}\n'
            )
            assert_public_headers(missing, cached=False)
        page_404 = await fetch(api, "/status/pages/nope", Accept=BROWSER)
        assert page_404.status_code == 404
        assert page_404.headers["Content-Type"].startswith("text/html")
        assert b"<html" in page_404.body
        assert_public_headers(page_404, cached=False)


async def test_incident_permalinks(api_factory) -> None:
    async with api_factory(PAGES) as api:
        await seed(api)
        incident_id = await open_incident(api)
        status, _ = await api.call(
            "PATCH", f"/api/v1/incidents/{incident_id}", {"public_title": "Slow logins"}
        )
        assert status == 200
        status, _ = await api.call(
            "POST",
            f"/api/v1/incidents/{incident_id}/updates",
            {"phase": "identified", "message": "A bad deploy; rolling back."},
        )
        assert status == 201
        api.runtime.page_cache.invalidate()

        page = await fetch(api, f"/status/incidents/{incident_id}", Accept=BROWSER)
        assert page.status_code == 200
        text = page.body.decode()
        assert "Slow logins" in text and "A bad deploy; rolling back." in text

        # An incident of a monitor on no page has no public permalink.
        async def write(db: Any) -> int:
            return await insert_incident(
                db,
                monitor_id="hidden",
                monitor_name="Hidden",
                severity="major",
                started_at=api.clock.now(),
                at=api.clock.now(),
            )

        hidden_id = await api.runtime.store.write(write)
        for missing_id in (hidden_id, 999_999, 99_999_999_999_999_999_999):
            html = await fetch(api, f"/status/incidents/{missing_id}", Accept=BROWSER)
            assert html.status_code == 404, missing_id
            assert html.headers["Content-Type"].startswith("text/html")
            assert b"Hidden" not in html.body and b"<html" in html.body
            as_json = await fetch(api, f"/status/incidents/{missing_id}", Accept="application/json")
            assert as_json.status_code == 404
            assert as_json.headers["Content-Type"] == "application/json"
            assert b'"code":"NOT_FOUND"' in as_json.body
            curl = await fetch(api, f"/status/incidents/{missing_id}", Accept="*/*")
            assert curl.headers["Content-Type"] == "application/json"


async def test_badge_parameters(api_factory) -> None:
    async with api_factory(PAGES) as api:
        await seed(api)
        document = json.loads((await fetch(api, "/api/public/v1/status.json")).body)
        store_id = component_id(document, "Data store")

        good = await fetch(api, f"/api/public/v1/badge.svg?component={store_id}")
        assert good.status_code == 200
        assert b"Data store" in good.body and b"Main" not in good.body

        # Embedded badges never break: any style draws the flat badge (issue 10, point 23).
        other_style = await fetch(api, "/api/public/v1/badge.svg?style=plastic")
        assert other_style.status_code == 200
        assert other_style.body == (await fetch(api, "/api/public/v1/badge.svg")).body

        for path in (
            "/api/public/v1/badge.svg?component=c_nope",
            "/api/public/v1/badge.svg?component=web",  # the monitor id is not a public id
            f"/api/public/v1/badge.svg?component={store_id}&page=nope",
        ):
            missing = await fetch(api, path)
            assert missing.status_code == 404, path
            assert (await missing.get_json())["error"]["code"] == "NOT_FOUND"

        # A component of another page is not on this one.
        other = json.loads((await fetch(api, "/api/public/v1/status.json?page=other")).body)
        other_id = component_id(other, "Other store")
        assert other_id != store_id
        wrong_page = await fetch(api, f"/api/public/v1/badge.svg?component={other_id}")
        assert wrong_page.status_code == 404
        right_page = await fetch(api, f"/api/public/v1/badge.svg?component={other_id}&page=other")
        assert right_page.status_code == 200

        # Unknown parameters are ignored (a README's ?v=2), as on every embeddable URL.
        unknown = await fetch(api, "/api/public/v1/badge.svg?colour=red")
        assert unknown.status_code == 200


async def test_a_cold_failure_answers_503_with_the_envelope(api_factory) -> None:
    async with api_factory() as api:

        async def broken(slug: str) -> Any:
            raise RuntimeError("database is locked at /var/lib/uplight/secret.db")

        api.runtime.pages.page_snapshot = broken  # type: ignore[method-assign]
        api.runtime.page_cache.invalidate()
        for path in ("/status", "/status/fragment", "/api/public/v1/status.json"):
            failed = await fetch(api, path, Accept=BROWSER)
            assert failed.status_code == 503, path
            assert await failed.get_json() == {
                "error": {
                    "code": "UNAVAILABLE",
                    "message": "the status page is temporarily unavailable",
                }
            }
            assert failed.headers["Retry-After"] == "10"
            assert_public_headers(failed, cached=False)
            assert b"secret" not in failed.body and b"Traceback" not in failed.body


RATE = """
[public.rate_limit]
requests_per_minute = 60
burst = 3
trusted_proxies = ["10.9.0.0/16"]
"""


async def test_rate_limit_per_client_and_behind_trusted_proxies(api_factory) -> None:
    async with api_factory(RATE) as api:

        async def hit(path: str, peer: str, forwarded: str | None = None) -> Any:
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            return await api.client.open(
                path, headers=headers, scope_base={"client": (peer, 40000)}
            )

        paths = ["/status", "/api/public/v1/status.json", "/status/pages/nope"]
        for path in paths:  # every public route draws on the same budget, errors too
            assert (await hit(path, "192.0.2.1")).status_code in (200, 404)
        limited = await hit("/api/public/v1/badge.svg", "192.0.2.1")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"  # one token a second
        assert limited.headers["Cache-Control"] == "no-store"
        body = await limited.get_json()
        assert body["error"]["code"] == "RATE_LIMITED"
        assert_public_headers(limited, cached=False)

        # Not limited: health, metrics, assets, the admin API.
        for path in ("/healthz", "/metrics", "/assets/html/status.css"):
            assert (await hit(path, "192.0.2.1")).status_code == 200, path
        status, _ = await api.call("GET", "/api/v1/incidents")
        assert status == 200

        # Another client has its own bucket.
        assert (await hit("/status", "192.0.2.2")).status_code == 200

        # Behind a trusted proxy the client is the X-Forwarded-For hop before it...
        for _ in range(3):
            assert (await hit("/status", "10.9.0.5", "203.0.113.7")).status_code == 200
        assert (await hit("/status", "10.9.0.5", "203.0.113.7")).status_code == 429
        assert (await hit("/status", "10.9.0.5", "203.0.113.8")).status_code == 200
        # ...with the proxies themselves skipped from the right; a forged left part is ignored.
        chain = "6.6.6.6, 203.0.113.9, 10.9.1.1"
        for _ in range(3):
            assert (await hit("/status", "10.9.0.5", chain)).status_code == 200
        assert (await hit("/status", "10.9.0.5", "7.7.7.7, 203.0.113.9")).status_code == 429

        # An untrusted peer cannot pick its identity with the header.
        for n in range(3):
            assert (await hit("/status", "198.51.100.4", f"203.0.113.{n + 20}")).status_code == 200
        assert (await hit("/status", "198.51.100.4", "203.0.113.99")).status_code == 429


async def test_rate_limit_off_switch(api_factory) -> None:
    async with api_factory("[public.rate_limit]\nenabled = false\nburst = 1\n") as api:
        for _ in range(30):
            assert (await api.client.get("/status")).status_code == 200


async def test_assets_are_served_safely(api_factory) -> None:
    async with api_factory() as api:
        page = (await fetch(api, "/status")).body.decode()
        css_url = re.search(r"/assets/html/status\.css\?v=([0-9a-f]+)", page)
        assert css_url, page[:500]
        versioned = await fetch(api, css_url.group(0))
        assert versioned.status_code == 200
        assert versioned.headers["Content-Type"] == "text/css; charset=utf-8"
        assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert versioned.headers["X-Content-Type-Options"] == "nosniff"

        plain = await fetch(api, "/assets/html/status.css")
        assert plain.headers["Cache-Control"] == "public, max-age=300"
        assert plain.body == versioned.body
        stale = await fetch(api, "/assets/html/status.css?v=0000")
        assert stale.headers["Cache-Control"] == "public, max-age=300"

        packed = await fetch(api, "/assets/html/status.css", **{"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.body) == plain.body
        again = await fetch(
            api, "/assets/html/status.css", **{"If-None-Match": plain.headers["ETag"]}
        )
        assert again.status_code == 304 and again.body == b""

        svg = await fetch(api, "/assets/html/favicon.svg")
        assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"

        for path in (
            "/assets/html/../../etc/passwd",
            "/assets/html/%2e%2e/%2e%2e/etc/passwd",
            "/assets/html/..%2f..%2fetc/passwd",
            "/assets/html/templates/../../renderers/html.py",
            "/assets/html/",
            "/assets/html/nope.css",
            "/assets/json/status.css",  # a renderer without assets
            "/assets/nope/status.css",
        ):
            refused = await fetch(api, path)
            assert refused.status_code == 404, path
            assert b"root:" not in refused.body and b"import" not in refused.body


async def test_openapi_documents_the_public_api(api_factory) -> None:
    async with api_factory() as api:
        document = await (await api.client.get("/api/openapi.json")).get_json()
        paths = document["paths"]
        status = paths["/api/public/v1/status.json"]["get"]
        assert "security" not in status
        assert {"404", "429", "503", "422"} <= set(status["responses"])
        schema = status["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/StatusDocument"}
        rss = paths["/api/public/v1/incidents.rss"]["get"]["responses"]["200"]["content"]
        assert list(rss) == ["application/rss+xml"]
        badge = paths["/api/public/v1/badge.svg"]["get"]
        assert list(badge["responses"]["200"]["content"]) == ["image/svg+xml"]
        assert "400" not in badge["responses"]
        assert {p["name"] for p in badge["parameters"]} == {"page", "component", "style"}


async def test_cache_ttl_zero_still_serves(api_factory) -> None:
    async with api_factory('[public]\ncache_ttl = "0s"\n') as api:
        first = await fetch(api, "/status")
        assert first.status_code == 200
        assert first.headers["Cache-Control"] == "public, max-age=0"
        now = api.clock.now() + dt.timedelta(seconds=1)
        api.runtime.store.add_result(ResultRecord("web", now, CheckResult.down("refused")))
        await api.runtime.store.flush()
        second = await fetch(api, "/status")
        assert second.headers["ETag"] != first.headers["ETag"]  # no cache: a new snapshot


# -- issue 10: the public page tells the truth ---------------------------------------

PER_PAGE = """
[public.rate_limit]
enabled = false
[[monitors]]
id = "vpn"
name = "VPN gateway"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[pages.components]]
monitor = "db"
public_name = "Public API"
[[pages]]
slug = "ops"
title = "Ops"
hostname = "ops.example.test"
[[pages.components]]
monitor = "db"
public_name = "Renamed API"
[[pages.components]]
monitor = "vpn"
public_name = "VPN"
[[pages]]
slug = "family"
title = "Family"
[[pages.components]]
monitor = "vpn"
public_name = "Home VPN"
"""
OPS = "ops.example.test"


def html_title(body: bytes) -> str:
    found = re.search(r"<title>(.*?)</title>", body.decode())
    assert found, body[:300]
    return found.group(1)


async def test_a_permalink_renders_under_the_page_it_is_reached_from(api_factory) -> None:
    """Point 11: by Host or by a path under the page's slug, with that page's names."""
    async with api_factory(PER_PAGE) as api:
        await seed(api)
        shared = await open_incident(api, "db")  # on the default page and on ops
        default_only = await open_incident(api, "web")
        vpn = await open_incident(api, "vpn")  # on ops and family, not the default page

        default = await fetch(api, f"/status/incidents/{shared}", Accept=BROWSER)
        assert html_title(default.body) == "Public API is down · Main"
        by_host = await fetch(api, f"/status/incidents/{shared}", Host=OPS, Accept=BROWSER)
        by_slug = await fetch(api, f"/status/pages/ops/incidents/{shared}", Accept=BROWSER)
        for response in (by_host, by_slug):
            assert response.status_code == 200
            text = response.body.decode()
            assert html_title(response.body) == "Renamed API is down · Ops"
            assert "Affected</dt><dd>Renamed API</dd>" in text
            assert "Public API" not in text and "Main" not in text
        family = await fetch(api, f"/status/pages/family/incidents/{vpn}", Accept=BROWSER)
        assert html_title(family.body) == "Home VPN is down · Family"

        # Not on that page: 404 there, however it is reached (and the HTML 404 page).
        for path, host in (
            (f"/status/incidents/{default_only}", OPS),
            (f"/status/pages/ops/incidents/{default_only}", "localhost"),
            (f"/status/pages/family/incidents/{shared}", "localhost"),
            (f"/status/pages/nope/incidents/{shared}", "localhost"),
        ):
            missing = await fetch(api, path, Host=host, Accept=BROWSER)
            assert missing.status_code == 404, (path, host)
            assert b"Not found" in missing.body and b"Public API" not in missing.body
            as_json = await fetch(api, path, Host=host)
            assert as_json.status_code == 404 and b'"NOT_FOUND"' in as_json.body

        # A link to the default host for an incident the default page does not show (a
        # notification's, an old feed's) goes to the first page that shows it.
        moved = await fetch(api, f"/status/incidents/{vpn}")
        assert moved.status_code == 302
        assert moved.headers["Location"] == f"/status/pages/ops/incidents/{vpn}"
        assert moved.headers["Cache-Control"] == "no-store"


async def test_a_pages_json_and_rss_link_to_its_own_origin(api_factory) -> None:
    """Point 11: the page with a hostname links to that hostname, the others to the base."""
    async with api_factory(PER_PAGE) as api:
        await seed(api)
        shared = await open_incident(api, "db")
        base = api.runtime.config.server.public_base_url
        port = base.rsplit(":", 1)[1]
        ops_origin = f"http://{OPS}:{port}"
        for headers, query in (({"Host": OPS}, ""), ({}, "?page=ops")):
            document = json.loads(
                (await fetch(api, f"/api/public/v1/status.json{query}", **headers)).body
            )
            assert document["page"]["url"] == f"{ops_origin}/status"
            (incident,) = document["incidents"]["active"]
            assert incident["url"] == f"{ops_origin}/status/incidents/{shared}"
            assert incident["title"] == "Renamed API is down"
            rss = (await fetch(api, f"/api/public/v1/incidents.rss{query}", **headers)).body
            assert f"<link>{ops_origin}/status</link>".encode() in rss
            assert (
                f'<guid isPermaLink="true">{ops_origin}/status/incidents/{shared}'.encode() in rss
            )
            assert f'href="{ops_origin}/api/public/v1/incidents.rss?page=ops"'.encode() in rss
            assert base.encode() not in rss
        family = json.loads((await fetch(api, "/api/public/v1/status.json?page=family")).body)
        assert family["page"]["url"] == f"{base}/status/pages/family"
        main = json.loads((await fetch(api, "/api/public/v1/status.json")).body)
        assert main["incidents"]["active"][0]["url"] == f"{base}/status/incidents/{shared}"
        # Following a family page's permalink shows the incident on the family page.
        vpn = await open_incident(api, "vpn")
        family = json.loads((await fetch(api, "/api/public/v1/status.json?page=family")).body)
        link = family["incidents"]["active"][0]["url"]
        assert link == f"{base}/status/pages/family/incidents/{vpn}"
        page = await fetch(api, link.removeprefix(base), Accept=BROWSER)
        assert html_title(page.body) == "Home VPN is down · Family"


async def test_the_permalink_back_link_names_the_page_once(api_factory) -> None:
    """Point 12: "← Example status", not "← Example status status"."""
    titled = PAGES.replace(
        'slug = "other"\ntitle = "Other page"', 'slug = "other"\ntitle = "Example status"'
    )
    async with api_factory(titled + UNLIMITED) as api:
        await seed(api)
        incident_id = await open_incident(api, "db")
        page = await fetch(api, f"/status/pages/other/incidents/{incident_id}", Accept=BROWSER)
        back = re.search(r'<p class="back"><a href="([^"]+)">(.*?)</a></p>', page.body.decode())
        assert back and back.groups() == ("/status", "← Example status")


async def test_a_rate_limited_browser_gets_an_html_page(api_factory) -> None:
    """Point 18: HTML routes answer a browser's 429 with a page, JSON routes with JSON."""
    async with api_factory("[public.rate_limit]\nrequests_per_minute = 1\nburst = 1\n") as api:

        async def hit(path: str, peer: str, **headers: str) -> Any:
            response = await api.client.open(
                path, headers=headers, scope_base={"client": (peer, 40000)}
            )
            response.body = await response.get_data()
            return response

        for n, path in enumerate(
            ("/status", "/status/fragment", "/status/pages/main", "/status/incidents/1", "/")
        ):
            peer = f"192.0.2.{n + 1}"
            await hit(path, peer)  # the one token
            page = await hit(path, peer, Accept=BROWSER)
            assert page.status_code == 429, path
            assert page.headers["Content-Type"] == "text/html; charset=utf-8"
            assert page.headers["Retry-After"] == "60"
            assert page.headers["Vary"] == "Accept"
            assert b"Too many requests" in page.body and b"<html" in page.body
            assert_public_headers(page, cached=False)
            curl = await hit(path, peer, Accept="*/*")
            assert curl.status_code == 429
            assert (await curl.get_json())["error"]["code"] == "RATE_LIMITED"
        # A JSON route keeps the envelope, whatever the browser accepts.
        await hit("/api/public/v1/status.json", "192.0.2.50")
        limited = await hit("/api/public/v1/status.json", "192.0.2.50", Accept=BROWSER)
        assert limited.status_code == 429
        assert limited.headers["Content-Type"] == "application/json"
        assert (await limited.get_json())["error"]["code"] == "RATE_LIMITED"


async def test_the_root_redirects_to_the_status_page(api_factory) -> None:
    """Point 19: / → /status, which the Host resolves to its page."""
    async with api_factory(PAGES + UNLIMITED) as api:
        await seed(api)
        for host, name in (("localhost", b"Website"), ("status.other.test", b"Other store")):
            for method in ("GET", "HEAD"):
                root = await fetch(api, "/", method=method, Host=host)
                assert root.status_code == 302, (host, method)
                assert root.headers["Location"] == "/status"
            page = await fetch(api, root.headers["Location"], Host=host)
            assert page.status_code == 200 and name in page.body


async def test_a_long_timeline_is_paged(api_factory) -> None:
    """Point 21: 3,000 updates render the newest 50, with links to page back."""
    async with api_factory(PAGES + UNLIMITED) as api:
        await seed(api)
        incident_id = await open_incident(api)
        at = api.clock.now()

        async def write(db: Any) -> None:
            for n in range(1, 3001):
                await insert_update(
                    db,
                    incident_id,
                    phase="monitoring",
                    message=f"Still watching the queue drain ({n}). " + "x" * 200,
                    created_by="ops",
                    at=at + dt.timedelta(seconds=n),
                )

        await api.runtime.store.write(write)
        api.runtime.page_cache.invalidate()
        path = f"/status/incidents/{incident_id}"
        newest = await fetch(api, path, Accept=BROWSER)
        text = newest.body.decode()
        assert newest.status_code == 200
        assert len(newest.body) < 40_000  # 780 KB before
        assert text.count('class="timeline-entry') == 50
        assert "(3000)" in text and "(2951)" in text and "(2950)" not in text
        assert f'href="{path}?before=2951" rel="next">Older updates' in text

        older = (await fetch(api, f"{path}?before=2951", Accept=BROWSER)).body.decode()
        assert "(2950)" in older and "(2901)" in older and "(2951)" not in older
        assert "Updates 2901\u20132950 of 3000" in older
        assert f'href="{path}" rel="prev">' in older
        oldest = (await fetch(api, f"{path}?before=2", Accept=BROWSER)).body.decode()
        assert oldest.count('class="timeline-entry') == 1 and "Older updates" not in oldest

        # Validated: one canonical number naming a part of this timeline, else 404.
        for query in (
            "before=0",
            "before=1",
            "before=3001",
            "before=x",
            "before=02",
            "before=-5",
            "before=2951&before=2901",
            "before=99999999999999999999",
        ):
            bad = await fetch(api, f"{path}?{query}", Accept=BROWSER)
            assert bad.status_code == 404, query
            assert bad.headers["Content-Type"].startswith("text/html")
        # Other parameters are ignored, as on every HTML route.
        tracked = await fetch(api, f"{path}?utm_source=feed", Accept=BROWSER)
        assert tracked.status_code == 200 and tracked.body == newest.body
