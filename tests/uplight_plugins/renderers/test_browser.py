"""The status page in a real browser: Debian's chromium driven by Playwright.

No browser download: the test uses the system ``chromium`` (``.ci/run``
installs it). When there is none, the fixture tries ``apt-get install chromium``
itself (as root, bounded in time, saying what it does) and skips, saying why, only
when that fails too.

The real app runs under hypercorn on 127.0.0.1 with its scheduler checking a
local HTTP server; the test breaks that server and watches the page follow
through the fragment refresh, without a reload.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers import free_port
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from servers import HttpServer, Route

from uplight.config import Config
from uplight.incidents.store import active_incidents, insert_update
from uplight.maintenance.models import WindowFields
from uplight.plugins import PluginRegistry
from uplight.web import create_app
from uplight.web.context import EXTENSION

T = TypeVar("T")

REPO = Path(__file__).parents[3]
OUTPUT = REPO / "test-output"  # gitignored: screenshots for humans to look at
CANARY = "canary-browser-5150"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# apt-get update plus the chromium download can be slow; past this the test skips.
INSTALL_TIMEOUT = 300.0
# apt-get's words when its package lists are missing or stale: worth an update.
NEEDS_UPDATE = (
    "Unable to locate package",
    "has no installation candidate",
    "apt-get update",
)
# Collects what the page's CSP refuses; added before any page script runs.
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
[public]
cache_ttl = "1s"
refresh_interval = "1s"
[[monitors]]
id = "api"
name = "API server"
type = "http"
url = "{upstream}/health?token={canary}"
interval = "1s"
timeout = "1s"
failure_threshold = 1
[[monitors]]
id = "web"
name = "Web server"
type = "http"
url = "{upstream}/web"
interval = "1s"
timeout = "1s"
[[pages]]
slug = "main"
title = "Homelab"
[[pages.components]]
monitor = "api"
public_name = "Public API"
public_group = "Backend"
public_description = "What the apps talk to"
[[pages.components]]
monitor = "web"
public_name = "Website"
"""


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def say(text: str) -> None:
    # Printed past pytest's capture too, so `make test` output says what happened.
    print(f"\n[test_browser] {text}", file=sys.__stderr__, flush=True)


def skip(reason: str) -> None:
    say(f"SKIPPED: {reason}")
    pytest.skip(reason)


Runner = Callable[[list[str], float], "subprocess.CompletedProcess[str]"]


def run_command(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}  # never wait on a prompt
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def install_chromium(
    run: Runner = run_command, *, timeout: float = INSTALL_TIMEOUT, is_root: bool | None = None
) -> str | None:
    """Try to install Debian's chromium; None when it worked, else why it did not.

    ``apt-get update`` only runs when the install failed for lack of package lists:
    an update is slow and touches the whole system, so it is not done for nothing.
    """
    if is_root is None:
        is_root = os.geteuid() == 0
    if not is_root:
        return "no chromium, and not root to apt-get install it (.ci/run does it)"
    if shutil.which("apt-get") is None and run is run_command:
        return "no chromium, and no apt-get to install it"
    deadline = time.monotonic() + timeout
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    try:
        say(f"no chromium: running {' '.join(install)} (at most {timeout:.0f} s)")
        done = run(install, deadline - time.monotonic())
        if done.returncode != 0 and any(w in done.stdout + done.stderr for w in NEEDS_UPDATE):
            say("the package lists are missing or stale: running apt-get update, then again")
            update = run(["apt-get", "update"], deadline - time.monotonic())
            if update.returncode != 0:
                return f"apt-get update failed: {_last_line(update)}"
            done = run(install, deadline - time.monotonic())
    except subprocess.TimeoutExpired:
        return f"installing chromium took more than {timeout:.0f} s"
    except OSError as exc:
        return f"could not run apt-get: {exc}"
    if done.returncode != 0:
        return f"apt-get install chromium failed: {_last_line(done)}"
    say("chromium installed")
    return None


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
        except BaseException as exc:  # surfaced by the fixture, not lost in a thread
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


@dataclass
class Site:
    base_url: str
    upstream: HttpServer
    server: AppServer

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the app's own event loop (its store lives there)."""
        assert self.server.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.server.loop).result(10)

    @property
    def runtime(self) -> Any:
        return self.server.app.extensions[EXTENSION]


