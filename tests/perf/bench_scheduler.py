"""Scheduler HTTP checks against a local server, each against bare httpx in the same run.

Three figures:

- throughput: checks per second the Scheduler completes with the built-in ``http``
  check, every monitor always due, against a bare loop of httpx GETs at the same
  concurrency;
- CPU per check: this process's CPU time over those same runs, per request;
- start lag: many monitors on a short interval on the real clock, config defaults
  (``scheduler.max_concurrency`` and ``max_jitter``), p50/p99 of the lag the
  scheduler records (due time to start), against bare timers spread evenly over the
  interval doing the same requests under the same cap.

At scale (``python -m tests.perf.bench_scheduler [--monitors N] [--minutes M]``,
``run_scale``): 10,000 monitors at 60 s for 3 minutes, each side in a process of its
own: start lag p50/p99 (goal: p99 under 1 s on two cores), checks per second against
expected, CPU per check against the bare timers, and RSS from start to end.

The bare side opens a new connection for every request, as the check does (it is
what the check measures): one ``AsyncClient`` without keep-alive. The server is a
minimal asyncio HTTP/1.1 server on 127.0.0.1 in processes of its own (so it does not
share the measured event loop or its CPU accounting), several behind one port
(``SO_REUSEPORT``) for the lag run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import multiprocessing.queues
import os
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx

from uplight.config import MonitorConfig, SchedulerConfig
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


# -- the server (child processes) -----------------------------------------------------------


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


async def _serve(port: int, ports: multiprocessing.queues.Queue[int]) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=4096, reuse_port=True)
    ports.put(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def serve(port: int, ports: multiprocessing.queues.Queue[int]) -> None:
    """Child process entry point: serve until terminated."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(port, ports))


class HttpServer:
    """``workers`` server processes on one port, for the ``with`` block."""

    def __init__(self, workers: int = 1) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._ports: multiprocessing.queues.Queue[int] = self._context.Queue()
        self._workers = workers
        self._processes: list[Any] = []
        self.url = ""

    def _start(self, port: int) -> int:
        process = self._context.Process(target=serve, args=(port, self._ports), daemon=True)
        process.start()
        self._processes.append(process)
        return self._ports.get(timeout=30)

    def __enter__(self) -> HttpServer:
        port = self._start(0)
        for _ in range(self._workers - 1):
            self._start(port)
        self.url = f"http://127.0.0.1:{port}/health"
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


# -- throughput and CPU per check -----------------------------------------------------------


def http_monitors(
    url: str, count: int, interval: float, timeout: float = 5.0
) -> tuple[list[MonitorConfig], dict[str, Any]]:
    check_types = load_plugins(builtins_only=True).check_types
    options = check_types["http"].Options.model_validate({"url": url})
    monitors = []
    for i in range(count):
        base = MonitorConfig.model_validate(
            {"id": f"m{i}", "name": f"M{i}", "type": "http", "interval": "10s", "timeout": "5s"}
        )
        update = {"options": options, "interval": interval, "timeout": timeout}
        monitors.append(base.model_copy(update=update))
    return monitors, dict(check_types)


@contextlib.contextmanager
def measured(into: list[tuple[float, float]]) -> Any:
    """Appends (wall seconds, this process's CPU seconds) for the block."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append((time.perf_counter() - wall, time.process_time() - cpu))


async def scheduler_checks(url: str, total: int) -> None:
    """Run the Scheduler until it has completed ``total`` checks, all up."""
    # An interval far below what the checks take: every monitor is always due, so
    # the semaphore, not the clock, sets the pace.
    monitors, check_types = http_monitors(url, MONITORS, interval=0.001)
    done = asyncio.Event()
    seen: list[ResultRecord] = []

    def count(monitor: MonitorConfig, record: ResultRecord) -> None:
        seen.append(record)
        if len(seen) >= total:
            done.set()

    scheduler = Scheduler(
        monitors, check_types, max_concurrency=CONCURRENCY, max_jitter=0, listeners=[count]
    )
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await scheduler.stop()
    bad = [r for r in seen if r.result.status is not CheckStatus.UP]
    if bad:
        raise RuntimeError(f"{len(bad)} checks were not up, e.g. {bad[0].result.message}")


def bare_client() -> httpx.AsyncClient:
    """httpx as cheaply as it opens a new connection per request."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return httpx.AsyncClient(timeout=5, trust_env=False, limits=limits)


