"""Nothing acknowledged is lost: a 2xx write survives SIGKILL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from helpers import free_port

CONFIG = """
[server]
listen = "127.0.0.1:{port}"
[storage]
path = "uplight.db"
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:{dead}/"
interval = "1h"
timeout = "1s"
"""


def start(config: Path, base: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/healthz")
            return proc
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("server did not start") from None
            time.sleep(0.05)


def test_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=port, dead=free_port()))
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "uplight",
            "token",
            "create",
            "--name",
            "t",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    body = {
        "title": "Disk swap",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=1)).isoformat(),
        "component_ids": ["web"],
    }

    proc = start(config, base)
    try:
        created = httpx.post(f"{base}/api/v1/maintenance", json=body, headers=auth)
        assert created.status_code == 201, created.text
        window_id = created.json()["id"]
        proc.send_signal(signal.SIGKILL)  # no shutdown hooks, no flush
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    proc = start(config, base)
    try:
        again = httpx.get(f"{base}/api/v1/maintenance/{window_id}", headers=auth)
        assert again.status_code == 200
        assert again.json()["title"] == "Disk swap"
        assert again.json()["component_ids"] == ["web"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
