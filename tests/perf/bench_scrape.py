"""Scrape: ``/metrics`` at 10,000 monitors while ``/healthz`` is polled.

A real app under hypercorn in its own process, with 10,000 HTTP monitors whose
scheduler is stopped at start-up and whose check statistics are synthetic
(three results each, with latencies and HTTP phases), so every per-monitor
series has a value and no check runs. Only 127.0.0.1 is contacted.

The load generator polls ``/healthz`` every 10 ms on one connection, first
alone (the baseline), then while a second connection fetches ``/metrics`` back
to back (Prometheus's format, gzip not asked for). Compared, in the same run:

- uplight: the exposition built off the event loop (``web/metrics.py``),
  with ``per_monitor_histograms`` on (the default) and off;
- on the loop: the same server with the build moved back onto the event loop,
  as before issue 11 (the bench patches ``Exposition.render``), for the ratio.

Reported: ``/healthz`` p50/p99/max alone and during scrapes, scrape time and
size, and the ratio of the p99s. ``--quick``: 2,000 monitors, shorter phases.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import Comparison, cores

ROOT = Path(__file__).resolve().parents[2]
MONITORS = 10_000
POLL_EVERY = 0.01


@dataclass(frozen=True)
class Phase:
    p50_ms: float
    p99_ms: float
    max_ms: float
    polls: int
    scrapes: int = 0
    scrape_ms: float = 0.0
    scrape_bytes: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(port: int, monitors: int, histograms: bool) -> str:
    parts = [
        f'[server]\nlisten = "127.0.0.1:{port}"\npublic_base_url = "http://127.0.0.1:{port}"\n'
        '[storage]\npath = "scrape.db"\n'
        f"[metrics]\nper_monitor_histograms = {'true' if histograms else 'false'}\n"
    ]
    # Port 9 (discard) on loopback: nothing is ever sent, the scheduler is stopped.
    parts += [
        f'[[monitors]]\nid = "m{i}"\nname = "Monitor {i}"\ntype = "http"\n'
        f'url = "http://127.0.0.1:9/{i}"\ninterval = "1h"\ntimeout = "5s"\n'
        for i in range(monitors)
    ]
    return "".join(parts)


# -- the server (a child process) ------------------------------------------------------


def serve(config_path: str, mode: str) -> None:
    import datetime as dt

    from uplight.config import load_config
    from uplight.models import CheckResult, CheckStatus, ResultRecord
    from uplight.plugins import load_plugins
    from uplight.web import create_app
    from uplight.web.context import EXTENSION
    from uplight.web.metrics import Exposition
    from uplight.web.serve import hypercorn_config

    if cores() >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    if mode == "onloop":
        from prometheus_client.exposition import choose_encoder

        async def on_the_loop(self: Exposition, accept: str) -> tuple[bytes, str]:
            # As before issue 11: families and text built by the handler, on the loop.
            encoder, content_type = choose_encoder(accept)
            facts = self.collector.freeze()
            scrape = type("Scrape", (), {})()
            scrape.collect = lambda: [*self.collector.families(facts), *self.others.collect()]
            return encoder(scrape), content_type

        Exposition.render = on_the_loop  # type: ignore[method-assign]

    registry = load_plugins(builtins_only=True)
    config = load_config(config_path, registry.check_types)
    app = create_app(config, registry)

    @app.before_serving
    async def synthetic() -> None:
        rt = app.extensions[EXTENSION]
        await rt.scheduler.stop()
        now = dt.datetime.now(dt.UTC)
        phases = {"connect": 0.001, "ttfb": 0.004, "transfer": 0.0005}
        for n, monitor in enumerate(config.monitors):
            for k, latency in enumerate((0.004, 0.02, 0.3)):
                status = CheckStatus.DOWN if (n + k) % 97 == 0 else CheckStatus.UP
                result = CheckResult(status, latency, "ok", {"phases": phases})
                rt.check_stats.observe(monitor, ResultRecord(monitor.id, now, result))

    asyncio.run(_run(app, hypercorn_config(config)))


async def _run(app: Any, config: Any) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)


# -- the load generator --------------------------------------------------------------------


async def _request(port: int, path: str) -> tuple[float, int]:
    """One GET on a fresh connection: (seconds, body bytes)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        body = await reader.read()
    finally:
        writer.close()
    if not body.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {body[:80]!r}")
    return time.perf_counter() - started, len(body)