async def bare_get(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"bare request got {response.status_code}")


async def bare_requests(url: str, total: int) -> None:
    """``total`` GETs, ``CONCURRENCY`` at a time."""
    issued = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < total:
            issued += 1
            await bare_get(client, url)

    async with bare_client() as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))


def run(quick: bool = False) -> list[Comparison]:
    total = 150 if quick else 1000
    repeats = 1 if quick else 3
    uplight: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    with HttpServer() as server:

        async def measure() -> None:
            # Warm up both paths (imports, the check's cached TLS context, the server).
            await bare_requests(server.url, 2 * CONCURRENCY)
            await scheduler_checks(server.url, 2 * CONCURRENCY)
            for _ in range(repeats):
                with measured(bare):
                    await bare_requests(server.url, total)
                with measured(uplight):
                    await scheduler_checks(server.url, total)

        asyncio.run(measure())
    (wall, _), (bare_wall, _) = min(uplight), min(bare)
    cpu, bare_cpu = min(c for _, c in uplight), min(c for _, c in bare)
    runs = f"{total:,} checks per run, best of {repeats}"
    return [
        Comparison(
            name="scheduler http",
            unit="checks/s",
            uplight=total / wall,
            bare=total / bare_wall,
            notes=(
                f"{runs}; {MONITORS} monitors, concurrency {CONCURRENCY};"
                " server: asyncio HTTP/1.1 in its own process",
                "uplight: Scheduler loops + the built-in http check (new connection per check)",
                "bare: httpx GETs through one AsyncClient without keep-alive (a new"
                " connection per request), same concurrency",
                "uplight runs (s): " + ", ".join(f"{w:.3f}" for w, _ in uplight),
                "bare runs (s):    " + ", ".join(f"{w:.3f}" for w, _ in bare),
            ),
        ),
        Comparison(
            name="cpu per http check",
            unit="ms",
            uplight=cpu / total * 1000,
            bare=bare_cpu / total * 1000,
            lower_is_better=True,
            notes=(
                f"this process's CPU time (time.process_time) over the same runs; {runs}",
                "uplight runs (ms/check): "
                + ", ".join(f"{c / total * 1000:.3f}" for _, c in uplight),
                "bare runs (ms/check):    " + ", ".join(f"{c / total * 1000:.3f}" for _, c in bare),
            ),
        ),
    ]


# -- start lag ------------------------------------------------------------------------------


async def scheduler_lags(
    url: str, count: int, interval: float, seconds: float, failures: list[str] | None = None
) -> list[float]:
    """The lag of every check the Scheduler starts in ``seconds``, config defaults.
    With ``failures``, a check that is not up is noted there instead of raising."""
    monitors, check_types = http_monitors(url, count, interval)
    lags: list[float] = []
    defaults = SchedulerConfig()
    scheduler = Scheduler(
        monitors,
        check_types,
        max_concurrency=defaults.max_concurrency,
        max_jitter=defaults.max_jitter,
    )

    def record(monitor: MonitorConfig, result: ResultRecord) -> None:
        if result.result.status is not CheckStatus.UP:
            if failures is None:
                raise RuntimeError(f"a check was not up: {result.result.message}")
            failures.append(result.result.message)
        lags.append(scheduler.states[monitor.id].last_lag)

    scheduler.add_listener(record)
    scheduler.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await scheduler.stop()
    return lags


