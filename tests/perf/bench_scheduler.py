"""Scheduler HTTP checks: checks per second the Scheduler completes against a local
HTTP server, against a bare loop of httpx requests to the same server in the same run.

The server is a minimal asyncio HTTP/1.1 server in its own process (so it does not
share the measured event loop) on 127.0.0.1. Both sides open a new ``AsyncClient``
per request, as the HTTP check does, with the same TLS context object (the check
shares one; building one per request would measure certificate loading instead),
and run at the same concurrency: the scheduler's ``max_concurrency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.queues
import ssl
import time
from typing import Any

import httpx

from uplight.config import MonitorConfig
from uplight.models import CheckStatus, ResultRecord
from uplight.monitoring.scheduler import Scheduler
from uplight.plugins import load_plugins

from .common import Comparison

MONITORS = 50
CONCURRENCY = 10
BODY = b"ok\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


# -- the server (child process) -------------------------------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            await writer.drain()
            if b"connection: close" in head.lower():
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _serve(ports: multiprocessing.queues.Queue[int]) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=1024)
    ports.put(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def serve(ports: multiprocessing.queues.Queue[int]) -> None:
    """Child process entry point: serve until terminated."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(ports))


class HttpServer:
    """The server in its own process, for the ``with`` block."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports: multiprocessing.queues.Queue[int] = context.Queue()
        self._process = context.Process(target=serve, args=(self._ports,), daemon=True)
        self.url = ""

    def __enter__(self) -> HttpServer:
        self._process.start()
        port = self._ports.get(timeout=30)
        self.url = f"http://127.0.0.1:{port}/health"
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


# -- the two sides --------------------------------------------------------------------------


def http_monitors(url: str) -> tuple[list[MonitorConfig], dict[str, Any]]:
    check_types = load_plugins(builtins_only=True).check_types
    http = check_types["http"]
    options = http.Options.model_validate({"url": url})
    monitors = []
    for i in range(MONITORS):
        base = MonitorConfig.model_validate(
            {"id": f"m{i}", "name": f"M{i}", "type": "http", "interval": "10s", "timeout": "5s"}
        )
        # An interval far below what the checks take: every monitor is always due, so
        # the semaphore, not the clock, sets the pace.
        monitors.append(base.model_copy(update={"options": options, "interval": 0.001}))
    return monitors, dict(check_types)


async def scheduler_checks(url: str, total: int) -> float:
    """Seconds until the Scheduler has completed ``total`` checks."""
    monitors, check_types = http_monitors(url)
    done = asyncio.Event()
    seen: list[ResultRecord] = []

    def count(monitor: MonitorConfig, record: ResultRecord) -> None:
        seen.append(record)
        if len(seen) >= total:
            done.set()

    scheduler = Scheduler(
        monitors, check_types, max_concurrency=CONCURRENCY, max_jitter=0, listeners=[count]
    )
    started = time.perf_counter()
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
        elapsed = time.perf_counter() - started
    finally:
        await scheduler.stop()
    bad = [r for r in seen if r.result.status is not CheckStatus.UP]
    if bad:
        raise RuntimeError(f"{len(bad)} checks were not up, e.g. {bad[0].result.message}")
    return elapsed


async def bare_requests(url: str, total: int, verify: ssl.SSLContext) -> float:
    """Seconds for ``total`` GETs, a new client each, ``CONCURRENCY`` at a time."""
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < total:
            issued += 1
            async with httpx.AsyncClient(verify=verify, timeout=5, trust_env=False) as client:
                response = await client.get(url)
                await response.aread()
            if response.status_code != 200:
                raise RuntimeError(f"bare request got {response.status_code}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def run(quick: bool = False) -> Comparison:
    total = 150 if quick else 1000
    repeats = 1 if quick else 2
    verify = ssl.create_default_context()  # what the check shares between its requests
    scheduler_times: list[float] = []
    bare_times: list[float] = []
    with HttpServer() as server:

        async def measure() -> None:
            # Warm up both paths (imports, the check's cached TLS context, the server).
            await bare_requests(server.url, 2 * CONCURRENCY, verify)
            await scheduler_checks(server.url, 2 * CONCURRENCY)
            for _ in range(repeats):
                bare_times.append(await bare_requests(server.url, total, verify))
                scheduler_times.append(await scheduler_checks(server.url, total))

        asyncio.run(measure())
    scheduler_best, bare_best = min(scheduler_times), min(bare_times)
    return Comparison(
        name="scheduler http",
        unit="checks/s",
        uplight=total / scheduler_best,
        bare=total / bare_best,
        notes=(
            f"{total:,} checks per run, best of {repeats}; {MONITORS} monitors,"
            f" concurrency {CONCURRENCY}; server: asyncio HTTP/1.1 in its own process",
            "uplight: Scheduler loops + the built-in http check (new AsyncClient per check)",
            "bare: httpx GET with a new AsyncClient per request, same concurrency",
            "uplight runs (s): " + ", ".join(f"{t:.3f}" for t in scheduler_times),
            "bare runs (s):    " + ", ".join(f"{t:.3f}" for t in bare_times),
        ),
    )
