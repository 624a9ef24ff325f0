"""The console's page editor: every status page listed; each monitor toggled onto a
page, named, grouped, described and ordered through the components API's service;
refusals beside their field in the API's words; provisioned pages read-only; badge
snippets built from public_base_url whose images load."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from markupsafe import escape

from .helpers import csrf_of, signed_in, text

PAGES = "/api/v1/status-pages"
EDITOR = "/admin/pages/ops"
JSON = {"Accept": "application/json"}
BASE = '[server]\npublic_base_url = "https://status.example.org"\n'


async def make_ops(api: Any, **fields: Any) -> None:
    body = {"slug": "ops", "title": "Operations", **fields}
    status, _ = await api.call("POST", PAGES, json=body)
    assert status == 201


async def components(api: Any, slug: str = "ops") -> list[dict[str, Any]]:
    status, page = await api.call("GET", f"{PAGES}/{slug}")
    assert status == 200
    items: list[dict[str, Any]] = page["components"]
    return items


async def save(
    api: Any, csrf: str, monitor_id: str, *, slug: str = "ops", as_json: bool = False, **fields: str
) -> Any:
    """A row's form as the browser posts it: an unticked box is not sent."""
    form = {"csrf": csrf, "public_name": "", "public_group": "", "public_description": ""}
    form.update(fields)
    headers = {**JSON, "X-CSRF-Token": csrf} if as_json else {}
    return await api.client.post(
        f"/admin/pages/{slug}/components/{monitor_id}", form=form, headers=headers
    )