async def bare_lags(
    url: str, count: int, interval: float, seconds: float, failures: list[str] | None = None
) -> list[float]:
    """Timers spread evenly over the interval, each doing the same GET under the same cap.
    With ``failures``, a failed GET is noted there and its timer goes on."""
    lags: list[float] = []
    semaphore = asyncio.Semaphore(SchedulerConfig().max_concurrency)
    start = time.monotonic()

    async def loop(client: httpx.AsyncClient, index: int) -> None:
        due = start + interval * index / count
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            async with semaphore:
                lags.append(max(0.0, time.monotonic() - due))
                if failures is None:
                    await bare_get(client, url)
                else:
                    try:
                        await bare_get(client, url)
                    except (httpx.HTTPError, RuntimeError) as exc:
                        failures.append(repr(exc))
            due += interval

    async with bare_client() as client:
        tasks = [asyncio.create_task(loop(client, i)) for i in range(count)]
        try:
            await asyncio.sleep(seconds)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return lags


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_lag(quick: bool = False) -> list[Comparison]:
    count, interval, seconds = (400, 12.0, 8.0) if quick else (2000, 20.0, 45.0)
    results: dict[str, tuple[list[float], float]] = {}

    def side(name: str, body: Callable[[], Coroutine[Any, Any, list[float]]]) -> None:
        cpu = time.process_time()
        lags = asyncio.run(body())
        results[name] = (lags, time.process_time() - cpu)

    with HttpServer(workers=2) as server:
        side("bare", lambda: bare_lags(server.url, count, interval, seconds))
        side("uplight", lambda: scheduler_lags(server.url, count, interval, seconds))
    (lags, cpu), (bare, bare_cpu) = results["uplight"], results["bare"]

    def summary(values: list[float], cpu_seconds: float) -> str:
        return (
            f"{len(values):,} checks started, p50 {percentile(values, 50) * 1000:.1f} ms,"
            f" p99 {percentile(values, 99) * 1000:.1f} ms, max {max(values, default=0) * 1000:.0f}"
            f" ms; CPU {cpu_seconds / seconds:.0%} of a core"
        )

    defaults = SchedulerConfig()
    return [
        Comparison(
            name="scheduler start lag p99",
            unit="ms",
            uplight=percentile(lags, 99) * 1000,
            bare=percentile(bare, 99) * 1000,
            lower_is_better=True,
            notes=(
                f"{count:,} http monitors at {interval:g} s for {seconds:g} s on the real clock;"
                f" scheduler defaults: max_concurrency {defaults.max_concurrency},"
                f" max_jitter {defaults.max_jitter!r}; 2 server processes on one port",
                "lag: from a check's due time to its start (the scheduler's last_lag)",
                "uplight: " + summary(lags, cpu),
                "bare:    " + summary(bare, bare_cpu) + " (timers spread evenly from the start)",
            ),
        )
    ]


# -- at scale: 10,000 monitors for minutes --------------------------------------------------

SCALE_MONITORS = 10_000
SCALE_INTERVAL = 60.0
SCALE_MINUTES = 3.0
SCALE_SERVERS = 2
GOAL_P99_LAG = 1.0  # seconds, on two cores (issue 11)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def scale_side(kind: str, url: str, count: int, interval: float, seconds: float) -> dict[str, Any]:
    """One side of the scale run, in a process of its own (spawned), so its CPU time
    and RSS are its own: lags, checks done, failures, CPU seconds, RSS start and end."""
    failures: list[str] = []
    if kind == "uplight":
        # Built before the clock starts, and frozen out of the collector as ``uplight
        # serve`` does once started (runtime.py).
        load_plugins(builtins_only=True)
        gc.collect()
        gc.freeze()
        body = scheduler_lags(url, count, interval, seconds, failures)
    else:
        body = bare_lags(url, count, interval, seconds, failures)
    start_rss, cpu = rss_mb(), time.process_time()
    lags = asyncio.run(body)
    return {
        "lags": lags,
        "failures": len(failures),
        "failure": failures[0] if failures else "",
        "cpu": time.process_time() - cpu,
        "rss": (start_rss, rss_mb()),
    }


