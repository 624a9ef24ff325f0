"""/api/v1/status-pages: pages and components through the admin API."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from uplight.models import CheckResult, ResultRecord

PAGES = "/api/v1/status-pages"


async def make_page(api: Any, slug: str = "ops", **fields: Any) -> dict[str, Any]:
    status, body = await api.call("POST", PAGES, json={"slug": slug, "title": "Ops", **fields})
    assert status == 201, body
    return body


def error_code(body: Any) -> str:
    return body["error"]["code"]


async def test_provisioned_page_is_listed_with_opaque_component_ids(api_factory) -> None:
    async with api_factory() as api:
        status, body = await api.call("GET", PAGES)
        assert status == 200
        [main] = body["items"]
        assert main["slug"] == "main" and main["title"] == "Main"
        assert main["provisioned"] is True and main["default"] is True
        assert main["created_at"].endswith("Z")
        [component] = main["components"]
        assert component["target_id"] == "web"
        assert component["public_name"] == "Website" and component["name"] == "Website"
        assert component["public_id"].startswith("c_") and "web" not in component["public_id"]
        assert set(component) == {
            "target_id",
            "public_id",
            "public_name",
            "public_description",
            "public_group",
            "sort_order",
            "name",
        }
        status, one = await api.call("GET", f"{PAGES}/main")
        assert status == 200 and one == main


async def test_create_read_patch_delete(api_factory) -> None:
    async with api_factory() as api:
        created = await make_page(api, title="  Operations ", hostname="Status.Example.COM")
        assert created["title"] == "Operations"  # surrounding whitespace is dropped
        assert created["hostname"] == "status.example.com"
        assert created["provisioned"] is False and created["default"] is False
        assert created["components"] == []
        status, read = await api.call("GET", f"{PAGES}/ops")
        assert status == 200 and read == created

        # Omitted: unchanged.
        status, same = await api.call("PATCH", f"{PAGES}/ops", json={})
        assert status == 200
        assert {k: same[k] for k in ("title", "hostname", "default")} == {
            "title": "Operations",
            "hostname": "status.example.com",
            "default": False,
        }
        # A value sets it; the others stay.
        status, renamed = await api.call("PATCH", f"{PAGES}/ops", json={"title": "Ops 2"})
        assert status == 200
        assert renamed["title"] == "Ops 2" and renamed["hostname"] == "status.example.com"
        # null clears a nullable field...
        status, cleared = await api.call("PATCH", f"{PAGES}/ops", json={"hostname": None})
        assert status == 200 and cleared["hostname"] is None and cleared["title"] == "Ops 2"
        # ...and is refused for one that cannot be empty.
        for field in ("title", "default"):
            status, body = await api.call("PATCH", f"{PAGES}/ops", json={field: None})
            assert status == 422 and body["error"]["field"] == field

        status, listed = await api.call("GET", PAGES)
        assert [p["slug"] for p in listed["items"]] == ["main", "ops"]

        status, body = await api.call("DELETE", f"{PAGES}/ops")
        assert status == 204 and body is None
        assert (await api.call("GET", f"{PAGES}/ops"))[0] == 404
        assert (await api.call("DELETE", f"{PAGES}/ops"))[0] == 404
        assert api.runtime.pages.page("ops") is None


async def test_default_page_moves_to_an_api_page(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api, title="Operations")
        status, page = await api.call("PATCH", f"{PAGES}/ops", json={"default": True})
        assert status == 200 and page["default"] is True
        assert (await api.call("GET", f"{PAGES}/main"))[1]["default"] is False
        html = await (await api.client.get("/status")).get_data(as_text=True)
        assert "<h1>Operations</h1>" in html
        # Giving the flag up falls back to the first config page.
        status, page = await api.call("PATCH", f"{PAGES}/ops", json={"default": False})
        assert status == 200 and page["default"] is False
        html = await (await api.client.get("/status")).get_data(as_text=True)
        assert "<h1>Main</h1>" in html


async def test_a_default_named_in_the_config_cannot_move(api_factory) -> None:
    extra = '[[pages]]\nslug = "other"\ntitle = "Other"\ndefault = true\n'
    async with api_factory(extra) as api:
        status, body = await api.call(
            "POST", PAGES, json={"slug": "ops", "title": "Ops", "default": True}
        )
        assert status == 409 and error_code(body) == "PROVISIONED"
        assert "pages[1].default" in body["error"]["message"]
        assert (await api.call("GET", f"{PAGES}/ops"))[0] == 404  # nothing was created
        await make_page(api)
        status, body = await api.call("PATCH", f"{PAGES}/ops", json={"default": True})
        assert status == 409 and error_code(body) == "PROVISIONED"


async def test_slug_and_hostname_taken(api_factory) -> None:
    async with api_factory() as api:
        for slug in ("main", "ops"):
            if slug == "ops":
                await make_page(api, hostname="status.example.com")
            status, body = await api.call("POST", PAGES, json={"slug": slug, "title": "Again"})
            assert status == 409 and error_code(body) == "SLUG_TAKEN"
            assert body["error"]["field"] == "slug"
        status, body = await api.call(
            "POST", PAGES, json={"slug": "two", "title": "Two", "hostname": "STATUS.example.com"}
        )
        assert status == 409 and error_code(body) == "HOSTNAME_TAKEN"
        await make_page(api, "two")
        status, body = await api.call(
            "PATCH", f"{PAGES}/two", json={"hostname": "status.example.com"}
        )
        assert status == 409 and error_code(body) == "HOSTNAME_TAKEN"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"slug": "Bad_Slug", "title": "t"}, "INVALID_SLUG", "slug"),
        ({"slug": "-x", "title": "t"}, "INVALID_SLUG", "slug"),
        ({"slug": "x" * 65, "title": "t"}, "INVALID_SLUG", "slug"),
        ({"slug": "ok", "title": " \t\n"}, "EMPTY_TITLE", "title"),
        ({"slug": "ok", "title": "x" * 201}, "TITLE_TOO_LONG", "title"),
        ({"slug": "ok", "title": "t", "hostname": "not a host"}, "INVALID_HOSTNAME", "hostname"),
        ({"slug": "ok", "title": "t", "hostname": "a..b"}, "INVALID_HOSTNAME", "hostname"),
        ({"slug": "ok"}, "MISSING_FIELD", "title"),
        ({"slug": "ok", "title": "t", "extra": 1}, "UNKNOWN_FIELD", "extra"),
        ({"slug": "ok", "title": 5}, "VALIDATION_ERROR", "title"),
        ({"slug": "ok", "title": "t", "default": "yes"}, "VALIDATION_ERROR", "default"),
    ],
)
async def test_page_validation_codes(api_factory, body: Any, code: str, field: str) -> None:
    async with api_factory() as api:
        status, answer = await api.call("POST", PAGES, json=body)
        assert status == 422, answer
        assert error_code(answer) == code and answer["error"]["field"] == field


async def test_title_at_the_limit_is_accepted(api_factory) -> None:
    async with api_factory() as api:
        page = await make_page(api, title="x" * 200)
        assert len(page["title"]) == 200


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"target_id": "nope"}, "INVALID_COMPONENT_ID", "target_id"),
        ({"target_id": "db", "public_name": "  "}, "EMPTY_NAME", "public_name"),
        ({"target_id": "db", "public_name": "n" * 201}, "NAME_TOO_LONG", "public_name"),
        ({"target_id": "db", "public_group": ""}, "EMPTY_GROUP", "public_group"),
        ({"target_id": "db", "public_group": "g" * 201}, "GROUP_TOO_LONG", "public_group"),
        (
            {"target_id": "db", "public_description": "d" * 5001},
            "DESCRIPTION_TOO_LONG",
            "public_description",
        ),
        ({"target_id": "db", "sort_order": "1"}, "VALIDATION_ERROR", "sort_order"),
        ({"target_id": "db", "sort_order": 10**12}, "VALIDATION_ERROR", "sort_order"),
        ({}, "MISSING_FIELD", "target_id"),
    ],
)
async def test_component_validation_codes(api_factory, body: Any, code: str, field: str) -> None:
    async with api_factory() as api:
        await make_page(api)
        status, answer = await api.call("POST", f"{PAGES}/ops/components", json=body)
        assert status == 422, answer
        assert error_code(answer) == code and answer["error"]["field"] == field
        rest = {k: v for k, v in body.items() if k != "target_id"}
        if rest:
            # The same codes on PATCH; the body is checked first, so even on a config page.
            status, answer = await api.call("PATCH", f"{PAGES}/main/components/web", json=rest)
            assert status == 422 and error_code(answer) == code


async def test_bad_bodies_are_clean_4xx(api_factory) -> None:
    async with api_factory() as api:
        response = await api.client.post(
            PAGES, data="{not json", headers={**api.auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert (await response.get_json())["error"]["code"] == "INVALID_JSON"
        response = await api.client.post(
            PAGES, data="slug=x", headers={**api.auth, "Content-Type": "text/plain"}
        )
        assert response.status_code == 415
        status, body = await api.call("POST", PAGES, json=["slug"])
        assert status == 422 and error_code(body) == "VALIDATION_ERROR"


async def test_config_pages_refuse_every_change(api_factory) -> None:
    async with api_factory() as api:
        attempts = [
            ("PATCH", f"{PAGES}/main", {"title": "New"}),
            ("PATCH", f"{PAGES}/main", {}),
            ("DELETE", f"{PAGES}/main", None),
            ("POST", f"{PAGES}/main/components", {"target_id": "db"}),
            ("POST", f"{PAGES}/main/components", {"target_id": "web"}),  # even the no-op
            ("PATCH", f"{PAGES}/main/components/web", {"public_name": "X"}),
            ("DELETE", f"{PAGES}/main/components/web", None),
            ("POST", f"{PAGES}/main/components/reorder", {"target_ids": ["web"]}),
        ]
        for method, path, body in attempts:
            status, answer = await api.call(method, path, json=body)
            assert status == 409, (method, path, answer)
            assert error_code(answer) == "PROVISIONED"
            message = answer["error"]["message"]
            assert "pages[0]" in message and "config.toml" in message
        status, main = await api.call("GET", f"{PAGES}/main")
        assert main["title"] == "Main" and [c["target_id"] for c in main["components"]] == ["web"]


async def test_add_is_idempotent(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        path = f"{PAGES}/ops/components"
        status, first = await api.call(
            "POST", path, json={"target_id": "db", "public_name": "Our DB", "public_group": "Data"}
        )
        assert status == 201
        assert first["name"] == "Our DB" and first["public_group"] == "Data"
        assert first["sort_order"] == 1  # omitted: placed last
        status, again = await api.call(
            "POST", path, json={"target_id": "db", "public_name": "Something else"}
        )
        assert status == 200 and again == first  # the existing component, unchanged
        status, page = await api.call("GET", f"{PAGES}/ops")
        assert [c["target_id"] for c in page["components"]] == ["db"]
        status, web = await api.call("POST", path, json={"target_id": "web"})
        assert status == 201 and web["sort_order"] == 2 and web["name"] == "Web server"
        assert web["public_id"] != first["public_id"]


async def test_component_patch_three_states(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        status, _ = await api.call(
            "POST",
            f"{PAGES}/ops/components",
            json={
                "target_id": "db",
                "public_name": "Our DB",
                "public_group": "Data",
                "public_description": "Where things live",
                "sort_order": 3,
            },
        )
        assert status == 201
        path = f"{PAGES}/ops/components/db"

        status, same = await api.call("PATCH", path, json={})
        assert status == 200
        assert (same["public_name"], same["public_group"], same["public_description"]) == (
            "Our DB",
            "Data",
            "Where things live",
        )
        assert same["sort_order"] == 3

        status, named = await api.call("PATCH", path, json={"public_name": "The DB"})
        assert status == 200 and named["name"] == "The DB" and named["public_group"] == "Data"

        status, cleared = await api.call("PATCH", path, json={"public_name": None})
        assert status == 200
        assert cleared["public_name"] is None and cleared["name"] == "Database"  # monitor's name
        assert cleared["public_group"] == "Data"

        status, cleared = await api.call(
            "PATCH", path, json={"public_group": None, "public_description": None}
        )
        assert status == 200
        assert cleared["public_group"] is None and cleared["public_description"] is None

        status, moved = await api.call("PATCH", path, json={"sort_order": -4})
        assert status == 200 and moved["sort_order"] == -4
        status, moved = await api.call("PATCH", path, json={"sort_order": 7.0})
        assert status == 200 and moved["sort_order"] == 7  # JSON Schema: 7.0 is an integer
        status, body = await api.call("PATCH", path, json={"sort_order": 7.5})
        assert status == 422 and body["error"]["field"] == "sort_order"

        status, body = await api.call("PATCH", path, json={"target_id": "web"})
        assert status == 422 and error_code(body) == "UNKNOWN_FIELD"


async def test_reorder(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        for target in ("web", "db"):
            await api.call("POST", f"{PAGES}/ops/components", json={"target_id": target})
        path = f"{PAGES}/ops/components/reorder"

        status, page = await api.call("POST", path, json={"target_ids": ["db", "web"]})
        assert status == 200
        assert [(c["target_id"], c["sort_order"]) for c in page["components"]] == [
            ("db", 1),
            ("web", 2),
        ]

        cases = [
            (["db"], "MISSING_COMPONENT_ID", "target_ids"),
            ([], "MISSING_COMPONENT_ID", "target_ids"),
            (["db", "db", "web"], "DUPLICATE_COMPONENT_ID", "target_ids[1]"),
            (["db", "web", "nope"], "INVALID_COMPONENT_ID", "target_ids[2]"),
        ]
        for ids, code, field in cases:
            status, body = await api.call("POST", path, json={"target_ids": ids})
            assert status == 422, body
            assert error_code(body) == code and body["error"]["field"] == field
        status, body = await api.call("POST", path, json={"target_ids": "db,web"})
        assert status == 422
        # Nothing changed by the refused attempts.
        status, page = await api.call("GET", f"{PAGES}/ops")
        assert [c["target_id"] for c in page["components"]] == ["db", "web"]


async def test_remove_component(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        await api.call("POST", f"{PAGES}/ops/components", json={"target_id": "db"})
        assert api.runtime.pages.is_on_a_page("db")
        status, body = await api.call("DELETE", f"{PAGES}/ops/components/db")
        assert status == 204 and body is None
        assert not api.runtime.pages.is_on_a_page("db")
        assert api.runtime.pages.is_on_a_page("web")  # still on the config page
        status, body = await api.call("DELETE", f"{PAGES}/ops/components/db")
        assert status == 404 and error_code(body) == "NOT_FOUND"


async def test_unknown_pages_and_components_are_404(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        attempts = [
            ("GET", f"{PAGES}/nope", None),
            ("PATCH", f"{PAGES}/nope", {"title": "x"}),
            ("DELETE", f"{PAGES}/nope", None),
            ("POST", f"{PAGES}/nope/components", {"target_id": "db"}),
            ("POST", f"{PAGES}/nope/components/reorder", {"target_ids": []}),
            ("PATCH", f"{PAGES}/ops/components/db", {"public_name": "x"}),
            ("DELETE", f"{PAGES}/ops/components/db", None),
            ("PATCH", f"{PAGES}/ops/components/Not%20An%20Id", {}),
            ("GET", f"{PAGES}/%ED%A0%80", None),
            ("GET", f"{PAGES}/NOPE", None),
        ]
        for method, path, body in attempts:
            status, answer = await api.call(method, path, json=body)
            assert status == 404, (method, path, answer)
            assert error_code(answer) == "NOT_FOUND"


async def test_a_token_is_required(api_factory) -> None:
    async with api_factory() as api:
        for method, path in [
            ("GET", PAGES),
            ("POST", PAGES),
            ("GET", f"{PAGES}/main"),
            ("GET", f"{PAGES}/nope"),
            ("DELETE", f"{PAGES}/main/components/web"),
        ]:
            for headers in ({}, {"Authorization": "Bearer upl_wrong"}):
                response = await api.client.open(
                    path, method=method, json={"slug": "x", "title": "x"}, headers=headers
                )
                assert response.status_code == 401
                assert (await response.get_json())["error"]["code"] == "UNAUTHORIZED"
        assert (await api.call("GET", f"{PAGES}/x"))[0] == 404


async def test_api_page_is_served_publicly(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api, title="Operations")
        status, component = await api.call(
            "POST",
            f"{PAGES}/ops/components",
            json={"target_id": "db", "public_name": "Our DB", "public_group": "Data"},
        )
        assert status == 201
        runtime = api.runtime
        for _ in range(2):  # failure_threshold: the database counts as down
            record = ResultRecord("db", api.clock.now(), CheckResult.down("refused"))
            runtime.store.add_result(record)
            await runtime.incidents.observe(runtime.config.monitor("db"), record)
        await runtime.store.flush()

        response = await api.client.get("/status/pages/ops")
        assert response.status_code == 200
        html = await response.get_data(as_text=True)
        assert "<h1>Operations</h1>" in html and "Our DB" in html and "Data" in html
        assert 'data-status="major_outage"' in html
        assert f'id="{component["public_id"]}"' in html
        assert "refused" not in html and "127.0.0.1" not in html and "Website" not in html

        await api.call("DELETE", f"{PAGES}/ops")
        assert (await api.client.get("/status/pages/ops")).status_code == 404


async def test_acknowledged_writes_are_in_the_file(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        await api.call("POST", f"{PAGES}/ops/components", json={"target_id": "db"})
        # A separate connection, as a restarted process would open it.
        with sqlite3.connect(api.runtime.store.path) as db:
            assert db.execute("SELECT title FROM status_pages WHERE slug = 'ops'").fetchall() == [
                ("Ops",)
            ]
            assert db.execute(
                "SELECT monitor_id FROM page_components WHERE page_slug = 'ops'"
            ).fetchall() == [("db",)]


async def test_routes_are_in_the_openapi_document(api_factory) -> None:
    async with api_factory() as api:
        document = await (await api.client.get("/api/openapi.json")).get_json()
        paths = document["paths"]
        assert set(paths[PAGES]) == {"get", "post"}
        assert set(paths[f"{PAGES}/{{page}}"]) == {"get", "patch", "delete"}
        assert set(paths[f"{PAGES}/{{page}}/components"]) == {"post"}
        assert set(paths[f"{PAGES}/{{page}}/components/{{target_id}}"]) == {"patch", "delete"}
        assert set(paths[f"{PAGES}/{{page}}/components/reorder"]) == {"post"}
        assert "409" in paths[f"{PAGES}/{{page}}"]["patch"]["responses"]
        patch = document["components"]["schemas"]["PageComponentPatch"]["properties"]
        assert "default" not in patch["sort_order"]  # omitted means unchanged, not null


async def test_reload_reprovisions_and_keeps_api_pages(api_factory, registry, tmp_path) -> None:
    from uplight.web.reload import reload_config

    async with api_factory() as api:
        await make_page(api)
        await api.call("POST", f"{PAGES}/ops/components", json={"target_id": "db"})
        _, before = await api.call("GET", f"{PAGES}/main")
        path = api.runtime.config.source
        assert path is not None
        text = path.read_text().replace('title = "Main"', 'title = "Main v2"')
        path.write_text(text + '[[pages.components]]\nmonitor = "db"\n')

        assert await reload_config(api.app, path, registry)
        _, pages = await api.call("GET", PAGES)
        by_slug = {p["slug"]: p for p in pages["items"]}
        assert by_slug["main"]["title"] == "Main v2"
        assert [c["target_id"] for c in by_slug["main"]["components"]] == ["web", "db"]
        # Same ids after the reload: the web component kept its public id.
        assert by_slug["main"]["components"][0]["public_id"] == before["components"][0]["public_id"]
        assert [c["target_id"] for c in by_slug["ops"]["components"]] == ["db"]
        html = await (await api.client.get("/status")).get_data(as_text=True)
        assert "Main v2" in html


async def test_component_sort_order_null_is_last_on_the_page(api_factory) -> None:
    async with api_factory() as api:
        await make_page(api)
        components = f"{PAGES}/ops/components"
        status, web = await api.call("POST", components, json={"target_id": "web", "sort_order": 5})
        assert status == 201 and web["sort_order"] == 5
        # null on create is the default placement too: after the last one.
        status, db = await api.call(
            "POST", components, json={"target_id": "db", "sort_order": None}
        )
        assert status == 201 and db["sort_order"] == 6

        status, moved = await api.call("PATCH", f"{components}/web", json={"sort_order": None})
        assert status == 200 and moved["sort_order"] == 7  # after db, not after itself
        status, page = await api.call("GET", f"{PAGES}/ops")
        assert [c["target_id"] for c in page["components"]] == ["db", "web"]

        # Already last: it stays last (its own order does not count).
        status, same = await api.call("PATCH", f"{components}/web", json={"sort_order": None})
        assert status == 200 and same["sort_order"] == 7
        # Only sort_order changed.
        assert same["public_name"] is None and same["name"] == "Web server"


async def test_reorder_allows_only_post(api_factory) -> None:
    """Issue 10, point 23: `components/reorder` is one route, not a component named
    "reorder": its Allow header and a PATCH's 405 say POST."""
    async with api_factory() as api:
        await make_page(api)
        await api.call("POST", f"{PAGES}/ops/components", json={"target_id": "web"})
        reorder = f"{PAGES}/ops/components/reorder"

        def allowed(response: Any) -> set[str]:
            return {m.strip() for m in response.headers["Allow"].split(",")}

        options = await api.client.open(reorder, method="OPTIONS", headers=api.auth)
        assert options.status_code == 200 and allowed(options) == {"POST", "OPTIONS"}
        for method in ("PATCH", "DELETE", "GET"):
            response = await api.client.open(reorder, method=method, headers=api.auth, json={})
            assert response.status_code == 405, method
            assert allowed(response) == {"POST", "OPTIONS"}, method
            assert (await response.get_json())["error"]["code"] == "METHOD_NOT_ALLOWED"

        component = f"{PAGES}/ops/components/web"
        options = await api.client.open(component, method="OPTIONS", headers=api.auth)
        assert allowed(options) == {"PATCH", "DELETE", "OPTIONS"}
        # A monitor id that only starts with the word is a component as usual.
        options = await api.client.open(reorder + "ed", method="OPTIONS", headers=api.auth)
        assert allowed(options) == {"PATCH", "DELETE", "OPTIONS"}
