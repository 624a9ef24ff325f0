"""The console in a real browser: Debian's chromium driven by Playwright, the real app
under hypercorn. Sign in with a token, see a failing private monitor arrive through the
overview's refresh (no reload), narrate its incident, sign out and be refused; no console error, no CSP
violation. Screenshots go to test-output/ (gitignored).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from servers import HttpServer, Route

from uplight.auth.tokens import create_token
from uplight.config import Config
from uplight.plugins import PluginRegistry
from uplight.web import create_app
from uplight.web.console import overview
from uplight.web.context import EXTENSION

REPO = Path(__file__).parents[4]
OUTPUT = REPO / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""
CONFIG = """
[server]
public_base_url = "http://127.0.0.1:{port}"
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
"""


class AppServer(threading.Thread):
    """The real app under hypercorn, in its own thread and event loop."""

    def __init__(self, config: Config, registry: PluginRegistry, port: int) -> None:
        super().__init__(daemon=True)
        self.app = create_app(config, registry)
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.failure = exc

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        config = HypercornConfig()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = None
        config.graceful_timeout = 1.0
        await serve(self.app, config, shutdown_trigger=self.stop_event.wait)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.join(timeout=10)

    def run_on_loop(self, coroutine: Any) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)


def wait_for_port(port: int, server: AppServer, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.failure is not None:
            raise AssertionError(f"the app did not start: {server.failure!r}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise AssertionError("the app did not start listening in time")


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


def shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(path, OUTPUT / name)


@pytest.mark.timeout(180)  # a loaded CI box: each step waits on a real browser
def test_sign_in_watch_and_sign_out_in_chromium(
    browser: Any,
    make_config: Callable[[str], Config],
    registry: PluginRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(overview, "REFRESH_SECONDS", 1)
    routes = {"/health": Route(200, "ok"), "/vault": Route(200, "ok")}
    with HttpServer(routes) as upstream:
        port = free_port()
        config = make_config(CONFIG.format(port=port, upstream=upstream.url("").rstrip("/")))
        server = AppServer(config, registry, port)
        server.start()
        try:
            wait_for_port(port, server)
            runtime = server.app.extensions[EXTENSION]
            token = server.run_on_loop(create_token(runtime.store, "browser"))
            base = f"http://127.0.0.1:{port}"
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            errors: list[str] = []
            documents: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
            page.on("request", lambda r: r.resource_type == "document" and documents.append(r.url))

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
            loads = len(documents)
            upstream.routes["/vault"] = Route(500, "vault sealed")
            page.wait_for_function(
                "() => document.querySelector('tr[data-monitor=vault].state-down') !== null",
                timeout=20_000,
            )
            assert len(documents) == loads
            row = page.locator("tr[data-monitor=vault]")
            assert "private" in row.inner_text() and "500" in row.inner_text()
            assert page.locator("tr[data-monitor=api]").count() == 1
            shot(page, tmp_path, "console-overview.png")

            # Narrate the private monitor's incident; its title reaches the permalink.
            page.click("nav >> text=Incidents")
            page.wait_for_url(f"{base}/admin/incidents")
            link = page.locator("table.incidents a").first
            deadline = time.monotonic() + 15
            while link.count() == 0 and time.monotonic() < deadline:
                time.sleep(0.5)  # the incident opens at the second failure
                page.reload()
            link.click()
            page.fill("#public_title", "The vault is sealed")
            page.click("text=Save narration")
            page.wait_for_selector(".saved")
            assert page.locator("h1").inner_text().endswith("The vault is sealed")
            page.fill("#message", "Unsealing it now.")
            page.click("text=Post update")
            page.wait_for_selector(".timeline >> text=Unsealing it now.")
            shot(page, tmp_path, "console-incident.png")

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

            assert page.evaluate("window.__cspViolations") == []
            assert errors == []
            context.close()
        finally:
            server.stop()


@pytest.mark.timeout(180)
def test_page_editor_in_chromium(
    browser: Any,
    make_config: Callable[[str], Config],
    registry: PluginRegistry,
    tmp_path: Path,
) -> None:
    """Toggle a monitor onto a page in the editor (autosave by fetch), see it on /status,
    drag it into order, copy its badge snippet and load the image the snippet names."""
    routes = {"/health": Route(200, "ok"), "/vault": Route(200, "ok")}
    with HttpServer(routes) as upstream:
        port = free_port()
        config = make_config(CONFIG.format(port=port, upstream=upstream.url("").rstrip("/")))
        server = AppServer(config, registry, port)
        server.start()
        try:
            wait_for_port(port, server)
            runtime = server.app.extensions[EXTENSION]
            token = server.run_on_loop(create_token(runtime.store, "browser"))
            server.run_on_loop(
                runtime.page_editor.create_page(
                    slug="ops", title="Operations", hostname=None, default=True
                )
            )
            base = f"http://127.0.0.1:{port}"
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))

            page.goto(f"{base}/admin/sign-in")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/admin")
            page.click("nav >> text=Pages")
            page.wait_for_url(f"{base}/admin/pages")
            shot(page, tmp_path, "console-pages.png")
            page.click("a[href='/admin/pages/ops']")
            page.wait_for_url(f"{base}/admin/pages/ops")
            # Outside the browser's HTTP cache, which would keep /status for max-age.
            before = page.request.get(f"{base}/status")
            assert before.ok and "API server" not in before.text()  # now in the page cache

            # Autosave: ticking saves at once, a text field when it loses the focus.
            documents: list[str] = []
            page.on("request", lambda r: r.resource_type == "document" and documents.append(r.url))
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
            refused = f"422 {base}/admin/pages/ops/components/vault"
            assert refused in errors
            # Chromium also logs the 422 to the console: both are expected, nothing else.
            errors[:] = [e for e in errors if e != refused and "status of 422" not in e]
            page.fill("#vault-public_group", "Safe")
            page.press("#vault-public_group", "Tab")
            page.wait_for_selector("#row-vault .save-status.saved")
            assert page.locator("#vault-public_group-error").inner_text() == ""
            page.check("#api-on_page")  # not on this page yet: goes after the vault
            page.wait_for_selector("#row-api .save-status.saved")
            assert documents == []  # no reload: fetch only
            component_ids = page.eval_on_selector_all(
                "#editor > li.on-page", "rows => rows.map(r => r.dataset.monitor)"
            )
            assert component_ids == ["vault", "api"]

            # Drag the API above the vault; the order is saved.
            page.locator("#row-api .handle").drag_to(page.locator("#row-vault .row-head"))
            page.wait_for_selector("#order-status.saved")
            stored = server.run_on_loop(runtime.page_editor.page("ops"))
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
            assert (
                page.locator("#components-h ~ * input, #components-h ~ * button.save").count() == 0
            )
            shot(page, tmp_path, "console-page-provisioned.png")

            # The public page shows it (the edit refreshed the page cache).
            page.goto(f"{base}/status")
            assert page.locator("[data-component-id]").count() == 2
            names = page.locator(".component").all_inner_texts()
            # Grouped components come before ungrouped ones, whatever their order.
            assert "Vault" in names[0] and "API server" in names[1]
            assert page.locator(".group-name").first.inner_text() == "Safe"

            assert page.evaluate("window.__cspViolations") == []
            assert errors == []
            context.close()
        finally:
            server.stop()