@pytest.fixture
def site(make_config: Callable[[str], Config], registry: PluginRegistry) -> Iterator[Site]:
    with HttpServer({"/health": Route(200, "ok"), "/web": Route(200, "ok")}) as upstream:
        port = free_port()
        upstream_url = upstream.url("").rstrip("/")
        config = make_config(CONFIG.format(port=port, upstream=upstream_url, canary=CANARY))
        server = AppServer(config, registry, port)
        server.start()
        try:
            wait_for_port(port, server)
            yield Site(f"http://127.0.0.1:{port}", upstream, server)
        finally:
            server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        reason = install_chromium()
        path = chromium_path()
        if path is None:
            skip(reason or "apt-get installed chromium but there is no chromium binary")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # the test extra installs it
        skip("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        except Exception as exc:  # an unusable browser binary, not a failure of the page
            skip(f"chromium at {path} could not be launched: {exc}")
        try:
            yield browser
        finally:
            browser.close()


class Watcher:
    """Console errors, uncaught exceptions and failed requests of one page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.documents = 0
        page.on("request", self._request)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status} {r.url}"),
        )

    def _request(self, request: Any) -> None:
        if request.resource_type == "document":
            self.documents += 1


def banner_is(status: str) -> str:
    # A function, not a bare expression: a string would be eval'd, which the CSP forbids.
    return f"() => document.querySelector('#live .banner').dataset.status === '{status}'"


def save_screenshot(page: Any, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(shot, OUTPUT / name)


@pytest.mark.timeout(60)
def test_status_page_in_chromium(site: Site, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(
        timezone_id="Asia/Tokyo", locale="en-US", viewport={"width": 1100, "height": 900}
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    watcher = Watcher(page)

    response = page.goto(f"{site.base_url}/status")
    assert response is not None and response.status == 200
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff" and "referrer-policy" in headers
    # The first checks land within a second or two; the refresh brings them in.
    page.wait_for_function(banner_is("operational"), timeout=10_000)
    assert page.locator("#live .banner").inner_text().strip() == "All Systems Operational"
    history = page.locator("#live .history").first
    assert history.locator(".cells > i").count() == 90
    # A cell's tooltip is made by the script from the hidden list of runs: its own
    # day and what that day reads (issue 11, point 5: the cells carry no text).
    today = dt.datetime.now(dt.UTC).date()
    first = history.locator(".cells > i").first
    first.hover()
    assert first.get_attribute("title") == f"{today - dt.timedelta(days=89)}: no data"
    last = history.locator(".cells > i").last
    last.hover()
    assert re.fullmatch(
        rf"{today}: \d+(\.\d+)?% uptime, operational", last.get_attribute("title") or ""
    )
    assert last.bounding_box()["width"] >= 2  # type: ignore[index]
    # Screen readers get the same in words: the list is in the page, visually hidden.
    words = history.locator("ol.visually-hidden").inner_text()
    assert f"{today}: " in words and "no data" in words
    # The stylesheet applied (a file, allowed by style-src 'self').
    assert page.locator(".banner").evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"

    # Local time in the tooltip, in Tokyo (UTC+9), for the "Updated" time.
    stamp = page.locator("#live p.updated time")
    page.wait_for_function("() => document.querySelector('#live p.updated time').title !== ''")
    iso = stamp.get_attribute("datetime") or ""
    title = stamp.get_attribute("title") or ""
    tokyo = page.evaluate(
        """iso => {
          const d = new Date(new Date(iso).getTime() + 9 * 3600 * 1000);
          return d.toISOString().slice(0, 16).replace("T", " ");
        }""",
        iso,
    )
    assert title.startswith(tokyo) and "Asia/Tokyo" in title and "UTC+09:00" in title, title
    assert stamp.inner_text().endswith(" UTC")

    # The API breaks: the region is swapped in place, no full reload.
    page.evaluate("window.__noReload = 'still here'")
    site.upstream.routes["/health"] = Route(500, "broken")
    page.wait_for_function(banner_is("partial_outage"), timeout=15_000)
    assert page.evaluate("window.__noReload") == "still here"
    assert watcher.documents == 1  # one page load, every later change came by fetch()
    api = page.locator("#live .component", has_text="Public API")
    assert "Major outage" in api.inner_text()
    assert page.locator("#announcer").inner_text() == "Status changed: Partial Outage"
    # New timestamps get their tooltip too.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#live time')].every(t => t.title !== '')"
    )
    page.wait_for_function(
        "() => document.querySelector('#live .incidents-active a') !== null", timeout=10_000
    )
    save_screenshot(page, tmp_path, "status.png")
    content = page.content()
    assert CANARY not in content and "API server" not in content and "/health" not in content

    # The incident permalink, opened from the page, under the same policy.
    page.locator("#live .incidents-active a").first.click()
    page.wait_for_url("**/status/incidents/*")
    assert "Public API" in page.locator("h1").inner_text()
    assert page.locator(".facts").inner_text().count("Public API") == 1
    page.wait_for_function("() => document.querySelector('time').title !== ''")
    assert CANARY not in page.content()

    assert page.evaluate("window.__cspViolations") == []
    assert watcher.errors == []
    context.close()


@pytest.mark.timeout(60)
def test_dark_and_narrow(site: Site, browser: Any, tmp_path: Path) -> None:
    """Dark mode follows the system; a phone sees the last 30 days, not 90 slivers."""
    context = browser.new_context(
        color_scheme="dark", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    watcher = Watcher(page)
    page.goto(f"{site.base_url}/status")
    page.wait_for_function(banner_is("operational"), timeout=10_000)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    visible = page.locator("#live .history").first.locator(".cells > i:visible")
    assert visible.count() == 30
    assert page.locator(".history-legend .narrow").first.is_visible()
    save_screenshot(page, tmp_path, "status-dark-narrow.png")
    # Unknown incident: the friendly 404 page, styled by the same assets.
    response = page.goto(f"{site.base_url}/status/incidents/999999")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    watcher.errors = [e for e in watcher.errors if "404" not in e]  # that one was asked for
    assert page.evaluate("window.__cspViolations") == []
    assert watcher.errors == []
    context.close()


@pytest.mark.timeout(60)
def test_a_long_permalink_and_maintenance_in_chromium(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    """Issue 10: a 120-update timeline pages back (21), a window completed early shows
    its real end and its severity in words (13, 16), / leads to the page (19)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    watcher = Watcher(page)
    runtime = site.runtime

    site.upstream.routes["/health"] = Route(500, "broken")
    deadline = time.monotonic() + 15
    while not (found := site.run(active_incidents(runtime.store))):
        assert time.monotonic() < deadline, "no incident opened"
        time.sleep(0.1)
    incident_id = found[0].id

    async def narrate(db: Any) -> None:
        at = runtime.clock.now()
        for n in range(1, 121):
            await insert_update(
                db, incident_id, phase="monitoring", message=f"Update {n}", created_by="t", at=at
            )

    async def maintain() -> None:
        now = runtime.clock.now()
        fields = WindowFields(
            "Router swap", None, "warning", ("web",), now, now + dt.timedelta(hours=2)
        )
        window = await runtime.maintenance.schedule(fields, created_by="test")
        await runtime.maintenance.complete(window.id)

    site.run(runtime.store.write(narrate))
    site.run(maintain())
    runtime.page_cache.invalidate()

    response = page.goto(f"{site.base_url}/")
    assert response is not None and response.status == 200
    assert page.url == f"{site.base_url}/status"
    history = page.locator("#live .maintenance-recent .maintenance", has_text="Router swap")
    meta = " ".join((history.locator(".meta").text_content() or "").split())
    assert meta.startswith("Completed · Warning · "), meta
    assert "(ended early; planned until " in meta

    page.goto(f"{site.base_url}/status/incidents/{incident_id}")
    entries = page.locator(".timeline-entry")
    assert entries.count() == 50
    assert entries.first.inner_text().endswith("Update 120")
    assert "Updates 71\u2013120 of 120" in page.locator(".timeline-range").inner_text()
    page.locator(".pager").first.get_by_text("Older updates").click()
    page.wait_for_url(f"**/status/incidents/{incident_id}?before=71")
    assert entries.count() == 50 and entries.first.inner_text().endswith("Update 70")
    page.locator(".pager").last.get_by_text("Older updates").click()
    page.wait_for_url(f"**/status/incidents/{incident_id}?before=21")
    assert entries.count() == 20 and entries.last.inner_text().endswith("Update 1")
    assert page.get_by_text("Older updates").count() == 0
    save_screenshot(page, tmp_path, "incident-oldest-part.png")
    page.locator(".pager").first.get_by_text("Newer updates").click()
    page.wait_for_url(f"**/status/incidents/{incident_id}?before=71")
    assert page.locator(".back a").inner_text() == "← Homelab"

    assert page.evaluate("window.__cspViolations") == []
    assert watcher.errors == []
    context.close()


# -- the installer, with apt-get played by a fake --------------------------------------


class FakeApt:
    """Answers like apt-get: the install fails until an update has fetched the lists."""

    def __init__(self, *, lists: bool, update_ok: bool = True, slow: bool = False) -> None:
        self.lists = lists
        self.update_ok = update_ok
        self.slow = slow
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        assert 0 < timeout <= INSTALL_TIMEOUT
        if self.slow:
            raise subprocess.TimeoutExpired(command, timeout)
        if command[1] == "update":
            self.lists = self.update_ok
            return subprocess.CompletedProcess(command, 0 if self.update_ok else 100, "", "E: nope")
        if self.lists:
            return subprocess.CompletedProcess(command, 0, "Setting up chromium", "")
        return subprocess.CompletedProcess(command, 100, "", "E: Unable to locate package chromium")


def verbs(apt: FakeApt) -> list[str]:
    return [command[1] for command in apt.commands]


def test_install_updates_only_when_the_lists_are_missing() -> None:
    ready = FakeApt(lists=True)
    assert install_chromium(ready, is_root=True) is None
    assert verbs(ready) == ["install"]
    assert ready.commands[0][-1] == "chromium" and "-y" in ready.commands[0]

    bare = FakeApt(lists=False)
    assert install_chromium(bare, is_root=True) is None
    assert verbs(bare) == ["install", "update", "install"]


def test_install_failures_are_reasons_to_skip() -> None:
    broken = FakeApt(lists=False, update_ok=False)
    reason = install_chromium(broken, is_root=True)
    assert reason == "apt-get update failed: E: nope" and verbs(broken) == ["install", "update"]

    slow = FakeApt(lists=True, slow=True)
    assert install_chromium(slow, timeout=5, is_root=True) == (
        "installing chromium took more than 5 s"
    )

    nobody = FakeApt(lists=True)
    assert "not root" in (install_chromium(nobody, is_root=False) or "")
    assert nobody.commands == []  # without root apt-get is not even tried