async def test_every_pages_route_needs_a_session(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        for method, path in (
            ("GET", "/admin/pages"),
            ("GET", EDITOR),
            ("POST", f"{EDITOR}/components/db"),
            ("POST", f"{EDITOR}/components/db/up"),
            ("POST", f"{EDITOR}/components/db/down"),
            ("POST", f"{EDITOR}/order"),
        ):
            response = await api.client.open(path, method=method)
            assert response.status_code == 303, path
            assert response.headers["Location"] == "/admin/sign-in"
        assert await components(api) == []


async def test_the_list_shows_every_page_with_its_links(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        await signed_in(api.client, api.token)
        body = await text(await api.client.get("/admin/pages"))
        assert 'href="/admin/pages"' in body  # the nav
        main, ops = body.split("<code>main</code>")[1].split("<code>ops</code>")
        assert "pages[0]" in main and "<td>1</td>" in main and 'href="/status"' in main
        assert 'href="/admin/pages/main"' in main and ">View<" in main
        assert "editable" in ops and "<td>0</td>" in ops
        assert 'href="/status/pages/ops"' in ops and 'href="/admin/pages/ops"' in ops


async def test_toggling_a_monitor_on_puts_it_on_the_page_and_on_status(
    api_factory: Any,
) -> None:
    async with api_factory() as api:
        await make_ops(api, default=True)
        csrf = await signed_in(api.client, api.token)
        assert "Our DB" not in await text(await api.client.get("/status"))  # now cached
        editor = await text(await api.client.get(EDITOR))
        assert 'id="db-on_page"' in editor and 'placeholder="Database"' in editor
        response = await save(
            api, csrf, "db", on_page="1", public_name=" Our DB ", public_group="Data"
        )
        assert response.status_code == 303, await text(response)
        assert response.headers["Location"] == f"{EDITOR}?saved=db#row-db"
        [component] = await components(api)
        assert component["target_id"] == "db" and component["public_name"] == "Our DB"
        assert component["public_group"] == "Data" and component["public_description"] is None
        public = await text(await api.client.get("/status"))
        assert "Our DB" in public and "Data" in public
        after = response.headers["Location"].split("#")[0]  # a browser keeps the fragment
        shown = await text(await api.client.get(after))
        assert 'value="Our DB"' in shown and "Saved." in shown

        # Blank fields clear; unticking takes it off the page.
        response = await save(api, csrf, "db", on_page="1", public_group="Data")
        assert response.status_code == 303
        [component] = await components(api)
        assert component["public_name"] is None and component["name"] == "Database"
        assert (await save(api, csrf, "db")).status_code == 303
        assert await components(api) == []
        assert "Database" not in await text(await api.client.get("/status"))


async def test_autosave_answers_json_to_a_fetch_with_the_header_token(
    api_factory: Any,
) -> None:
    async with api_factory(BASE) as api:
        await make_ops(api)
        csrf = await signed_in(api.client, api.token)
        response = await api.client.post(
            f"{EDITOR}/components/web",
            form={"on_page": "1", "public_name": "Site"},
            headers={**JSON, "X-CSRF-Token": csrf},
        )
        assert response.status_code == 200, await text(response)
        answer = await response.get_json()
        [component] = await components(api)
        public_id = component["public_id"]
        assert answer["on_page"] is True and answer["values"]["public_name"] == "Site"
        image = f"https://status.example.org/api/public/v1/badge.svg?page=ops&component={public_id}"
        assert answer["snippet"]["markdown"] == (
            f"[![Site]({image})](https://status.example.org/status/pages/ops)"
        )
        preview = await api.client.get(answer["snippet"]["preview"])
        assert preview.status_code == 200 and preview.content_type.startswith("image/svg+xml")
        assert "Site" in await text(preview)

        response = await api.client.post(
            f"{EDITOR}/components/web", form={}, headers={**JSON, "X-CSRF-Token": csrf}
        )
        assert (await response.get_json()) == {
            "on_page": False,
            "values": {"public_name": "", "public_description": "", "public_group": ""},
            "snippet": None,
        }
        assert await components(api) == []


async def test_missing_or_forged_csrf_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        await signed_in(api.client, api.token)
        for csrf in ("", "forged"):
            response = await save(api, csrf, "db", on_page="1")
            assert response.status_code == 403
            assert "security token is missing or wrong" in await text(response)
        response = await api.client.post(
            f"{EDITOR}/components/db",
            form={"on_page": "1"},
            headers={**JSON, "X-CSRF-Token": "forged"},
        )
        assert response.status_code == 403
        for path in (f"{EDITOR}/order", f"{EDITOR}/components/db/up"):
            assert (await api.client.post(path, form={"csrf": "forged"})).status_code == 403
        assert await components(api) == []


async def test_a_refusal_is_shown_beside_its_field_with_the_api_message(
    api_factory: Any,
) -> None:
    async with api_factory() as api:
        await make_ops(api)
        csrf = await signed_in(api.client, api.token)
        long_name = "n" * 201
        status, refused = await api.call(
            "POST", f"{PAGES}/ops/components", json={"target_id": "db", "public_name": long_name}
        )
        assert status == 422
        message = refused["error"]["message"].removeprefix("public_name: ")
        assert message == "must be at most 200 characters"

        response = await save(api, csrf, "db", on_page="1", public_name=long_name, public_group="G")
        assert response.status_code == 422
        body = await text(response)
        error = re.search(r'<p id="db-public_name-error"[^>]*>([^<]*)</p>', body)
        assert error is not None and error.group(1) == message
        assert 'aria-invalid="true"' in body and f'value="{long_name}"' in body
        assert 'value="G"' in body  # what was typed stays
        assert await components(api) == []

        response = await save(api, csrf, "db", as_json=True, on_page="1", public_group="a\u202eb")
        assert response.status_code == 422
        errors = (await response.get_json())["errors"]
        assert list(errors) == ["public_group"] and errors["public_group"]
        assert await components(api) == []


async def test_up_and_down_reorder_without_javascript(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        csrf = await signed_in(api.client, api.token)
        for monitor_id in ("web", "db"):
            assert (await save(api, csrf, monitor_id, on_page="1")).status_code == 303
        assert [c["target_id"] for c in await components(api)] == ["web", "db"]
        editor = await text(await api.client.get(EDITOR))
        web_up = f'formaction="{EDITOR}/components/web/up" disabled'
        db_down = f'formaction="{EDITOR}/components/db/down" disabled'
        assert web_up in editor and db_down in editor  # the ends cannot move further

        response = await api.client.post(f"{EDITOR}/components/db/up", form={"csrf": csrf})
        assert response.status_code == 303
        assert response.headers["Location"] == f"{EDITOR}?saved=db#row-db"
        assert [c["target_id"] for c in await components(api)] == ["db", "web"]
        # Already first: nothing moves, nothing is refused.
        response = await api.client.post(f"{EDITOR}/components/db/up", form={"csrf": csrf})
        assert response.status_code == 303
        response = await api.client.post(f"{EDITOR}/components/db/down", form={"csrf": csrf})
        assert [c["target_id"] for c in await components(api)] == ["web", "db"]
        editor = await text(await api.client.get(EDITOR))
        assert editor.index('id="row-web"') < editor.index('id="row-db"')


async def post_order(api: Any, order: list[str], headers: dict[str, str]) -> Any:
    """What page_editor.js sends after a drag: URLSearchParams, target_ids repeated."""
    body = urlencode([("target_ids", monitor_id) for monitor_id in order])
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    return await api.client.post(f"{EDITOR}/order", data=body, headers=headers)


async def test_dragging_posts_the_whole_order(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        csrf = await signed_in(api.client, api.token)
        for monitor_id in ("web", "db"):
            await save(api, csrf, monitor_id, on_page="1")
        headers = {**JSON, "X-CSRF-Token": csrf}
        response = await post_order(api, ["db", "web"], headers)
        assert response.status_code == 200
        assert (await response.get_json()) == {"order": ["db", "web"]}
        assert [c["target_id"] for c in await components(api)] == ["db", "web"]
        response = await post_order(api, ["db"], headers)
        assert response.status_code == 422
        assert (await response.get_json()) == {
            "errors": {"order": "every component of the page must be listed; missing: web"}
        }


async def test_a_provisioned_page_is_read_only(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        status, refused = await api.call(
            "PATCH", f"{PAGES}/main/components/web", json={"public_name": "New"}
        )
        assert status == 409
        message = refused["error"]["message"]
        assert "provisioned from pages[0]" in message and "config.toml" in message

        body = await text(await api.client.get("/admin/pages/main"))
        assert escape(message) in body
        assert "Website" in body  # its component, as the config has it
        assert "data-autosave" not in body and 'name="public_name"' not in body
        assert 'name="on_page"' not in body and "formaction" not in body

        response = await save(api, csrf, "web", slug="main", on_page="1", public_name="New")
        assert response.status_code == 409
        assert escape(message) in await text(response)
        response = await save(api, csrf, "db", slug="main", as_json=True, on_page="1")
        assert response.status_code == 409
        assert (await response.get_json()) == {"error": message}
        response = await api.client.post("/admin/pages/main/components/web/up", form={"csrf": csrf})
        assert response.status_code == 409 and escape(message) in await text(response)
        [component] = await components(api, "main")
        assert component["public_name"] == "Website"


async def test_unknown_pages_and_monitors(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        csrf = await signed_in(api.client, api.token)
        for path in ("/admin/pages/nope", "/admin/pages/Not_A_Slug"):
            assert (await api.client.get(path)).status_code == 404
        response = await save(api, csrf, "db", slug="nope", on_page="1")
        assert response.status_code == 404
        response = await save(api, csrf, "ghost", on_page="1")
        assert response.status_code == 422
        assert "no monitor has id &#39;ghost&#39;" in await text(response)
        assert await components(api) == []


async def test_badge_snippets_use_public_base_url_and_load(api_factory: Any) -> None:
    async with api_factory(BASE) as api:
        body = await text(await api.client.get("/status"))  # a warm cache, as in production
        assert "<h1>Main</h1>" in body
        await signed_in(api.client, api.token)
        body = html.unescape(await text(await api.client.get("/admin/pages/main")))
        [web] = await components(api, "main")
        page_image = "https://status.example.org/api/public/v1/badge.svg?page=main"
        web_image = f"{page_image}&component={web['public_id']}"
        link = "https://status.example.org/status"
        assert f"[![Main]({page_image})]({link})" in body
        assert f'<a href="{link}"><img src="{page_image}" alt="Main"></a>' in body
        assert f"[![Website]({web_image})]({link})" in body
        web_src = web_image.replace("&", "&amp;")  # as HTML writes it in an attribute
        assert f'<a href="{link}"><img src="{web_src}" alt="Website"></a>' in body
        for image in (page_image, web_image):
            response = await api.client.get(image.removeprefix("https://status.example.org"))
            assert response.status_code == 200
            assert response.content_type.startswith("image/svg+xml")
            assert (await text(response)).startswith("<svg")
        assert f'src="{page_image.removeprefix("https://status.example.org")}"' in body


async def test_the_editor_page_keeps_the_csp_strict(api_factory: Any) -> None:
    async with api_factory() as api:
        await make_ops(api)
        await signed_in(api.client, api.token)
        response = await api.client.get(EDITOR)
        body = await text(response)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert '<script src="/admin/static/page_editor.js" defer></script>' in body
        assert "<script>" not in body and " style=" not in body and "<style" not in body
        script = await api.client.get("/admin/static/page_editor.js")
        assert script.status_code == 200
        # Every control has a label.
        for control in re.findall(r'<(?:input|textarea)\b[^>]*\bid="([^"]+)"', body):
            assert f'<label for="{control}">' in body, control
        assert csrf_of(body)