def run_scale(
    quick: bool = False,
    monitors: int | None = None,
    minutes: float | None = None,
    interval: float = SCALE_INTERVAL,
    servers: int = SCALE_SERVERS,
) -> list[Comparison]:
    """10,000 HTTP monitors at 60 s against ``servers`` target processes for minutes
    (``--quick``: 1,000 for 30 s): the Scheduler with config defaults, then bare timers
    doing the same GETs, each side alone in a spawned process."""
    count = monitors or (1_000 if quick else SCALE_MONITORS)
    seconds = 60 * (minutes if minutes is not None else (0.5 if quick else SCALE_MINUTES))
    context = multiprocessing.get_context("spawn")
    sides: dict[str, dict[str, Any]] = {}
    load = os.getloadavg()
    with HttpServer(workers=servers) as server:
        for kind in ("uplight", "bare"):
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                job = pool.submit(scale_side, kind, server.url, count, interval, seconds)
                sides[kind] = job.result()
    load_after = os.getloadavg()
    expected = count * seconds / interval
    ours, bare = sides["uplight"], sides["bare"]

    def summary(side: dict[str, Any]) -> str:
        lags, done = side["lags"], len(side["lags"])
        start, end = side["rss"]
        failed = (
            f", {side['failures']} failed (e.g. {side['failure'][:80]})" if side["failures"] else ""
        )
        return (
            f"{done:,} checks ({done / seconds:.1f}/s, {done / expected:.0%} of expected)"
            f"{failed}; lag p50 {percentile(lags, 50) * 1000:.1f} ms, p99"
            f" {percentile(lags, 99) * 1000:.1f} ms, max {max(lags, default=0) * 1000:.0f} ms;"
            f" CPU {side['cpu'] / seconds:.0%} of a core,"
            f" {side['cpu'] / max(done, 1) * 1000:.2f} ms per check; RSS {start:.0f} -> {end:.0f} MB"
        )

    p99 = percentile(ours["lags"], 99)
    defaults = SchedulerConfig()
    cpu_per = [side["cpu"] / max(len(side["lags"]), 1) * 1000 for side in (ours, bare)]
    notes = (
        f"{count:,} http monitors at {interval:g} s for {seconds / 60:g} min on the real clock"
        f" ({expected / seconds:.1f} checks/s expected); scheduler defaults: max_concurrency"
        f" {defaults.max_concurrency}, max_jitter {defaults.max_jitter!r}; {servers} target"
        " processes on one port; each side alone in a spawned process, one after the other",
        f"load average (1 min) {load[0]:.2f} before, {load_after[0]:.2f} after:"
        " other work shared the cores, compare the ratios",
        "uplight: " + summary(ours),
        "bare:    " + summary(bare) + " (timers spread evenly over the interval)",
        f"goal p99 lag < {GOAL_P99_LAG:g} s: {'met' if p99 < GOAL_P99_LAG else 'NOT met'}",
    )
    return [
        Comparison(
            name=f"scheduler at {count:,}: start lag p99",
            unit="ms",
            uplight=p99 * 1000,
            bare=percentile(bare["lags"], 99) * 1000,
            lower_is_better=True,
            notes=notes,
        ),
        Comparison(
            name=f"scheduler at {count:,}: CPU per check",
            unit="ms",
            uplight=cpu_per[0],
            bare=cpu_per[1],
            lower_is_better=True,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    from .common import machine_facts, print_facts, print_notes, print_table

    parser = argparse.ArgumentParser(
        prog="python -m tests.perf.bench_scheduler",
        description="The scheduler at scale: many HTTP monitors for minutes (run_scale).",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 monitors for 30 s")
    parser.add_argument("--monitors", type=int, help=f"default {SCALE_MONITORS:,}")
    parser.add_argument("--minutes", type=float, help=f"default {SCALE_MINUTES:g}")
    parser.add_argument("--interval", type=float, default=SCALE_INTERVAL, help="seconds")
    parser.add_argument("--servers", type=int, default=SCALE_SERVERS, help="target processes")
    args = parser.parse_args(argv)
    print_facts(machine_facts())
    results = run_scale(args.quick, args.monitors, args.minutes, args.interval, args.servers)
    for result in results:
        print_notes(result)
    print()
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
