"""The console's monitor page: facts, paged results, the latency chart, incidents and
windows touching it, the ping URL revealed on request, a manual monitor's state
control, "check now" against a real local server, and no secret on the page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tests.servers import HttpServer, Route
from uplight.incidents.service import ManualIncidentFields
from uplight.maintenance.models import WindowFields
from uplight.models import CheckResult, ResultRecord
from uplight.web.console import monitor as monitor_module

from .helpers import csrf_of, signed_in, text

# BASE_CONFIG: "web" on page "main", "db" on no page (private); both http to :9.
PING_TOKEN = "nightly-ping-secret-0123456789abcdef"
HEADER_SECRET = "Bearer header-secret-6a1f"
URL_PASSWORD = "url-password-93c2"
EXTRA = f"""
[[monitors]]
id = "storage"
name = "Model storage"
type = "manual"
interval = "1h"
[[monitors]]
id = "nightly"
name = "Nightly backup"
type = "push"
token = "{PING_TOKEN}"
period = "1d"
grace = "1h"
interval = "1m"
[[monitors]]
id = "both"
name = "Both"
type = "group"
members = ["web", "db"]
interval = "1h"
[[monitors]]
id = "secret-api"
name = "Secret API"
type = "http"
url = "http://operator:{URL_PASSWORD}@127.0.0.1:9/health?key=query-secret-77"
headers = {{ Authorization = "{HEADER_SECRET}" }}
interval = "1h"
timeout = "1s"
"""
URL = "/admin/monitors"


def results(api: Any, monitor_id: str, count: int, *, step: dt.timedelta) -> None:
    now = api.clock.now()
    for i in range(count):
        result = CheckResult.up(f"result {i}", 0.010 + i / 1000)
        api.runtime.store.add_result(ResultRecord(monitor_id, now - (count - i) * step, result))


def shown(body: str) -> list[str]:
    return re.findall(r"result \d+", body)


async def test_every_monitor_route_needs_a_session(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        for method, path in (
            ("GET", f"{URL}/web"),
            ("GET", f"{URL}/nope"),
            ("POST", f"{URL}/nightly/ping-url"),
            ("POST", f"{URL}/storage/state"),
            ("POST", f"{URL}/web/check"),
        ):
            response = await api.client.open(path, method=method)
            assert response.status_code == 303, path
            assert response.headers["Location"] == "/admin/sign-in"


async def test_posts_without_a_good_csrf_token_are_refused(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        for csrf in ("", "forged"):
            for path, form in (
                (f"{URL}/nightly/ping-url", {}),
                (f"{URL}/storage/state", {"status": "down"}),
                (f"{URL}/web/check", {}),
            ):
                response = await api.client.post(path, form={"csrf": csrf, **form})
                assert response.status_code == 403, path
                assert PING_TOKEN not in await text(response)
        assert api.runtime.states.operator_state("storage").set_at is None
        assert api.runtime.states.last("web") is None


async def test_unknown_monitor_is_a_404_page(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        csrf = await signed_in(api.client, api.token)
        response = await api.client.get(f"{URL}/nope")
        assert response.status_code == 404
        assert "There is no monitor with that id" in await text(response)
        for action in ("ping-url", "state", "check"):
            response = await api.client.post(f"{URL}/nope/{action}", form={"csrf": csrf})
            assert response.status_code == 404, action


async def test_the_overview_links_to_the_page_and_the_header_says_what_it_is(
    api_factory: Any,
) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        home = await text(await api.client.get("/admin"))
        assert f'href="{URL}/web"' in home and f'href="{URL}/db"' in home
        response = await api.client.get(f"{URL}/web")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = await text(response)
        assert "<h1" in body and "Web server" in body and "<code>web</code>" in body
        assert 'href="/status/pages/main"' in body and "no data" in body
        private = await text(await api.client.get(f"{URL}/db"))
        assert 'class="tag">private' in private


async def test_results_are_paged_newest_first(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        results(api, "web", 7, step=dt.timedelta(minutes=1))
        await api.runtime.store.flush()
        first = await text(await api.client.get(f"{URL}/web?limit=3"))
        assert shown(first) == ["result 6", "result 5", "result 4"]
        older = re.search(r'href="(/admin/monitors/web\?before=[^"]+)">Older results', first)
        assert older, first
        second = await text(await api.client.get(older.group(1).replace("&amp;", "&")))
        assert shown(second) == ["result 3", "result 2", "result 1"]
        assert "Newest results" in second
        third_link = re.search(r'href="([^"]+)">Older results', second)
        assert third_link
        third = await text(await api.client.get(third_link.group(1).replace("&amp;", "&")))
        assert shown(third) == ["result 0"] and "Older results" not in third
        # A page size is bounded; nonsense reads as the default.
        assert len(shown(await text(await api.client.get(f"{URL}/web?limit=100000")))) == 7
        assert len(shown(await text(await api.client.get(f"{URL}/web?limit=x&before=y")))) == 7


async def test_the_chart_draws_the_last_day(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        empty = await text(await api.client.get(f"{URL}/web"))
        assert '<svg class="chart"' in empty and "No results in this period" in empty
        results(api, "web", 30, step=dt.timedelta(minutes=10))
        await api.runtime.store.flush()
        body = await text(await api.client.get(f"{URL}/web"))
        svg = body[body.index('<svg class="chart"') : body.index("</svg>")]
        assert '<title id="latency-title">Latency of Web server, last 24 hours</title>' in svg
        [points] = re.findall(r'<polyline class="line" fill="none" points="([^"]+)"', svg)
        assert len(points.split()) == 30
        assert "30 results from" in svg and " style=" not in body


async def test_incidents_and_windows_touching_it_are_linked(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        for _ in range(3):  # nothing answers on :9: the thresholds open an incident
            await api.runtime.scheduler.run_once("web")
        await api.runtime.store.flush()
        [incident] = (await api.runtime.incident_service.list_incidents(monitor_id="web")).items
        now = api.clock.now()
        await api.runtime.maintenance.schedule(
            WindowFields(
                "Router swap",
                None,
                "info",
                ("web",),
                now + dt.timedelta(hours=1),
                now + dt.timedelta(hours=2),
            ),
            created_by="tester",
        )
        body = await text(await api.client.get(f"{URL}/web"))
        assert f'href="/admin/incidents/{incident.id}"' in body
        assert "Router swap" in body and 'href="/admin/maintenance?status=scheduled"' in body
        other = await text(await api.client.get(f"{URL}/db"))
        assert f'href="/admin/incidents/{incident.id}"' not in other
        assert "Router swap" not in other


async def test_more_incidents_link_to_the_list_filtered_by_the_monitor(
    api_factory: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(monitor_module, "LISTED", 1)
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        service = api.runtime.incident_service
        for title in ("One", "Two"):
            await service.open_manual(
                ManualIncidentFields(public_title=title, component_ids=("db",)), created_by="t"
            )
        body = await text(await api.client.get(f"{URL}/db"))
        assert '<a href="/admin/incidents?monitor=db">Every incident of this monitor</a>' in body
        assert "Every incident" not in await text(await api.client.get(f"{URL}/web"))


async def test_the_ping_url_appears_only_after_the_reveal(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        page = await text(await api.client.get(f"{URL}/nightly"))
        assert PING_TOKEN not in page and "Reveal ping URL" in page
        assert "No &#34;check now&#34;" in page or 'No "check now"' in page
        response = await api.client.post(f"{URL}/nightly/ping-url", form={"csrf": csrf_of(page)})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        revealed = await text(response)
        base = api.runtime.config.server.public_base_url
        assert f'value="{base}/ping/{PING_TOKEN}"' in revealed
        assert PING_TOKEN not in await text(await api.client.get(f"{URL}/nightly"))
        assert PING_TOKEN not in await text(await api.client.get("/admin"))
        # An http monitor has no ping URL.
        response = await api.client.post(f"{URL}/web/ping-url", form={"csrf": csrf_of(page)})
        assert response.status_code == 409
        assert "only monitors of a type that receives pings" in await text(response)


async def test_set_a_manual_monitors_state_and_its_refusals(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        page = await text(await api.client.get(f"{URL}/storage"))
        assert 'action="/admin/monitors/storage/state"' in page
        csrf = csrf_of(page)
        response = await api.client.post(
            f"{URL}/storage/state",
            form={"csrf": csrf, "status": "down", "message": "array rebuilding"},
        )
        assert response.status_code == 303, await text(response)
        assert response.headers["Location"] == f"{URL}/storage?saved=state"
        state = api.runtime.states.operator_state("storage")
        assert state.status.value == "down" and state.set_by == "tester"
        body = await text(await api.client.get(response.headers["Location"]))
        assert "State set" in body and "array rebuilding" in body and "state-down" in body
        response = await api.client.post(
            f"{URL}/storage/state", form={"csrf": csrf, "status": "sideways", "message": "x"}
        )
        assert response.status_code == 422
        body = await text(response)
        assert 'id="status-error"' in body and "must be one of: operational, degraded, down" in body
        response = await api.client.post(
            f"{URL}/storage/state", form={"csrf": csrf, "status": "degraded", "message": "a\nb"}
        )
        assert response.status_code == 422
        body = await text(response)
        assert 'id="message-error"' in body and 'aria-invalid="true"' in body
        assert api.runtime.states.operator_state("storage").status.value == "down"
        # Not a manual monitor: its state comes from its checks.
        response = await api.client.post(f"{URL}/web/state", form={"csrf": csrf, "status": "down"})
        assert response.status_code == 409
        assert "its state comes from its checks" in await text(response)
        assert 'action="/admin/monitors/web/state"' not in await text(
            await api.client.get(f"{URL}/web")
        )


async def test_check_now_records_a_result_from_a_real_server(api_factory: Any) -> None:
    with HttpServer({"/health": Route(200, "fine")}) as server:
        extra = f"""
