"""Nothing secret reaches a public response: canaries in every private place, every route fetched.

Monitors carry canary strings in their URL (host, path, query), headers (a
bearer token, an API key), basic-auth credentials, body keywords, a DNS
nameserver and a TLS host; stored results carry canaries in their message and
details, and an incident is opened from them; the monitor ids themselves are
canaries (a public id must never be the config id). A monitor on no page opens
a private incident, narrated with canaries: its title, its monitor's name and
its id (as a permalink) are canaries too. Then every public route is fetched —
pages, fragments, JSON, RSS, badges, the incident permalinks (the private one's
are 404), assets, every error (404 page and envelope, 400, 422, 429, 503), the
OpenAPI document and /healthz — plain, gzipped and HEAD, and no canary may
appear in any status line, header or body.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from typing import Any

from uplight.models import CheckResult, ResultRecord

CANARIES = (
    "CANARY-HOST-3b2",
    "CANARY-URL-7f3",
    "CANARY-QUERY-88e",
    "CANARY-BEARER-91a",
    "CANARY-HDR-5d0",
    "CANARY-USER-1aa",
    "CANARY-BASIC-22c",
    "CANARY-BODY-61d",
    "CANARY-MSG-0b4",
    "CANARY-DETAIL-e90",
    "CANARY-EXC-5f5",
    "canary-tls-7c1",
    "192.0.2.53",  # the DNS monitor's nameserver
    "canary-id-web",  # monitor ids: never public
    "canary-id-dns",
    "canary-id-tls",
    "canary-id-hidden",
    "Hidden Canary Name",  # a monitor on no page: not even its name
    "CANARY-PRIVATE-TITLE",  # its incident's narration: private all the same
    "CANARY-PRIVATE-DESC",
    "CANARY-PRIVATE-UPDATE",
)

CONFIG = """
[public.rate_limit]
requests_per_minute = 60
burst = 400

[[monitors]]
id = "canary-id-web"
name = "Website"
type = "http"
url = "http://CANARY-HOST-3b2.invalid:9/CANARY-URL-7f3?token=CANARY-QUERY-88e"
interval = "1h"
timeout = "1s"
headers = { Authorization = "Bearer CANARY-BEARER-91a", X-Api-Key = "CANARY-HDR-5d0" }
basic_auth = { username = "CANARY-USER-1aa", password = "CANARY-BASIC-22c" }
body_contains = ["CANARY-BODY-61d"]

[[monitors]]
id = "canary-id-dns"
name = "Resolver"
type = "dns"
interval = "1h"
timeout = "1s"
query = "canary-query.invalid"
record_type = "A"
nameservers = ["192.0.2.53:5353"]

[[monitors]]
id = "canary-id-tls"
name = "Certificate"
type = "tls"
interval = "1h"
timeout = "1s"
host = "canary-tls-7c1.invalid"

[[monitors]]
id = "canary-id-hidden"
name = "Hidden Canary Name"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"

