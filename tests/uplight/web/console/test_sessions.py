"""The console's sign-in and safety through the real app (real SQLite, real tokens)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from uplight.auth.tokens import create_token, revoke_token

from .helpers import sign_in, signed_in, text

ROUTES = [
    ("GET", "/admin"),
    ("GET", "/admin/fragment/overview"),
    ("POST", "/admin/sign-out"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_without_a_session_redirects_to_sign_in(
    api_factory: Any, method: str, path: str
) -> None:
    async with api_factory() as api:
        response = await api.client.open(path, method=method)
        assert response.status_code == 303
        assert response.headers["Location"] == "/admin/sign-in"
        # A made-up cookie is no session either.
        api.client.set_cookie("localhost", "uplight_console", "made-up", path="/admin")
        response = await api.client.open(path, method=method)
        assert response.headers["Location"] == "/admin/sign-in"


async def test_a_valid_token_signs_in_and_the_cookie_is_strict(api_factory: Any) -> None:
    async with api_factory() as api:
        response = await sign_in(api.client, api.token)
        assert response.status_code == 303 and response.headers["Location"] == "/admin"
        cookie = next(
            c for c in response.headers.getlist("Set-Cookie") if c.startswith("uplight_console=")
        )
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite"} <= attributes
        assert "Path=/admin" in cookie and "SameSite=Strict" in cookie
        assert "secure" not in attributes  # plain http and an http public_base_url
        assert api.token not in cookie
        home = await api.client.get("/admin")
        body = await text(home)
        assert "tester" in body and api.token not in body
        csp = home.headers["Content-Security-Policy"]
        assert "form-action 'self'" in csp and "unsafe-inline" not in csp
        assert home.headers["Cache-Control"] == "no-store"


async def test_the_cookie_is_secure_behind_https(api_factory: Any) -> None:
    extra = '[server]\npublic_base_url = "https://status.example.com"\n'
    async with api_factory(extra) as api:
        response = await sign_in(api.client, api.token)
        cookie = next(
            c for c in response.headers.getlist("Set-Cookie") if c.startswith("uplight_console=")
        )
        assert "Secure" in cookie


async def test_a_bad_token_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        response = await sign_in(api.client, "upl_not-a-token")
        assert response.status_code == 401
        body = await text(response)
        assert "not valid" in body and "upl_not-a-token" not in body
        assert not any(
            c.startswith("uplight_console=") for c in response.headers.getlist("Set-Cookie")
        )
        assert (await api.client.get("/admin")).status_code == 303


async def test_sign_in_without_its_form_token_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        response = await api.client.post("/admin/sign-in", form={"token": api.token})
        assert response.status_code == 403
        assert (await api.client.get("/admin")).status_code == 303


async def test_sign_in_attempts_are_rate_limited_per_client(api_factory: Any) -> None:
    async with api_factory() as api:
        statuses = [(await sign_in(api.client, "upl_wrong")).status_code for _ in range(11)]
        assert statuses[:10] == [401] * 10 and statuses[10] == 429
        # Even the right token waits: the budget is the client's, not the token's.
        last = await sign_in(api.client, api.token)
        assert last.status_code == 429 and "Retry-After" in last.headers


@pytest.mark.parametrize("csrf", [None, "", "forged", "0" * 64])
async def test_a_missing_or_forged_csrf_token_is_refused(api_factory: Any, csrf: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        form = {} if csrf is None else {"csrf": csrf}
        response = await api.client.post("/admin/sign-out", form=form)
        assert response.status_code == 403
        assert "security token" in await text(response)
        assert (await api.client.get("/admin")).status_code == 200  # still signed in


async def test_sign_out_ends_the_session(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        response = await api.client.post("/admin/sign-out", form={"csrf": csrf})
        assert response.status_code == 303 and response.headers["Location"] == "/admin/sign-in"
        assert (await api.client.get("/admin")).status_code == 303


async def test_the_csrf_header_serves_a_fetch(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        response = await api.client.post("/admin/sign-out", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 303


async def test_revoking_the_token_ends_its_sessions(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        assert await revoke_token(api.runtime.store, "tester")
        assert (await api.client.get("/admin")).status_code == 303
        # A new token under the same name does not bring the old session back.
        await signed_in(api.client, await create_token(api.runtime.store, "tester"))


async def test_an_idle_session_expires(api_factory: Any) -> None:
    extra = '[admin]\nsession_idle = "30m"\nsession_max = "2h"\n'
    async with api_factory(extra) as api:
        await signed_in(api.client, api.token)
        api.clock.advance(minutes=29)
        assert (await api.client.get("/admin")).status_code == 200  # and refreshes last_seen
        api.clock.advance(minutes=29)
        assert (await api.client.get("/admin")).status_code == 200
        api.clock.advance(minutes=31)
        assert (await api.client.get("/admin")).status_code == 303


async def test_a_busy_session_still_ends_at_its_absolute_limit(api_factory: Any) -> None:
    extra = '[admin]\nsession_idle = "30m"\nsession_max = "2h"\n'
    async with api_factory(extra) as api:
        await signed_in(api.client, api.token)
        for _ in range(5):
            api.clock.advance(minutes=20)
            assert (await api.client.get("/admin")).status_code == 200
        api.clock.advance(minutes=21)  # 2 h 1 min after sign-in
        assert (await api.client.get("/admin")).status_code == 303


async def test_admin_off_removes_the_routes(api_factory: Any) -> None:
    async with api_factory("[admin]\nenabled = false\n") as api:
        assert (await api.client.get("/admin")).status_code == 404
        assert (await api.client.get("/admin/sign-in")).status_code == 404


async def test_the_static_files_need_no_session(api_factory: Any) -> None:
    async with api_factory() as api:
        css = await api.client.get("/admin/static/console.css")
        js = await api.client.get("/admin/static/console.js")
        assert css.status_code == 200 and js.status_code == 200
        assert "javascript" in js.headers["Content-Type"]


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('session_idle = "8d"', "session_idle must not be longer than session_max"),
        ('session_idle = "10s"', "at least 1m"),
        ('session_max = "banana"', ""),
    ],
)
def test_session_limits_are_validated(make_config: Any, table: str, words: str) -> None:
    from uplight.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_config(f"[admin]\n{table}\n")
    assert words in str(raised.value)


def test_session_limits_default_to_12h_idle_and_7d(make_config: Any) -> None:
    admin = make_config("").admin
    assert admin.enabled and admin.session_idle == 12 * 3600 and admin.session_max == 7 * 86400


async def test_no_token_in_any_log_line_answer_or_location(
    api_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with api_factory() as api:
        answers = [await sign_in(api.client, api.token + "x"), await sign_in(api.client, api.token)]
        answers.append(await api.client.get("/admin"))
        answers.append(await api.client.get("/admin/fragment/overview"))
        for response in answers:
            assert api.token not in await text(response)
            assert api.token not in response.headers.get("Location", "")
            assert api.token not in str(response.headers)
    assert api.token not in caplog.text