async def phase(port: int, seconds: float, scraping: bool) -> Phase:
    polls: list[float] = []
    scrapes: list[tuple[float, int]] = []
    deadline = time.perf_counter() + seconds

    async def poll() -> None:
        while time.perf_counter() < deadline:
            took, _ = await _request(port, "/healthz")
            polls.append(took)
            await asyncio.sleep(POLL_EVERY)

    async def scrape() -> None:
        while time.perf_counter() < deadline:
            scrapes.append(await _request(port, "/metrics"))

    await asyncio.gather(poll(), *([scrape()] if scraping else []))
    polls.sort()
    return Phase(
        p50_ms=statistics.median(polls) * 1000,
        p99_ms=polls[min(len(polls) - 1, int(0.99 * len(polls)))] * 1000,
        max_ms=polls[-1] * 1000,
        polls=len(polls),
        scrapes=len(scrapes),
        scrape_ms=statistics.median(t for t, _ in scrapes) * 1000 if scrapes else 0.0,
        scrape_bytes=scrapes[-1][1] if scrapes else 0,
    )


def start(config: Path, mode: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.perf.bench_scrape", "serve", str(config), mode],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            asyncio.run(_request(port, "/healthz"))
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"scrape server exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("scrape server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(folder: Path, monitors: int, mode: str, seconds: float) -> tuple[Phase, Phase]:
    port = free_port()
    config = folder / f"{mode}.toml"
    config.write_text(config_text(port, monitors, histograms=mode != "lean"))
    proc = start(config, mode, port)
    try:
        asyncio.run(_request(port, "/metrics"))  # warm: the first scrape imports and allocates
        alone = asyncio.run(phase(port, seconds, scraping=False))
        during = asyncio.run(phase(port, seconds, scraping=True))
    finally:
        stop(proc)
    return alone, during


def run(quick: bool = False) -> Comparison:
    monitors = 2_000 if quick else MONITORS
    seconds = 4.0 if quick else 12.0
    results: dict[str, tuple[Phase, Phase]] = {}
    with tempfile.TemporaryDirectory(prefix="uplight-scrape-") as tmp:
        for mode in ("offloop", "lean", "onloop"):
            results[mode] = measure(Path(tmp), monitors, mode, seconds)

    def line(label: str, p: Phase) -> str:
        text = (
            f"{label:<34} healthz p50 {p.p50_ms:7.1f} ms  p99 {p.p99_ms:7.1f} ms"
            f"  max {p.max_ms:7.1f} ms  ({p.polls} polls)"
        )
        if p.scrapes:
            text += f"; {p.scrapes} scrapes, {p.scrape_ms:,.0f} ms, {p.scrape_bytes / 1e6:.1f} MB"
        return text

    off_alone, off_during = results["offloop"]
    on_alone, on_during = results["onloop"]
    lean_alone, lean_during = results["lean"]
    return Comparison(
        name="healthz p99 during /metrics scrapes",
        unit="ms",
        uplight=off_during.p99_ms,
        bare=off_alone.p99_ms,
        lower_is_better=True,
        notes=(
            f"{monitors:,} http monitors, synthetic statistics (scheduler stopped);"
            f" /healthz every {POLL_EVERY * 1000:.0f} ms, {seconds:.0f} s alone, then"
            f" {seconds:.0f} s with /metrics fetched back to back; {cores()} cores"
            + (" (server pinned to one)" if cores() >= 2 else ""),
            line("off the loop: alone", off_alone),
            line("off the loop: during scrapes", off_during),
            line("per_monitor_histograms=false: alone", lean_alone),
            line("per_monitor_histograms=false: during", lean_during),
            line("on the loop (before): alone", on_alone),
            line("on the loop (before): during", on_during),
            f"p99 during / alone: off the loop {off_during.p99_ms / off_alone.p99_ms:.1f}x,"
            f" on the loop {on_during.p99_ms / on_alone.p99_ms:.1f}x",
            "ratio = healthz p99 alone / p99 during scrapes (off the loop)",
        ),
    )


def main(argv: list[str]) -> None:
    if argv and argv[0] == "serve":
        serve(argv[1], argv[2])
        return
    from .common import machine_facts, print_facts, print_notes, print_table

    print_facts(machine_facts())
    result = run("--quick" in argv)
    print_notes(result)
    print()
    print_table([result])


if __name__ == "__main__":
    main(sys.argv[1:])
