"""Heartbeat pings accepted per second through the real app, against a bare route on the
same server.

One ``uplight serve``-like process (``create_app`` under hypercorn, as
``bench_page`` runs it) with eight push monitors. The load generator, in a process
of its own (pinned apart from the server when there are two cores), sends
``GET /ping/<token>`` over keep-alive connections, each connection pinging one of
the monitors as a busy cron host would; then, in the same server, ``GET /healthz``,
a Quart route that answers a constant: the ceiling of a request through the app.
Rounds alternate, best of three. A ping is only counted once the server answered
``200 OK``, which means: rate-limited (per client and per monitor, with budgets the
run cannot exhaust), looked up by the token's digest, judged by the ``push`` check
type, its state saved in the database (one awaited write transaction) and its result
handed to every listener (store buffer, statistics, incident engine,
notifications). The run then checks the server's own ``/metrics`` counted them all.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_page import Load, fetch, free_port, start, stop
from .common import Comparison, cores

ROOT = Path(__file__).resolve().parents[2]
MONITORS = 8
CONNECTIONS = 32


def token(index: int) -> str:
    return f"bench-heartbeat-token-{index:04d}"


def config_text(port: int) -> str:
    monitors = "".join(
        f"""
[[monitors]]
id = "job-{n}"
name = "Job {n}"
type = "push"
token = "{token(n)}"
period = "1h"
interval = "1h"
"""
        for n in range(MONITORS)
    )
    return f"""
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "bench.db"
[public.rate_limit]
requests_per_minute = 1000000000
burst = 1000000000
{monitors}"""


# -- the load generator (its own process) -------------------------------------------------


def load(port: int, seconds: float, paths: list[str], connections: int = CONNECTIONS) -> Load:
    pin = ["taskset", "-c", "1"] if cores() >= 2 else []
    command = [
        *pin,
        *(sys.executable, "-m", "tests.perf.bench_ping", "load"),
        *(str(port), str(seconds), str(connections), *paths),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return Load(**json.loads(out))


async def _load(port: int, seconds: float, connections: int, paths: list[str]) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def connection(path: str) -> None:
        nonlocal errors
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
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
    await asyncio.gather(*(connection(paths[i % len(paths)]) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return Load(len(latencies) / elapsed, pick(0.5), pick(0.99), len(latencies), errors)


def recorded(port: int) -> float:
    """Results the server recorded for the push monitors, from its own /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, body = fetch(port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "uplight_checks_total" and sample.labels.get("type") == "push"
    )


# -- the run -----------------------------------------------------------------------------------


def run(quick: bool = False) -> Comparison:
    seconds = 1.0 if quick else 5.0
    rounds = 1 if quick else 3
    pings = [f"/ping/{token(n)}" for n in range(MONITORS)]
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as tmp:
        config = Path(tmp) / "uplight.toml"
        port = free_port()
        config.write_text(config_text(port))
        server = start(["serve", str(config), "fast"], port)
        try:
            for path in (pings[0], "/healthz"):
                status, _, body = fetch(port, path)
                assert status == 200, f"{path} answered {status}: {body[:200]!r}"
            before = recorded(port)
            results: dict[str, list[Load]] = {"ping": [], "bare": []}
            for _ in range(rounds):
                results["ping"].append(load(port, seconds, pings))
                results["bare"].append(load(port, seconds, ["/healthz"]))
            counted = recorded(port) - before
        finally:
            stop(server)
    sent = sum(load.requests for load in results["ping"])
    if any(load.errors for loads in results.values() for load in loads):
        raise RuntimeError("some requests failed: the figures are void")
    if counted < sent:
        raise RuntimeError(f"{sent} pings answered but {counted:.0f} results recorded")
    best = {name: max(loads, key=lambda load: load.rps) for name, loads in results.items()}

    def line(label: str, load: Load) -> str:
        return (
            f"{label:<26} {load.rps:>8,.0f} req/s   p50 {load.p50_ms:6.2f} ms"
            f"   p99 {load.p99_ms:6.2f} ms   ({load.requests:,} requests)"
        )

    return Comparison(
        name="heartbeat pings",
        unit="pings/s",
        uplight=best["ping"].rps,
        bare=best["bare"].rps,
        notes=(
            f"GET /ping/<token> to {MONITORS} push monitors vs GET /healthz, the same"
            " uplight process under hypercorn",
            f"python asyncio client, {CONNECTIONS} keep-alive connections, {seconds:.0f} s per"
            f" run, best of {rounds} rounds (alternating); {cores()} cores"
            + (" (server and generator pinned apart)" if cores() >= 2 else ""),
            line("pings (saved, recorded)", best["ping"]),
            line("GET /healthz", best["bare"]),
            f"every ping answered 200 was recorded: {counted:,.0f} results for {sent:,} pings",
        ),
    )


def main(argv: list[str]) -> None:
    if argv[0] != "load":
        raise SystemExit(f"unknown command {argv[0]!r}")
    port, seconds, connections = int(argv[1]), float(argv[2]), int(argv[3])
    result = asyncio.run(_load(port, seconds, connections, argv[4:]))
    print(json.dumps(result.__dict__))


if __name__ == "__main__":
    main(sys.argv[1:])
