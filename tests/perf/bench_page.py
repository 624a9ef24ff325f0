"""Serving ``/status`` from the cache: the real app under hypercorn against a bare ASGI app
on hypercorn returning the same bytes and headers, driven by the same load generator.

Three servers, each its own process on 127.0.0.1 with the same hypercorn settings:

- uplight: ``create_app`` on a page of 10 components with 90 days of history, the
  cache warm; cache hits are answered by the ASGI fast path (``web/fastpath.py``)
  with every rule applied: rate limit (on, with a budget the run cannot exhaust),
  Host → page, ETag, gzip, Cache-Control, Vary, security headers.
- bare: an ASGI callable that answers every request with the bytes and headers
  uplight sent for the same request (captured first): the ceiling.
- quart: uplight again with the fast path turned off, so Quart's routing, request
  and response objects serve the same cached bytes: what the fast path buys.
- cold: uplight with ``cache_ttl = "0s"``, so every request computes the snapshot
  (the database queries) and renders it: the in-process cold-path benchmark
  (``bench_snapshot``) over HTTP. Concurrent requests share one compute even
  without a cache, so this one runs on a single connection: each request then
  really computes, which the run checks against the page-cache counters.

The load generator is ``wrk`` (Debian's package) in its own process when it is
installed, else a small asyncio HTTP/1.1 keep-alive client in a subprocess; the
same connections, duration and request (``Accept-Encoding: gzip``, as browsers
send) for every server, rounds alternating. With two or more cores the server is
pinned to one and the generator to another. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import Comparison, cores

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = 10
CONNECTIONS = 32
REQUEST_HEADERS = {"Accept-Encoding": "gzip"}
SKIPPED = {b"date", b"server"}  # hypercorn adds these to both


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


# -- the servers (child processes) ------------------------------------------------------


def _pin(core: int) -> None:
    if cores() >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def serve_uplight(config_path: str, fast_path: bool, loop: str = "asyncio") -> None:
    from uplight.config import load_config
    from uplight.plugins import load_plugins
    from uplight.web import create_app
    from uplight.web.serve import hypercorn_config

    _pin(0)
    registry = load_plugins(builtins_only=True)
    config = load_config(config_path, registry.check_types)
    app = create_app(config, registry)
    app.asgi_app.enabled = fast_path  # type: ignore[attr-defined]
    _run_on(loop, _run(app, hypercorn_config(config)))


def serve_bare(answer_path: str, port: int, loop: str = "asyncio") -> None:
    from hypercorn.config import Config as HypercornConfig

    from uplight.config import Config
    from uplight.web.serve import hypercorn_config

    _pin(0)
    saved = json.loads(Path(answer_path).read_text())
    status = saved["status"]
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in saved["headers"]]
    body = bytes.fromhex(saved["body"])
    start = {"type": "http.response.start", "status": status, "headers": headers}
    reply = {"type": "http.response.body", "body": body, "more_body": False}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await send(start)
        await send(reply)

    config: HypercornConfig = hypercorn_config(Config.model_validate({}))
    config.bind = [f"127.0.0.1:{port}"]
    _run_on(loop, _run(app, config))


def _run_on(loop: str, main: Any) -> None:
    """``asyncio.run`` on the loop ``uplight serve`` would pick for ``[server] event_loop``."""
    from uplight.eventloop import loop_factory, resolve

    with asyncio.Runner(loop_factory=loop_factory(resolve(loop))) as runner:
        runner.run(main)


async def _run(app: Any, config: Any) -> None:
    from hypercorn.asyncio import serve

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)


# -- the load generator ------------------------------------------------------------------


def wrk_load(
    port: int,
    seconds: float,
    connections: int = CONNECTIONS,
    script: str | None = None,
    headers: dict[str, str] | None = None,
) -> Load:
    pin = ["taskset", "-c", "1"] if cores() >= 2 and shutil.which("taskset") else []
    command = [
        *pin,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        *(("-s", script) if script else ()),
        *(
            arg
            for k, v in {**REQUEST_HEADERS, **(headers or {})}.items()
            for arg in ("-H", f"{k}: {v}")
        ),
        f"http://127.0.0.1:{port}/status",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def percentile(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Load(rps, percentile("50"), percentile("99"), requests, failed)


def python_load(port: int, seconds: float, connections: int = CONNECTIONS) -> Load:
    """The fallback generator, in its own process: this module's ``load`` command."""
    command = [
        *(sys.executable, "-m", "tests.perf.bench_page", "load"),
        *(str(port), str(seconds), str(connections)),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return Load(**json.loads(out))


async def _python_load(port: int, seconds: float, connections: int = CONNECTIONS) -> Load:
    head = "".join(f"{k}: {v}\r\n" for k, v in REQUEST_HEADERS.items())
    request = f"GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                header = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", header).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not header.startswith(b"HTTP/1.1 200"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return Load(len(latencies) / elapsed, pick(0.5), pick(0.99), len(latencies), errors)


# -- the run -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(port: int) -> str:
    from .bench_snapshot import config_text as page_config

    # Steady state: checks (all at start, then hourly) and snapshot computes (the
    # cold path, measured by bench_snapshot) stay out of the measured seconds.
    monitors = page_config(COMPONENTS).replace('interval = "1m"', 'interval = "1h"')
    return f"""
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "bench.db"
[scheduler]
max_jitter = "0s"
[public]
cache_ttl = "1h"
[public.rate_limit]
requests_per_minute = 1000000000
burst = 1000000000
{monitors}"""


async def seed(config_path: Path) -> None:
    """90 days of results for every monitor (rollups built by the store), then close."""
    from uplight.config import load_config
    from uplight.models import CheckResult, ResultRecord
    from uplight.pages.provisioning import provision_pages
    from uplight.plugins import load_plugins
    from uplight.schema import build_store

    config = load_config(config_path, load_plugins(builtins_only=True).check_types)
    now = dt.datetime.now(dt.UTC)
    async with build_store(config.database_path) as store:
        await provision_pages(store, config, now)
        for monitor in config.monitors:
            for back in range(90, -1, -1):
                for hour in (1, 7, 13, 19):
                    at = now - dt.timedelta(days=back, hours=hour)
                    slow = (back + hour) % 17 == 0
                    result = CheckResult.degraded("slow", 2.0) if slow else CheckResult.up("ok")
                    store.add_result(ResultRecord(monitor.id, at, result))
        await store.flush()


def start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.perf.bench_page", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fetch(port)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server {args[0]} exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server {args[0]} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fetch(port: int, path: str = "/status") -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=REQUEST_HEADERS)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def computes(port: int) -> float:
    """Snapshot computes so far, from the server's own /metrics (open to 127.0.0.1)."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, body = fetch(port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    text = body.decode() if body[:2] != b"\x1f\x8b" else gzip.decompress(body).decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "uplight_page_cache_compute_seconds_count"
    )


def run(quick: bool = False) -> Comparison:
    seconds = 1.0 if quick else 5.0
    rounds = 1 if quick else 3
    generate = wrk_load if shutil.which("wrk") else python_load
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        folder = Path(tmp)
        ports = {
            "uplight": free_port(),
            "quart": free_port(),
            "bare": free_port(),
            "cold": free_port(),
        }
        configs = {name: folder / f"{name}.toml" for name in ("uplight", "quart", "cold")}
        configs["uplight"].write_text(config_text(ports["uplight"]))
        asyncio.run(seed(configs["uplight"]))
        # Each server its own copy of the seeded database: no shared SQLite locks.
        for name in ("quart", "cold"):
            shutil.copy(folder / "bench.db", folder / f"bench-{name}.db")
            text = config_text(ports[name]).replace("bench.db", f"bench-{name}.db")
            if name == "cold":
                text = text.replace('cache_ttl = "1h"', 'cache_ttl = "0s"')
            configs[name].write_text(text)

        servers = {
            "uplight": start(["serve", str(configs["uplight"]), "fast"], ports["uplight"]),
            "quart": start(["serve", str(configs["quart"]), "quart"], ports["quart"]),
            "cold": start(["serve", str(configs["cold"]), "fast"], ports["cold"]),
        }
        try:
            status, headers, body = fetch(ports["uplight"])  # warms the cache, too
            assert status == 200 and ("content-encoding", "gzip") in headers, headers
            answer = folder / "answer.json"
            kept = [(k, v) for k, v in headers if k.lower().encode() not in SKIPPED]
            answer.write_text(json.dumps({"status": status, "headers": kept, "body": body.hex()}))
            servers["bare"] = start(["bare", str(answer), str(ports["bare"])], ports["bare"])
            bare_status, bare_headers, bare_body = fetch(ports["bare"])
            bare_kept = [(k, v) for k, v in bare_headers if k.lower().encode() not in SKIPPED]
            assert (bare_status, bare_kept, bare_body) == (status, kept, body), (
                "not the same answer"
            )
            fetch(ports["quart"])
            # Not byte-compared: a fresh snapshot carries its own generation time.
            cold_status, cold_headers, _ = fetch(ports["cold"])
            assert cold_status == 200 and ("content-encoding", "gzip") in cold_headers, cold_headers

            results: dict[str, list[Load]] = {name: [] for name in ports}
            cold_computes: list[float] = []
            for _ in range(rounds):
                for name in ("uplight", "bare", "quart"):
                    results[name].append(generate(ports[name], seconds))
                before = computes(ports["cold"])
                results["cold"].append(generate(ports["cold"], seconds, 1))
                cold_computes.append(computes(ports["cold"]) - before)
        finally:
            for proc in servers.values():
                stop(proc)

    best = {name: max(loads, key=lambda load: load.rps) for name, loads in results.items()}
    for name, load in best.items():
        if load.errors:
            raise RuntimeError(f"{name}: {load.errors} failed requests: the figures are void")

    def line(label: str, load: Load) -> str:
        return (
            f"{label:<22} {load.rps:>9,.0f} req/s   p50 {load.p50_ms:6.2f} ms"
            f"   p99 {load.p99_ms:6.2f} ms   ({load.requests:,} requests)"
        )

    quart_ratio = best["quart"].rps / best["bare"].rps
    cold_round = max(range(rounds), key=lambda i: results["cold"][i].rps)
    # A figure for "every request computes" only holds if each request did.
    if cold_computes[cold_round] < results["cold"][cold_round].requests:
        raise RuntimeError(
            f"cold: {cold_computes[cold_round]:.0f} computes for"
            f" {results['cold'][cold_round].requests} requests: some were cached"
        )
    return Comparison(
        name="status page (cached)",
        unit="requests/s",
        uplight=best["uplight"].rps,
        bare=best["bare"].rps,
        notes=(
            f"GET /status, Accept-Encoding: gzip ({len(body):,} bytes gzipped), a page of"
            f" {COMPONENTS} components x 90 days; hypercorn, one process each",
            f"generator: {'wrk' if generate is wrk_load else 'python asyncio client'},"
            f" {CONNECTIONS} keep-alive connections, {seconds:.0f} s per run, best of {rounds}"
            f" rounds (alternating); {cores()} cores"
            + (" (server and generator pinned apart)" if cores() >= 2 else ""),
            line("uplight (fast path)", best["uplight"]),
            line("bare ASGI, same bytes", best["bare"]),
            line("uplight, Quart only", best["quart"]),
            line("uplight, cold (0s TTL)", best["cold"]),
            "cold: cache_ttl = 0s, one connection, so every request computes the snapshot"
            " and renders it (checked against the page-cache compute counter)",
            f"fast path / bare = {best['uplight'].rps / best['bare'].rps:.2f};"
            f" Quart only / bare = {quart_ratio:.2f}",
        ),
    )


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "serve":
        serve_uplight(argv[1], fast_path=argv[2] == "fast", loop=(argv[3:] or ["asyncio"])[0])
    elif command == "bare":
        serve_bare(argv[1], int(argv[2]), loop=(argv[3:] or ["asyncio"])[0])
    elif command == "load":
        load = asyncio.run(_python_load(int(argv[1]), float(argv[2]), int(argv[3])))
        print(json.dumps(load.__dict__))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
