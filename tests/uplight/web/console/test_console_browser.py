"""The console in a real browser: Debian's chromium driven by Playwright, the real app
under hypercorn (the status page's browser test's AppServer), a real upstream the
monitors check.

Together the tests drive what issue 14 asks of the console end to end: sign in with
a token, see a failing private monitor arrive through the overview's refresh (no
reload), open its monitor page, narrate an incident and read its title on the public
permalink, schedule a maintenance window through the form in the browser's time zone
(stored in UTC) and see it on ``/status``, toggle a component in the page editor and
see it on ``/status`` once the browser's cache window has passed, copy a badge
snippet whose image loads, sign out and be refused; no console error, no CSP
violation. A screenshot of every console page goes
to test-output/ (gitignored; docs/img/console-*.png are copies of them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
import zoneinfo
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers import free_port
from servers import HttpServer, Route

from tests.uplight_plugins.renderers.test_browser import (
    CHROMIUM_ARGS,
    CSP_LISTENER,
    AppServer,
    Watcher,
    wait_for_port,
)
from uplight.auth.tokens import create_token
from uplight.config import Config
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime
from uplight.web.console import overview
from uplight.web.context import EXTENSION

T = TypeVar("T")
REPO = Path(__file__).parents[4]
OUTPUT = REPO / "test-output"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}  # the docs' screenshots are this size
CACHE_TTL = 2  # seconds a browser may keep /status (max-age)
CONFIG = """
[server]
public_base_url = "http://127.0.0.1:{port}"
[public]
cache_ttl = "{ttl}s"
[scheduler]
max_jitter = "0s"
[[monitors]]
id = "api"
name = "API server"
type = "http"
url = "{upstream}/health"
interval = "1s"
timeout = "1s"
[[monitors]]
id = "vault"
name = "Secret vault"
type = "http"
url = "{upstream}/vault"
interval = "1s"
timeout = "1s"
[[pages]]
slug = "main"
title = "Homelab"
[[pages.components]]
monitor = "api"
public_name = "Public API"
[[notifiers]]
id = "hook"
type = "webhook"
url = "{upstream}/hook"
"""


@dataclass
class Console:
    """The app on a real port, the upstream its monitors check, a token to sign in with."""

    server: AppServer
    upstream: HttpServer
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.server.app.extensions[EXTENSION]
        return runtime

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the app's own event loop (its store lives there)."""
        assert self.server.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.server.loop).result(10)


@pytest.fixture
def console(make_config: Callable[[str], Config], registry: PluginRegistry) -> Iterator[Console]:
    routes = {"/health": Route(200, "ok"), "/vault": Route(200, "ok"), "/hook": Route(200)}
    with HttpServer(routes) as upstream:
        port = free_port()
        upstream_url = upstream.url("").rstrip("/")
        config = make_config(CONFIG.format(port=port, upstream=upstream_url, ttl=CACHE_TTL))
        server = AppServer(config, registry, port)
        server.start()
        try:
            wait_for_port(port, server)
            site = Console(server, upstream, "")
            site.token = site.run(create_token(site.runtime.store, "browser"))
            yield site
        finally:
            server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no /usr/bin/chromium (.ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            pytest.skip(f"chromium could not be launched: {exc}")
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, console: Console, **options: Any) -> tuple[Any, Any, Watcher]:
    """A fresh context (its own cookies) and page, watched for errors and CSP violations."""
    context = browser.new_context(viewport=VIEWPORT, **options)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    return context, page, Watcher(page)


def sign_in(page: Any, console: Console) -> None:
    page.goto(f"{console.base}/admin/sign-in")
    page.fill("#token", console.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.base}/admin")


