"""Serve the app with hypercorn until SIGINT/SIGTERM, then shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from time import time
from wsgiref.handlers import format_date_time

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.utils import LifespanFailureError

from ..config import Config
from ..eventloop import describe
from ..plugins import PluginRegistry
from .app import STARTUP_FAILED, create_app
from .reload import reload_config

log = logging.getLogger(__name__)


class StartupFailed(Exception):
    """The runtime did not start (its reason is logged): ``uplight serve`` exits 1."""


class _HypercornConfig(HypercornConfig):
    """hypercorn's settings, with the headers it adds to every response made cheaper.

    hypercorn formats ``Date`` anew for each response and names itself in ``Server``;
    on the cached page (about 1.1 million instructions a request under hypercorn and
    h11) the first is formatted here once a second, and the second, which only tells
    a scanner what runs here, is left out (``include_server_header``): together 2.7 %
    fewer instructions a request (docs/deploy.md, "A faster server").
    """

    _date_second = -1
    _date = b""

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        if self.alt_svc_headers or self._quic_addresses or not self.include_date_header:
            return super().response_headers(protocol)  # HTTP/3 advertised: hypercorn's own
        now = int(time())
        if now != self._date_second:
            # RFC 9110's IMF-fixdate, whole seconds: the same text within a second.
            self._date = format_date_time(now).encode("ascii")
            self._date_second = now
        headers = [(b"date", self._date)]
        if self.include_server_header:
            headers.append((b"server", f"hypercorn-{protocol}".encode("ascii")))
        return headers


def hypercorn_config(config: Config) -> HypercornConfig:
    hc = _HypercornConfig()
    host = config.server.host
    hc.bind = [f"[{host}]:{config.server.port}" if ":" in host else f"{host}:{config.server.port}"]
    hc.accesslog = None
    hc.include_server_header = False
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.graceful_timeout = 5.0
    return hc


async def serve(config: Config, registry: PluginRegistry) -> None:
    app = create_app(config, registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    reloads: set[asyncio.Task[bool]] = set()

    def on_sighup() -> None:
        if config.source is None:
            log.warning("SIGHUP ignored: the config was not read from a file")
            return
        _notify_systemd("RELOADING=1")
        task = asyncio.create_task(reload_config(app, config.source, registry))
        reloads.add(task)
        task.add_done_callback(reloads.discard)
        task.add_done_callback(_reload_done)

    def _reload_done(task: asyncio.Task[bool]) -> None:
        # Retrieved here, so a reload that fails unexpectedly is one logged error,
        # not "Task exception was never retrieved" at exit.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("reload failed: %r", exc, exc_info=exc)
        _notify_systemd("READY=1")

    @app.before_serving
    async def _ready() -> None:
        # Registered after the runtime's start hook, so this runs once checks are going.
        log.info("serving on http://%s (event loop: %s)", config.server.listen, describe(loop))
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        _notify_systemd("READY=1")

    failed: asyncio.Event = app.extensions[STARTUP_FAILED]

    async def until_stopped() -> None:
        # A signal, or a start that failed: hypercorn may have begun serving before
        # it saw the failure, and without this would serve until a signal came.
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(failed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    try:
        await hypercorn_serve(app, hypercorn_config(config), shutdown_trigger=until_stopped)  # type: ignore[arg-type]
    except LifespanFailureError as exc:
        raise StartupFailed(str(exc)) from None
    if failed.is_set():
        raise StartupFailed("the runtime did not start")
    _notify_systemd("STOPPING=1")


def _notify_systemd(state: str) -> None:
    """sd_notify without a dependency: a datagram to $NOTIFY_SOCKET (Type=notify)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not notify systemd: %s", exc)
