"""Every console route, found in the app's url_map rather than listed by hand, so a
route added later is held to the same rules the day it lands:

- without a session, a GET redirects to the sign-in page and a POST is refused;
- with a session, a POST without its CSRF token, or with a forged one, is refused
  and changes nothing;
- a revoked token's session is dead on every route;
- every form control on every page has a label;
- a secret (a monitor URL's password or query, a header value, a push monitor's
  ping token, the API token) is on no page the operator did not ask for it on.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any

import pytest
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from tests.uplight.web.test_api_maintenance import schedule
from uplight.auth.tokens import list_tokens, revoke_token

from .helpers import csrf_of, signed_in, text
from .test_monitor import EXTRA, HEADER_SECRET, PING_TOKEN, URL_PASSWORD

SIGN_IN = "/admin/sign-in"
# Written out, not guard.OPEN_ENDPOINTS: a route opened there must fail here.
OPEN_ENDPOINTS = {"console.sign_in", "console.sign_in_post", "console.static"}
SECRETS = (URL_PASSWORD, "query-secret-77", HEADER_SECRET, "header-secret", PING_TOKEN)
Samples = dict[str, Sequence[object]]


def admin_requests(app: Any, samples: Samples) -> list[tuple[str, str]]:
    """(method, path) for every rule under /admin but sign-in and static files: each
    value of an ``any(...)`` part, each sample of a named part (else 1 or "x")."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint in OPEN_ENDPOINTS:
            continue
        choices = []
        for name in sorted(rule.arguments):
            converter = rule._converters[name]  # werkzeug keeps no public map of them
            if isinstance(converter, AnyConverter):
                values: Sequence[object] = sorted(converter.items)
            elif name in samples:
                values = samples[name]
            else:
                values = [1] if isinstance(converter, IntegerConverter) else ["x"]
            choices.append([(name, value) for value in values])
        for combination in itertools.product(*choices):
            path = rule.build(dict(combination))[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, path))
    return found


def gets(requests: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in requests if method == "GET"]


def posts(requests: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in requests if method == "POST"]


