"""The console's tokens page: list, create (shown once), revoke (its sessions end)."""

from __future__ import annotations

from typing import Any

from uplight.auth.tokens import list_tokens, verify_token

from .helpers import csrf_of, signed_in, text


async def test_create_shows_the_token_once_and_it_works(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        response = await api.client.post("/admin/tokens", form={"csrf": csrf, "name": "ci"})
        assert response.status_code == 200
        body = await text(response)
        token = body.split('id="created-token" readonly value="')[1].split('"')[0]
        assert await verify_token(api.runtime.store, token) == "ci"
        assert response.headers["Cache-Control"] == "no-store"
        listing = await text(await api.client.get("/admin/tokens"))
        assert "ci" in listing and token not in listing and api.token not in listing


async def test_a_taken_or_bad_name_is_refused_beside_the_field(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        taken = await api.client.post("/admin/tokens", form={"csrf": csrf, "name": "tester"})
        assert taken.status_code == 409 and 'id="name-error"' in await text(taken)
        for name in ("", " ", "x" * 101, "a\u202eb"):
            bad = await api.client.post("/admin/tokens", form={"csrf": csrf, "name": name})
            assert bad.status_code == 422, name
        assert [t.name for t in await list_tokens(api.runtime.store)] == ["tester"]


async def test_revoking_another_token_and_then_ones_own(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        await api.client.post("/admin/tokens", form={"csrf": csrf, "name": "ci"})
        other = await api.client.post("/admin/tokens/revoke", form={"csrf": csrf, "name": "ci"})
        assert other.status_code == 303 and other.headers["Location"] == "/admin/tokens?revoked=1"
        assert [t.name for t in await list_tokens(api.runtime.store)] == ["tester"]
        own = await api.client.post("/admin/tokens/revoke", form={"csrf": csrf, "name": "tester"})
        assert own.status_code == 303 and own.headers["Location"] == "/admin/sign-in"
        assert (await api.client.get("/admin")).status_code == 303


async def test_token_routes_need_a_session_and_csrf(api_factory: Any) -> None:
    async with api_factory() as api:
        for method, path in (
            ("GET", "/admin/tokens"),
            ("POST", "/admin/tokens"),
            ("POST", "/admin/tokens/revoke"),
        ):
            response = await api.client.open(path, method=method)
            assert response.headers["Location"] == "/admin/sign-in", path
        await signed_in(api.client, api.token)
        forged = await api.client.post(
            "/admin/tokens/revoke", form={"csrf": "forged", "name": "tester"}
        )
        assert forged.status_code == 403
        assert [t.name for t in await list_tokens(api.runtime.store)] == ["tester"]
        assert csrf_of(await text(await api.client.get("/admin/tokens")))