def shot(page: Any, tmp_path: Path, name: str) -> None:
    """The viewport, not the full page: these are the docs' pictures too."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(path, OUTPUT / name)


def clean(page: Any, watcher: Watcher) -> None:
    assert page.evaluate("window.__cspViolations") == []
    assert watcher.errors == []


def incident_link(monitor_id: str) -> str:
    return f"table.incidents tr:has(code:text-is('{monitor_id}')) a"


def wait_for_incident(page: Any, monitor_id: str) -> None:
    """Until the incidents list has one for the monitor (it opens at the monitor's
    second failure). The page asks by fetch, no reload; the predicate cannot await, so
    each poll starts a fetch when none is under way and reads what the last one found."""
    page.wait_for_function(
        """id => {
          const seen = window.__incidents = window.__incidents || {};
          if (seen[id] === true) return true;
          if (seen[id] !== "asking") {
            seen[id] = "asking";
            fetch("/admin/incidents").then(r => r.text()).then(html => {
              const doc = new DOMParser().parseFromString(html, "text/html");
              const codes = doc.querySelectorAll("table.incidents tr code");
              seen[id] = [...codes].some(c => c.textContent === id);
            });
          }
          return false;
        }""",
        arg=monitor_id,
        polling=250,
        timeout=20_000,
    )


@pytest.mark.timeout(180)  # a loaded CI box: each step waits on a real browser
def test_sign_in_watch_narrate_and_sign_out_in_chromium(
    browser: Any, console: Console, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "REFRESH_SECONDS", 1)
    base, token = console.base, console.token
    context, page, watcher = open_page(browser, console)

    page.goto(f"{base}/admin")
    assert page.url == f"{base}/admin/sign-in"
    assert page.locator("label[for=token]").inner_text() == "API token"
    shot(page, tmp_path, "console-sign-in.png")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin")
    assert token not in page.url and token not in page.content()
    # The stylesheet applied (a file: style-src 'self').
    assert page.locator(".bar").evaluate("e => getComputedStyle(e).display") == "flex"
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["uplight_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/admin" and session["value"] != token

    # The private monitor breaks: the overview follows by fetch, no reload.
    loads = watcher.documents
    console.upstream.routes["/vault"] = Route(500, "vault sealed")
    page.wait_for_function(
        "() => document.querySelector('tr[data-monitor=vault].state-down') !== null",
        timeout=20_000,
    )
    assert watcher.documents == loads
    row = page.locator("tr[data-monitor=vault]")
    assert "private" in row.inner_text() and "500" in row.inner_text()
    assert page.locator("tr[data-monitor=api]").count() == 1
    shot(page, tmp_path, "console-overview.png")

    # Its monitor page: facts, the server-drawn chart, its results (written in batches).
    console.run(console.runtime.store.flush())
    row.locator("a[href='/admin/monitors/vault']").click()
    page.wait_for_url(f"{base}/admin/monitors/vault")
    assert page.locator("h1").inner_text() == "Secret vault"
    assert page.locator("svg.chart").count() == 1
    assert page.locator("tr.status-down").count() >= 1
    shot(page, tmp_path, "console-monitor.png")

    # The public API breaks too; narrate its incident, read the title on the permalink.
    console.upstream.routes["/health"] = Route(503, "upgrading")
    page.click("nav >> text=Incidents")
    page.wait_for_url(f"{base}/admin/incidents")
    wait_for_incident(page, "api")
    wait_for_incident(page, "vault")
    page.reload()
    shot(page, tmp_path, "console-incidents.png")
    vault_href = page.locator(incident_link("vault")).get_attribute("href")
    page.click(incident_link("api"))
    page.wait_for_url(f"{base}/admin/incidents/*")
    incident_id = page.url.rsplit("/", 1)[1]
    page.fill("#public_title", "The API is being upgraded")
    page.click("text=Save narration")
    page.wait_for_selector(".saved")
    assert page.locator("h1").inner_text().endswith("The API is being upgraded")
    page.fill("#message", "Back within the hour.")
    page.click("text=Post update")
    page.wait_for_selector(".timeline >> text=Back within the hour.")
    shot(page, tmp_path, "console-incident.png")
    page.goto(f"{base}/status/incidents/{incident_id}")
    assert page.locator("h1").inner_text() == "The API is being upgraded"
    assert "Back within the hour." in page.locator("main").inner_text()
    # The private monitor's incident has no public permalink.
    assert vault_href is not None
    private = page.request.get(base + vault_href.replace("/admin/", "/status/"))
    assert private.status == 404

    page.goto(f"{base}/admin/notifications")
    assert page.locator("a[href='/admin/notifications/hook']").count() == 1
    shot(page, tmp_path, "console-notifications.png")

    page.click("nav >> text=Tokens")
    page.wait_for_url(f"{base}/admin/tokens")
    page.fill("#name", "ci")
    page.click("form[action='/admin/tokens'] button")
    created = page.locator("#created-token").input_value()
    assert created.startswith("upl_") and created != token
    shot(page, tmp_path, "console-tokens.png")

    page.click(".sign-out button")
    page.wait_for_url(f"{base}/admin/sign-in")
    page.goto(f"{base}/admin")
    assert page.url == f"{base}/admin/sign-in"  # the old session is gone
    clean(page, watcher)
    context.close()


@pytest.mark.timeout(120)
def test_schedule_maintenance_in_chromium(browser: Any, console: Console, tmp_path: Path) -> None:
    """The form takes the browser's zone (console.js); times typed in it are stored in
    UTC, listed in UTC, shown back in it on the edit page; the window is on /status at
    once. Without script the same form says UTC."""
    base = console.base
    context, page, watcher = open_page(browser, console, timezone_id="America/New_York")
    sign_in(page, console)
    page.click("nav >> text=Maintenance")
    page.wait_for_url(f"{base}/admin/maintenance")
    zone_field = page.locator("#timezone")
    assert zone_field.input_value() == "America/New_York"  # the browser's, by console.js
    assert "Your browser's time zone" in page.locator("#timezone-hint").inner_text()
    new_york = zoneinfo.ZoneInfo("America/New_York")
    starts = (dt.datetime.now(new_york) + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    ends = starts + dt.timedelta(hours=1)
    page.fill("#title", "Router swap")
    page.fill("#description", "The uplink is replaced; expect a minute offline.")
    page.check("input[name=component_ids][value=api]")
    page.fill("#starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#ends_at", ends.strftime("%Y-%m-%dT%H:%M"))
    page.click("form[action='/admin/maintenance'] button[type=submit]")
    page.wait_for_url(f"{base}/admin/maintenance?saved=scheduled&zone=America%2FNew_York")
    assert "read in America/New_York" in page.locator(".saved").inner_text()
    [window] = console.run(console.runtime.maintenance.list_windows()).items
    assert window.starts_at == starts.astimezone(dt.UTC)
    assert window.ends_at == ends.astimezone(dt.UTC) and window.component_ids == ("api",)
    row = page.locator("table.maintenance tr:has-text('Router swap')")
    assert "scheduled" in row.inner_text()
    assert f"{starts.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" in row.inner_text()
    shot(page, tmp_path, "console-maintenance.png")

    # Edit asks for the times in the browser's zone: they read as typed.
    row.locator("a:text-is('Edit')").click()
    page.wait_for_url(f"{base}/admin/maintenance/{window.id}/edit?timezone=America%2FNew_York")
    assert page.locator("#timezone").input_value() == "America/New_York"
    assert page.locator("#starts_at").input_value() == starts.strftime("%Y-%m-%dT%H:%M")

    page.goto(f"{base}/status")
    upcoming = page.locator(".maintenance-list")
    assert "Router swap" in upcoming.inner_text() and "Upcoming" in upcoming.inner_text()
    clean(page, watcher)
    context.close()

    # Without script the form says UTC and works in UTC.
    context, page, watcher = open_page(
        browser, console, timezone_id="America/New_York", java_script_enabled=False
    )
    sign_in(page, console)
    page.goto(f"{base}/admin/maintenance")
    assert page.locator("#timezone").input_value() == "UTC"
    assert "read in this zone: UTC" in page.locator("#timezone-hint").inner_text()
    page.fill("#title", "Disk check")
    page.fill("#starts_at", "2040-01-05T12:00")
    page.fill("#ends_at", "2040-01-05T13:00")
    page.click("form[action='/admin/maintenance'] button[type=submit]")
    page.wait_for_url(f"{base}/admin/maintenance?saved=scheduled&zone=UTC")
    stored = {w.title: w for w in console.run(console.runtime.maintenance.list_windows()).items}
    assert stored["Disk check"].starts_at == dt.datetime(2040, 1, 5, 12, 0, tzinfo=dt.UTC)
    context.close()


@pytest.mark.timeout(180)
def test_page_editor_in_chromium(browser: Any, console: Console, tmp_path: Path) -> None:
    """Toggle a monitor onto a page in the editor (autosave by fetch), see it on /status
    once the browser's copy is past its max-age, drag it into order, copy its badge
    snippet and load the image the snippet names."""
    base, runtime = console.base, console.runtime
    console.run(
        runtime.page_editor.create_page(slug="ops", title="Operations", hostname=None, default=True)
    )
    context, page, watcher = open_page(browser, console)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    # The browser keeps /status for max-age (the page cache's TTL): the edits must
    # show once that has passed, with no reload forced.
    page.goto(f"{base}/status")
    assert page.locator("[data-component-id]").count() == 0
    cached_at = time.monotonic()
    sign_in(page, console)
    page.click("nav >> text=Pages")
    page.wait_for_url(f"{base}/admin/pages")
    shot(page, tmp_path, "console-pages.png")
    page.click("a[href='/admin/pages/ops']")
    page.wait_for_url(f"{base}/admin/pages/ops")

    # Autosave: ticking saves at once, a text field when it loses the focus.
    loads = watcher.documents
    assert page.locator("#row-vault button.save").is_hidden()
    page.check("#vault-on_page")
    page.wait_for_selector("#row-vault .save-status.saved")
    page.fill("#vault-public_name", "Vault")
    page.press("#vault-public_name", "Tab")
    page.wait_for_function(
        "() => document.querySelector('#row-vault [data-snippet=markdown]')"
        ".value.startsWith('[![Vault]')"
    )
    # The service's refusal appears beside its field (a bidi control character).
    page.fill("#vault-public_group", "a\u202eb")
    page.press("#vault-public_group", "Tab")
    page.wait_for_selector("#vault-public_group-error:not(:empty)")
    assert page.locator("#vault-public_group").get_attribute("aria-invalid") == "true"
    assert page.locator("#row-vault .save-status.error").inner_text() == "Not saved"
    refused = f"HTTP 422 {base}/admin/pages/ops/components/vault"
    assert refused in watcher.errors
    # Chromium also logs the 422 to the console: both are expected, nothing else.
    watcher.errors[:] = [e for e in watcher.errors if e != refused and "status of 422" not in e]
    page.fill("#vault-public_group", "Safe")
    page.press("#vault-public_group", "Tab")
    page.wait_for_selector("#row-vault .save-status.saved")
    assert page.locator("#vault-public_group-error").inner_text() == ""
    page.check("#api-on_page")  # not on this page yet: goes after the vault
    page.wait_for_selector("#row-api .save-status.saved")
    assert watcher.documents == loads  # no reload: fetch only
    component_ids = page.eval_on_selector_all(
        "#editor > li.on-page", "rows => rows.map(r => r.dataset.monitor)"
    )
    assert component_ids == ["vault", "api"]

    # Drag the API above the vault; the order is saved.
    page.locator("#row-api .handle").drag_to(page.locator("#row-vault .row-head"))
    page.wait_for_selector("#order-status.saved")
    stored = console.run(runtime.page_editor.page("ops"))
    assert stored is not None
    assert [c.monitor_id for c in stored.components] == ["api", "vault"]
    assert stored.component("vault").public_name == "Vault"
    assert page.locator("#row-api button.move").first.is_disabled()  # now first: no Up
    assert page.locator("#row-vault button.move").last.is_disabled()  # last: no Down

    # A badge snippet copied to the clipboard, and the image it names loads.
    page.click("#row-vault summary")
    page.click("#row-vault button[data-copy='vault-markdown']")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#vault-markdown").input_value()
    image = copied.split("](", 1)[1].split(")", 1)[0]
    assert image.startswith(f"{base}/api/public/v1/badge.svg?page=ops&component=c_")
    width = page.evaluate(
        """url => new Promise((resolve, reject) => {
          const img = new Image();
          img.onload = () => resolve(img.naturalWidth);
          img.onerror = () => reject(new Error("the badge did not load: " + url));
          img.src = url;
        })""",
        image,
    )
    assert width > 0
    preview = page.locator("#row-vault [data-badge-preview]")
    assert preview.evaluate("img => img.complete && img.naturalWidth") > 0
    shot(page, tmp_path, "console-page-editor.png")

    page.goto(f"{base}/admin/pages/main")  # from the config: read-only
    assert "provisioned from pages[0]" in page.locator(".note").inner_text()
    assert page.locator("#components-h ~ * input, #components-h ~ * button.save").count() == 0
    shot(page, tmp_path, "console-page-provisioned.png")

    # The public page shows it once the browser's copy has expired.
    left = CACHE_TTL - (time.monotonic() - cached_at)
    if left > 0:  # the cache window itself, not a guess at how long something takes
        page.wait_for_timeout(left * 1000 + 100)
    page.goto(f"{base}/status")
    assert page.locator("[data-component-id]").count() == 2
    names = page.locator(".component").all_inner_texts()
    # Grouped components come before ungrouped ones, whatever their order.
    assert "Vault" in names[0] and "API server" in names[1]
    assert page.locator(".group-name").first.inner_text() == "Safe"
    clean(page, watcher)
    context.close()
