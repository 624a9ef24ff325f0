"""Soak: a real ``uplight serve`` process's memory over time, with and without visitors.

Two servers run side by side for the same time, each with 100 HTTP monitors
checked every 5 s against one local target and a page of those 100 components
with 90 days of history:

- traffic: polled as a visitor and Prometheus would: ``/status`` and
  ``/api/public/v1/status.json`` every 10 s (one cache window), the page
  script's ``/status/fragment`` every 30 s, ``/metrics`` every 30 s;
- baseline: the same process with checks only, nobody visiting.

Each server's RSS (``VmRSS``) is sampled every few seconds. Reported: the
timeline, the end RSS of each, and the growth over the last half of the run
(least-squares slope times half the duration, which one outlying sample moves less
than end minus middle). Goals (issue 11): growth in the last half under 5 MB and
RSS under 80 MB, with traffic.

``--quick``: 60 s; default 300 s; ``UPLIGHT_SOAK_SECONDS`` (or
``python -m tests.perf.bench_soak --seconds N``) for a long run. At scale:
``python -m tests.perf.bench_soak --monitors 10000 --interval 60s --shown 100``
(goal: RSS under 150 MB); ``--no-history`` skips seeding 90 days of results. The servers
inherit the environment, so ``MALLOC_ARENA_MAX=8 python -m tests.perf --only soak``
compares an allocator setting (``serve`` caps glibc at 2 arenas and fixes its mmap
threshold unless the environment sets them: ``uplight.memory``).
``--production-imports``: the servers cannot import what only the test extras
install and httpx would import anyway (``rich``, ``pygments``: httpx's optional
command line, about 3.5 MB), as in the Docker image. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .common import Comparison

ROOT = Path(__file__).resolve().parents[2]
MONITORS = 100
INTERVAL = "5s"
SAMPLE_EVERY = 5.0
# (path, period in seconds): what one visitor's browser and one Prometheus ask for.
TRAFFIC: tuple[tuple[str, float], ...] = (
    ("/status", 10.0),
    ("/api/public/v1/status.json", 10.0),
    ("/status/fragment", 30.0),
    ("/metrics", 30.0),
)
GROUPS = ("Web", "APIs", "Data", "Network", "Mail")
GOAL_GROWTH_MB = 5.0
GOAL_RSS_MB = 80.0
GOAL_RSS_10K_MB = 150.0  # the goal for 10,000 monitors (``--monitors 10000``)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)
    requests: int = 0
    errors: int = 0
    cpu_seconds: float = 0.0  # user + system, read at the end of the run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(
    port: int,
    target: str,
    database: str,
    monitors: int = MONITORS,
    interval: str = INTERVAL,
    shown: int | None = None,
) -> str:
    """``shown``: how many of the monitors the page shows (all by default)."""
    parts = [
        f'[server]\nlisten = "127.0.0.1:{port}"\npublic_base_url = "http://127.0.0.1:{port}"\n'
        f'[storage]\npath = "{database}"\n'
        # The generator's polls come from one address, far below any visitor's budget,
        # but it must never see a 429 that would make the run measure less work.
        "[public.rate_limit]\nenabled = false\n"
    ]
    for i in range(monitors):
        parts.append(
            f'[[monitors]]\nid = "m{i}"\nname = "Monitor {i}"\ntype = "http"\n'
            f'url = "{target}{i}"\ninterval = "{interval}"\ntimeout = "2s"\n'
        )
    parts.append('[[pages]]\nslug = "main"\ntitle = "Soak"\n')
    for i in range(monitors if shown is None else min(shown, monitors)):
        group = f'public_group = "{GROUPS[i % len(GROUPS)]}"\n' if i % 7 else ""
        parts.append(
            f'[[pages.components]]\nmonitor = "m{i}"\npublic_name = "Service {i}"\n'
            f"{group}sort_order = {i}\n"
        )
    return "".join(parts)


# -- the target: a tiny HTTP server in this process ---------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    except asyncio.CancelledError:
        # Cancelled at shutdown with a connection still open: Python 3.11's stream
        # server then calls ``exception()`` on the task and logs the CancelledError
        # as an error. Nothing waits for this task's outcome.
        pass
    finally:
        writer.close()


# -- the servers ----------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Imported by httpx (its optional CLI, httpx._main) only when installed, which in a
# dev environment the test extras do (schemathesis, pytest); the image has neither.
DEV_ONLY_IMPORTS = ("rich", "pygments")


def production_env(folder: Path) -> dict[str, str]:
    """The environment with ``DEV_ONLY_IMPORTS`` unimportable (a sitecustomize)."""
    site = folder / "production-imports"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in DEV_ONLY_IMPORTS)
    )
    path = os.pathsep.join(filter(None, (str(site), os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path}


def start_server(
    name: str, config: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> Server:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        cwd=config.parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    return Server(name, port, proc)


async def wait_ready(server: Server, client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name}: uplight serve exited with {server.proc.returncode}")
        try:
            response = await client.get(f"http://127.0.0.1:{server.port}/healthz")
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name}: uplight serve did not start")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


async def poll(server: Server, client: httpx.AsyncClient, path: str, period: float) -> None:
    url = f"http://127.0.0.1:{server.port}{path}"
    while True:
        started = time.monotonic()
        try:
            response = await client.get(url)  # Accept-Encoding: gzip, as a browser sends
            server.requests += 1
            if response.status_code != 200:
                server.errors += 1
        except httpx.HTTPError:
            server.errors += 1
        await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))


async def sample(servers: list[Server], began: float) -> None:
    while True:
        for server in servers:
            server.samples.append((time.monotonic() - began, rss_mb(server.proc.pid)))
        await asyncio.sleep(SAMPLE_EVERY)


async def soak(
    folder: Path,
    seconds: float,
    monitors: int,
    interval: str = INTERVAL,
    shown: int | None = None,
    history: bool = True,
    production: bool = False,
) -> tuple[Server, Server]:
    from .bench_page import seed

    env = production_env(folder) if production else None
    target_server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    target = f"http://127.0.0.1:{target_server.sockets[0].getsockname()[1]}/"
    servers: list[Server] = []
    try:
        for name in ("traffic", "baseline"):
            port = free_port()
            config = folder / f"{name}.toml"
            config.write_text(config_text(port, target, f"{name}.db", monitors, interval, shown))
            if history:  # 90 days of history: the page a visitor sees after months
                await seed(config)
            servers.append(start_server(name, config, port, folder / f"{name}.log", env))
        traffic, baseline = servers
        async with httpx.AsyncClient(timeout=30) as client:
            for server in servers:
                await wait_ready(server, client)
            began = time.monotonic()
            tasks = [asyncio.create_task(sample(servers, began))]
            tasks += [asyncio.create_task(poll(traffic, client, p, s)) for p, s in TRAFFIC]
            try:
                while time.monotonic() - began < seconds:
                    await asyncio.sleep(1)
                    for server in servers:
                        if server.proc.poll() is not None:
                            raise RuntimeError(f"{server.name}: uplight serve exited early")
                for server in servers:  # the last sample at the very end
                    server.samples.append((time.monotonic() - began, rss_mb(server.proc.pid)))
                    server.cpu_seconds = cpu_seconds(server.proc.pid)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        return traffic, baseline
    finally:
        for server in servers:
            stop_server(server)
        target_server.close()
        await target_server.wait_closed()


def slope_per_second(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS (MB) over time (s)."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    num = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    den = sum((t - mean_t) ** 2 for t, _ in samples)
    return num / den if den else 0.0


def last_half(samples: list[tuple[float, float]]) -> list[tuple[float, float]]:
    end = samples[-1][0]
    return [(t, v) for t, v in samples if t >= end / 2]


def growth_mb(samples: list[tuple[float, float]]) -> float:
    half = last_half(samples)
    return slope_per_second(half) * (half[-1][0] - half[0][0]) if len(half) > 1 else 0.0


def timeline(samples: list[tuple[float, float]], points: int = 10) -> str:
    step = max(1, len(samples) // points)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    return " ".join(f"{t:.0f}s:{v:.0f}" for t, v in picked)


def default_seconds(quick: bool) -> float:
    env = os.environ.get("UPLIGHT_SOAK_SECONDS")
    if env:
        return float(env)
    return 60.0 if quick else 300.0


def run(
    quick: bool = False,
    seconds: float | None = None,
    monitors: int = MONITORS,
    interval: str = INTERVAL,
    shown: int | None = None,
    history: bool = True,
    production: bool = False,
) -> Comparison:
    seconds = default_seconds(quick) if seconds is None else seconds
    with tempfile.TemporaryDirectory(prefix="uplight-soak-") as tmp:
        traffic, baseline = asyncio.run(
            soak(Path(tmp), seconds, monitors, interval, shown, history, production)
        )
    if traffic.errors:
        raise RuntimeError(f"{traffic.errors} of {traffic.requests} polls failed: figures void")

    def describe(server: Server) -> list[str]:
        half = last_half(server.samples)
        per_minute = slope_per_second(half) * 60
        peak = max(v for _, v in server.samples)
        return [
            f"{server.name}: RSS MB over time {timeline(server.samples)}",
            f"{server.name}: start {server.samples[0][1]:.1f} MB, peak {peak:.1f},"
            f" end {server.samples[-1][1]:.1f}; last half: {growth_mb(server.samples):+.1f} MB"
            f" ({per_minute:+.2f} MB/min); CPU {server.cpu_seconds:.1f} s in all",
        ]

    grown = growth_mb(traffic.samples)
    end = traffic.samples[-1][1]
    allocator = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    goal_rss = GOAL_RSS_MB if monitors <= MONITORS else GOAL_RSS_10K_MB
    verdict = "met" if grown < GOAL_GROWTH_MB and end < goal_rss else "NOT met"
    page = monitors if shown is None else min(shown, monitors)
    return Comparison(
        name="soak RSS (traffic)",
        unit="MB",
        uplight=end,
        bare=baseline.samples[-1][1],
        lower_is_better=True,
        notes=(
            f"{monitors} HTTP monitors every {interval} against a local target, a page of"
            f" {page} components {'x 90 days' if history else '(no history)'};"
            f" {seconds:.0f} s, sampled every {SAMPLE_EVERY:.0f} s",
            "traffic: "
            + ", ".join(f"{path} every {period:.0f} s" for path, period in TRAFFIC)
            + f" ({traffic.requests} requests); baseline: the same server, no visitors",
            *describe(traffic),
            *describe(baseline),
            f"goal (last-half growth < {GOAL_GROWTH_MB:.0f} MB, RSS < {goal_rss:.0f} MB"
            f" with traffic): {verdict}",
            *([f"allocator: {allocator}"] if allocator else []),
            *(
                [f"production imports: {', '.join(DEV_ONLY_IMPORTS)} not importable"]
                if production
                else []
            ),
            "ratio = baseline RSS / traffic RSS at the end",
        ),
    )


def main(argv: list[str] | None = None) -> int:
    from .common import machine_facts, print_facts, print_notes, print_table

    parser = argparse.ArgumentParser(prog="python -m tests.perf.bench_soak", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="60 s")
    parser.add_argument("--seconds", type=float, help="how long to soak (default 300)")
    parser.add_argument("--monitors", type=int, default=MONITORS)
    parser.add_argument("--interval", default=INTERVAL, help=f"each monitor's (default {INTERVAL})")
    parser.add_argument("--shown", type=int, help="components on the page (default: all)")
    parser.add_argument("--no-history", action="store_true", help="skip seeding 90 days of results")
    parser.add_argument(
        "--production-imports",
        action="store_true",
        help=f"servers without the dev-only {', '.join(DEV_ONLY_IMPORTS)} (as in the image)",
    )
    args = parser.parse_args(argv)
    print_facts(machine_facts())
    result = run(
        args.quick,
        args.seconds,
        args.monitors,
        args.interval,
        args.shown,
        history=not args.no_history,
        production=args.production_imports,
    )
    print_notes(result)
    print()
    print_table([result])
    return 0


if __name__ == "__main__":
    sys.exit(main())