[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "canary-id-web"
[[pages.components]]
monitor = "canary-id-dns"
public_name = "DNS"
public_group = "Network"
[[pages.components]]
monitor = "canary-id-tls"

[[pages]]
slug = "second"
title = "Second"
[[pages.components]]
monitor = "canary-id-web"
public_name = "Site (second page)"

[[pages]]
slug = "cold"
title = "Never fetched before its compute fails"
[[pages.components]]
monitor = "canary-id-tls"
"""

BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


def failing(monitor_id: str) -> CheckResult:
    return CheckResult.down(
        f"GET http://CANARY-HOST-3b2.invalid/CANARY-URL-7f3 failed: CANARY-MSG-0b4 ({monitor_id})",
        url="http://CANARY-HOST-3b2.invalid/CANARY-URL-7f3?token=CANARY-QUERY-88e",
        request_headers={"Authorization": "Bearer CANARY-BEARER-91a"},
        note="CANARY-DETAIL-e90",
    )


async def seed(api: Any) -> tuple[int, int]:
    """Results with canaries for every monitor (some days back, too), a public incident
    and a private one (of the monitor on no page)."""
    store = api.runtime.store
    now = api.clock.now()
    for monitor_id in ("canary-id-web", "canary-id-dns", "canary-id-tls", "canary-id-hidden"):
        for days in (3, 1, 0):
            at = now - dt.timedelta(days=days)
            store.add_result(ResultRecord(monitor_id, at, failing(monitor_id)))
    await store.flush()
    monitor = api.runtime.config.monitor("canary-id-web")
    for minute in range(2):
        record = ResultRecord(
            "canary-id-web", now + dt.timedelta(minutes=minute), failing("canary-id-web")
        )
        await api.runtime.incidents.observe(monitor, record)
    status, body = await api.call("GET", "/api/v1/incidents?active=true")
    assert status == 200 and len(body["items"]) == 1, body
    incident_id = body["items"][0]["id"]
    hidden = api.runtime.config.monitor("canary-id-hidden")
    for minute in range(2):
        record = ResultRecord(
            "canary-id-hidden", now + dt.timedelta(minutes=minute), failing("canary-id-hidden")
        )
        await api.runtime.incidents.observe(hidden, record)
    status, body = await api.call("GET", "/api/v1/incidents?monitor=canary-id-hidden")
    assert status == 200 and len(body["items"]) == 1, body  # the operator sees it
    private_id = body["items"][0]["id"]
    status, _ = await api.call(
        "PATCH",
        f"/api/v1/incidents/{private_id}",
        {"public_title": "CANARY-PRIVATE-TITLE", "public_description": "CANARY-PRIVATE-DESC"},
    )
    assert status == 200
    for message in ("CANARY-PRIVATE-UPDATE one", "CANARY-PRIVATE-UPDATE two"):
        status, _ = await api.call(
            "POST",
            f"/api/v1/incidents/{private_id}/updates",
            {"phase": "identified", "message": message},
        )
        assert status == 201
    # The operator narrates in public words; that text is public by intent.
    status, _ = await api.call(
        "POST",
        f"/api/v1/incidents/{incident_id}/updates",
        {"phase": "investigating", "message": "We are looking into it."},
    )
    assert status == 201
    status, _ = await api.call(
        "POST",
        f"/api/v1/incidents/{incident_id}/updates",
        {"phase": "identified", "message": "A faulty switch port."},
    )
    assert status == 201
    api.runtime.page_cache.invalidate()
    return incident_id, private_id


def visible_text(response: Any, body: bytes) -> str:
    """Status line, every header and the (decompressed) body, as one string."""
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n\n{body.decode('utf-8', 'replace')}"


async def test_no_canary_reaches_any_public_response(api_factory) -> None:
    async with api_factory(base=CONFIG) as api:
        incident_id, private_id = await seed(api)
        client = api.client
        seen: dict[str, str] = {}

        async def fetch(path: str, method: str = "GET", **headers: str) -> Any:
            response = await client.open(path, method=method, headers=headers)
            body = await response.get_data()
            seen[f"{method} {path} {headers}"] = visible_text(response, body)
            return response, body

        _, document = await fetch("/api/public/v1/status.json")
        status = json.loads(document)
        component_ids = [c["id"] for c in status["components"]]
        assert len(component_ids) == 3
        assert status["incidents"]["active"], "the incident should be public"
        shown = [i["id"] for i in status["incidents"]["active"] + status["incidents"]["recent"]]
        assert incident_id in shown and private_id not in shown
        _, page = await fetch("/status")
        asset_paths = set(re.findall(r'(/assets/html/[^"?]+)(?:\?v=[0-9a-f]+)?"', page.decode()))
        assert asset_paths, "the page links its assets"

        paths = [
            "/status",
            "/status/fragment",
            "/status/pages/main",
            "/status/pages/second",
            "/status/pages/second/fragment",
            f"/status/incidents/{incident_id}",
            f"/status/pages/second/incidents/{incident_id}",  # under that page's name
            f"/status/incidents/{incident_id}?before=2",  # the older part of its timeline
            "/",  # a redirect to /status
            "/api/public/v1/status.json",
            "/api/public/v1/status.json?page=second",
            "/api/public/v1/incidents.rss",
            "/api/public/v1/incidents.rss?page=second",
            "/api/public/v1/badge.svg",
            "/api/public/v1/badge.svg?page=second",
            *(f"/api/public/v1/badge.svg?component={cid}" for cid in component_ids),
            *sorted(asset_paths),
            # errors
            "/status/pages/nope",
            "/status/incidents/999999",
            # a private incident has no permalink, under no page's name
            f"/status/incidents/{private_id}",
            f"/status/incidents/{private_id}?before=2",
            *(f"/status/pages/{slug}/incidents/{private_id}" for slug in ("main", "second")),
            f"/status/pages/cold/incidents/{incident_id}",  # a page that does not show it
            f"/status/incidents/{incident_id}?before=x",
            "/api/public/v1/badge.svg?component=canary-id-web",
            "/api/public/v1/badge.svg?style=plastic",  # drawn flat: embeds never break
            "/api/public/v1/status.json?page=nope",
            "/api/public/v1/status.json?unknown=1",  # ignored
            "/api/public/v1/status.json?page=second&page=second",  # 422
            "/assets/html/../../etc/passwd",
            "/no/such/route",
            # the rest of what is open without a token
            "/api/openapi.json",
            "/healthz",
        ]
        for path in paths:
            for headers in ({}, {"Accept": BROWSER}, {"Accept-Encoding": "gzip"}):
                await fetch(path, **headers)
            await fetch(path, method="HEAD")

        # 429: the same client, until its budget is gone.
        for _ in range(500):
            response, _ = await fetch("/api/public/v1/badge.svg")
            if response.status_code == 429:
                break
        assert response.status_code == 429
        page, _ = await fetch("/status", Accept=BROWSER)  # the HTML 429 page
        assert page.status_code == 429 and page.headers["Content-Type"].startswith("text/html")

        # 503: a cold compute failure whose exception names secrets.
        async def broken(slug: str) -> Any:
            raise RuntimeError("CANARY-EXC-5f5 at http://CANARY-HOST-3b2.invalid/CANARY-URL-7f3")

        api.runtime.pages.page_snapshot = broken  # type: ignore[method-assign]
        api.runtime.page_cache.invalidate()
        another = {"client": ("192.0.2.200", 1)}  # the first client's budget is gone
        stale = await client.open("/status", scope_base=another)  # last-known-good
        seen["stale 200"] = visible_text(stale, await stale.get_data())
        for path in ("/status/pages/cold", "/api/public/v1/status.json?page=cold"):
            cold = await client.open(path, scope_base=another)
            seen[f"cold {path}"] = visible_text(cold, await cold.get_data())
            assert cold.status_code == 503

        for where, text in seen.items():
            if f"incidents/{private_id} " in where or f"incidents/{private_id}?" in where:
                assert text.startswith("404\n"), where
        statuses = {text.split("\n", 1)[0] for text in seen.values()}
        # No public route answers 400 any more: an unknown badge style is drawn flat.
        assert {"200", "302", "304", "404", "422", "429", "503"} - statuses <= {"304"}
        assert len(seen) > 100
        for where, text in seen.items():
            for canary in CANARIES:
                assert canary.lower() not in text.lower(), f"{canary} leaked in {where}"
            # its id: never linked, never listed
            assert f"incidents/{private_id}" not in text, f"the private id leaked in {where}"