class Controls(HTMLParser):
    """The form controls of a page a person fills in, and whether each has a label:
    a ``<label for>``, an enclosing ``<label>`` or an ``aria-label(ledby)``."""

    def __init__(self) -> None:
        super().__init__()
        self.labelled_ids: set[str] = set()
        self.in_label = 0
        self.controls: list[tuple[str, dict[str, str | None], bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if found.get("for"):
                self.labelled_ids.add(str(found["for"]))
        elif tag in ("input", "select", "textarea"):
            if found.get("type") not in ("hidden", "submit", "button"):
                self.controls.append((tag, found, self.in_label > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1

    def unlabelled(self) -> list[str]:
        return [
            f"<{tag} name={found.get('name')!r} id={found.get('id')!r}>"
            for tag, found, inside in self.controls
            if not inside
            and found.get("id") not in self.labelled_ids
            and not found.get("aria-label")
            and not found.get("aria-labelledby")
        ]


async def furnished(api: Any) -> Samples:
    """An incident (nothing answers on :9) and a window, so the ids name real things."""
    for _ in range(3):
        await api.runtime.scheduler.run_once("web")
    await api.runtime.store.flush()
    [incident] = (await api.runtime.incident_service.list_incidents(monitor_id="web")).items
    window = await schedule(api, component_ids=["web"])  # through the admin API
    return {
        "incident_id": [incident.id],
        "window_id": [window["id"]],
        "monitor_id": ["web"],
        "slug": ["main"],
    }


async def test_the_enumeration_finds_the_console(api_factory: Any) -> None:
    """Not vacuous: the known routes are there, each any(...) value too."""
    async with api_factory() as api:
        requests = admin_requests(api.app, {"window_id": [7]})
    for expected in (
        ("GET", "/admin"),
        ("GET", "/admin/fragment/overview"),
        ("GET", "/admin/notifications"),
        ("GET", "/admin/monitors/x"),
        ("POST", "/admin/monitors/x/check"),
        ("POST", "/admin/maintenance/7/purge"),
        ("GET", "/admin/maintenance/7/cancel"),
        ("POST", "/admin/pages/x/components/x/down"),
        ("POST", "/admin/tokens/revoke"),
        ("POST", "/admin/sign-out"),
    ):
        assert expected in requests
    assert ("GET", SIGN_IN) not in requests and len(requests) >= 30


async def test_without_a_session_every_get_goes_to_sign_in_and_every_post_is_refused(
    api_factory: Any,
) -> None:
    async with api_factory() as api:
        samples = await furnished(api)
        requests = admin_requests(api.app, samples)
        windows = await api.runtime.maintenance.list_windows()
        incidents = await api.runtime.incident_service.list_incidents()
        for cookie in (None, "made-up"):
            if cookie:
                api.client.set_cookie("localhost", "uplight_console", cookie, path="/admin")
            for method, path in requests:
                response = await api.client.open(path, method=method)
                if method == "GET":
                    assert response.status_code == 303, (method, path)
                    assert response.headers["Location"] == SIGN_IN, path
                else:
                    assert response.status_code in (303, 403), (method, path)
                    if response.status_code == 303:
                        assert response.headers["Location"] == SIGN_IN, path
        # Nothing happened on the way.
        assert [t.name for t in await list_tokens(api.runtime.store)] == ["tester"]
        assert await api.runtime.maintenance.list_windows() == windows
        assert await api.runtime.incident_service.list_incidents() == incidents


@pytest.mark.parametrize("csrf", [None, "", "forged", "0" * 64, "another session's"])
async def test_every_post_without_its_csrf_token_is_refused(api_factory: Any, csrf: Any) -> None:
    async with api_factory() as api:
        samples = await furnished(api)
        mine = await signed_in(api.client, api.token)
        if csrf == "another session's":  # valid, but for someone else's session
            csrf = await signed_in(api.app.test_client(), api.token)
            assert csrf != mine
        windows = await api.runtime.maintenance.list_windows()
        incidents = await api.runtime.incident_service.list_incidents()
        paths = posts(admin_requests(api.app, samples))
        assert "/admin/sign-out" in paths and "/admin/tokens" in paths
        for path in paths:
            form = {"name": "sneaky"} if csrf is None else {"csrf": csrf, "name": "sneaky"}
            response = await api.client.post(path, form=form)
            assert response.status_code == 403, path
            assert "security token is missing or wrong" in await text(response), path
            # Nor does the header form of a fetch get through with a bad token.
            if csrf is not None:
                headers = {"X-CSRF-Token": csrf}
                response = await api.client.post(path, headers=headers)
                assert response.status_code == 403, path
        assert [t.name for t in await list_tokens(api.runtime.store)] == ["tester"]
        assert await api.runtime.maintenance.list_windows() == windows
        assert await api.runtime.incident_service.list_incidents() == incidents
        assert (await api.client.get("/admin")).status_code == 200  # still signed in


async def test_a_revoked_tokens_session_is_dead_on_every_route(api_factory: Any) -> None:
    async with api_factory() as api:
        samples = await furnished(api)
        csrf = await signed_in(api.client, api.token)
        assert await revoke_token(api.runtime.store, "tester")
        for method, path in admin_requests(api.app, samples):
            # The CSRF token was right for the session: the session itself is gone.
            response = await api.client.open(path, method=method, form={"csrf": csrf, "name": "x"})
            assert response.status_code == 303, (method, path)
            assert response.headers["Location"] == SIGN_IN, path
        assert await list_tokens(api.runtime.store) == []


async def test_secrets_appear_only_where_the_operator_asks(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        samples = await furnished(api)
        for _ in range(3):  # failing results and an incident whose messages name the URL
            await api.runtime.scheduler.run_once("secret-api")
        await api.runtime.store.flush()
        incidents = (await api.runtime.incident_service.list_incidents()).items
        assert {i.monitor_id for i in incidents} >= {"web", "secret-api"}
        samples = {
            **samples,
            "incident_id": [i.id for i in incidents],
            "monitor_id": [m.id for m in api.runtime.config.monitors],
            "slug": [p.slug for p in await api.runtime.page_editor.pages()],
        }
        await signed_in(api.client, api.token)
        pages = gets(admin_requests(api.app, samples))
        assert "/admin/monitors/secret-api" in pages and "/admin/monitors/nightly" in pages
        for path in [*pages, "/admin?state=down", "/admin/incidents?state=active"]:
            response = await api.client.get(path)
            body = await text(response)
            assert response.status_code in (200, 404), path
            for secret in (*SECRETS, api.token):
                assert secret not in body, (path, secret)
        # Asked for: the ping URL, on the answer to its button only.
        nightly = await text(await api.client.get("/admin/monitors/nightly"))
        revealed = await api.client.post(
            "/admin/monitors/nightly/ping-url", form={"csrf": csrf_of(nightly)}
        )
        assert PING_TOKEN in await text(revealed)
        assert revealed.headers["Cache-Control"] == "no-store"
        for path in ("/admin", "/admin/fragment/overview", "/admin/monitors/nightly"):
            assert PING_TOKEN not in await text(await api.client.get(path)), path
        # The scrubbed URL is still there, so the page says which endpoint it checks.
        secret_page = await text(await api.client.get("/admin/monitors/secret-api"))
        assert re.search(r"127\.0\.0\.1:9/health", secret_page)


async def test_every_control_on_every_page_has_a_label(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        samples = await furnished(api)
        await api.runtime.page_editor.create_page(
            slug="ops", title="Operations", hostname=None, default=False
        )
        samples = {
            **samples,
            "monitor_id": [m.id for m in api.runtime.config.monitors],
            "slug": ["main", "ops"],
        }
        await signed_in(api.client, api.token)
        checked = 0
        for path in gets(admin_requests(api.app, samples)):
            response = await api.client.get(path)
            if response.status_code != 200:
                continue
            page = Controls()
            page.feed(await text(response))
            assert page.unlabelled() == [], path
            checked += len(page.controls)
        assert checked > 50  # the forms were there to look at