[[monitors]]
id = "local"
name = "Local service"
type = "http"
url = "{server.url("/health")}"
interval = "1h"
timeout = "5s"
"""
        async with api_factory(EXTRA + extra) as api:
            await signed_in(api.client, api.token)
            page = await text(await api.client.get(f"{URL}/local"))
            assert "No result yet." in page
            response = await api.client.post(f"{URL}/local/check", form={"csrf": csrf_of(page)})
            assert response.status_code == 303, await text(response)
            assert response.headers["Location"] == f"{URL}/local?checked=done"
            assert [r.path for r in server.requests] == ["/health"]
            body = await text(await api.client.get(response.headers["Location"]))
            assert "Checked now" in body and "state-operational" in body
            row = body[body.index('<tr class="status-up">') :].split("</tr>")[0]
            assert "ms" in row and "No result yet." not in body
            assert api.runtime.scheduler.states["local"].checks["up"] == 1


async def test_check_now_is_refused_where_a_check_makes_no_result(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        csrf = await signed_in(api.client, api.token)
        for monitor_id, words in (
            ("nightly", "come from its pings"),
            ("storage", "set its state instead"),
            ("both", "check those instead"),
        ):
            response = await api.client.post(f"{URL}/{monitor_id}/check", form={"csrf": csrf})
            assert response.status_code == 409, monitor_id
            body = await text(response)
            assert 'id="check-error"' in body and words in body
        assert api.runtime.states.last("both") is None


async def test_no_secret_of_an_http_monitor_is_on_its_page(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        await signed_in(api.client, api.token)
        await api.runtime.scheduler.run_once("secret-api")  # its message names the URL
        await api.runtime.store.flush()
        body = await text(await api.client.get(f"{URL}/secret-api"))
        assert "Secret API" in body and "127.0.0.1:9/health" in body  # scrubbed summary
        for secret in (
            URL_PASSWORD,
            "query-secret-77",
            HEADER_SECRET,
            "header-secret",
            "operator:",
        ):
            assert secret not in body, secret
