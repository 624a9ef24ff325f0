"""Results accepted per second through the probe API, against the local writer.

uplight: a real ``uplight serve`` process with 50 monitors checked from one probe
location (``locations = ["bench"]``); this process, as a probe would, POSTs batches of
500 results to ``/api/v1/probe/results`` over one keep-alive connection with a probe
token. A result counts once the server answered 200: checked against the assignment and
the clock-skew rule, stored in ``location_results`` (one awaited write transaction per
batch), joined, and the joined result handed to every listener (the writer's buffer,
statistics, incident engine, notifications). The run then counts the stored rows.

bare: the same number of results handed to the local writer (``Store.add_result`` and
its flushes), as the scheduler hands on the server's own checks (``bench_store``).
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .bench_page import free_port
from .bench_store import make_records, store_ingest
from .common import Comparison

ROOT = Path(__file__).resolve().parents[2]
MONITORS = 50
BATCH = 500


def config_text(port: int) -> str:
    monitors = "".join(
        f'\n[[monitors]]\nid = "m{n}"\nname = "M{n}"\ntype = "http"\n'
        f'url = "http://127.0.0.1:9/"\ninterval = "1h"\nlocations = ["bench"]\n'
        for n in range(MONITORS)
    )
    return f'[server]\nlisten = "127.0.0.1:{port}"\n[storage]\npath = "bench.db"\n{monitors}'


def _uplight(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "uplight", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def probe_rate(tmp: Path, count: int) -> float:
    port = free_port()
    config = tmp / "config.toml"
    config.write_text(config_text(port))
    created = _uplight(
        "token", "create", "--name", "bench", "--probe", "--config", str(config), cwd=tmp
    )
    token = created.communicate()[0].strip()
    server = _uplight("serve", "--config", str(config), "--log-level", "warning", cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("uplight serve did not start") from None
                time.sleep(0.05)
        now = dt.datetime.now(dt.UTC)
        bodies = []
        for offset in range(0, count, BATCH):
            items = [
                {
                    "id": f"r{i}",
                    "monitor_id": f"m{i % MONITORS}",
                    "checked_at": (now + dt.timedelta(milliseconds=i)).isoformat(),
                    "status": "up" if i % 20 else "down",
                    "latency": 0.05,
                    "message": "200 OK",
                }
                for i in range(offset, min(count, offset + BATCH))
            ]
            bodies.append(httpx.Request("POST", "/", json={"results": items}).content)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            started = time.perf_counter()
            accepted = 0
            for body in bodies:
                response = client.post("/api/v1/probe/results", content=body)
                assert response.status_code == 200, response.text
                accepted += response.json()["accepted"]
            elapsed = time.perf_counter() - started
        assert accepted == count, accepted
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    with sqlite3.connect(tmp / "bench.db") as db:
        stored = db.execute("SELECT COUNT(*) FROM location_results").fetchone()[0]
    assert stored == count, stored
    return count / elapsed


def run(quick: bool = False) -> Comparison:
    count = 5_000 if quick else 50_000
    repeats = 1 if quick else 3
    probe, local = [], []
    with tempfile.TemporaryDirectory(prefix="uplight-bench-") as name:
        for attempt in range(repeats):
            run_dir = Path(name) / f"probe-{attempt}"
            run_dir.mkdir()
            probe.append(probe_rate(run_dir, count))
            elapsed, _ = asyncio.run(
                store_ingest(Path(name) / f"local-{attempt}.db", make_records(count))
            )
            local.append(count / elapsed)
    return Comparison(
        name="probe results",
        unit="results/s",
        uplight=max(probe),
        bare=max(local),
        notes=(
            f"{count:,} results across {MONITORS} monitors in batches of {BATCH}, best of {repeats}",
            "uplight: POST /api/v1/probe/results to a real uplight serve (stored with their"
            " location, joined, the joined result to the writer and every listener)",
            "bare: the same number handed to the local writer (Store.add_result + flushes)",
        ),
    )
