"""`uplight serve` end to end: a real process, a real target, SIGTERM."""

from __future__ import annotations

import http.server
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import free_port, wait_until


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the target"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def write_config(tmp_path: Path, port: int, target: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:{port}"
public_base_url = "http://127.0.0.1:{port}"
[storage]
path = "state/uplight.db"
[scheduler]
max_jitter = "0s"
[public]
cache_ttl = "500ms"       # the test polls for fresh results
[public.rate_limit]
enabled = false           # ... faster than a visitor's budget allows
[[monitors]]
id = "target"
name = "Target"
type = "http"
interval = "1s"
timeout = "1s"
url = "{target}"
body_contains = "hello"
[[monitors]]
id = "nothing-there"
name = "Nothing there"
type = "http"
interval = "1s"
timeout = "1s"
url = "http://127.0.0.1:{free_port()}/"
[[pages]]
slug = "main"
title = "Serve test"
[[pages.components]]
monitor = "target"
public_name = "The Target"
[[pages.components]]
monitor = "nothing-there"
public_name = "Dead End"
"""
    )
    return path


def test_serve_end_to_end(tmp_path: Path, target: str) -> None:
    port = free_port()
    config = write_config(tmp_path, port, target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").json()["status"] == "ok")

        def page_shows_both() -> bool:
            html = httpx.get(f"{base}/status").text
            return 'data-status="operational"' in html and 'data-status="major_outage"' in html

        wait_until(page_shows_both)
        html = httpx.get(f"{base}/status").text
        assert "The Target" in html and "Dead End" in html
        assert "Partial Outage" in html
        assert target not in html  # the monitor's URL never reaches the page
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    db = sqlite3.connect(tmp_path / "state" / "uplight.db")
    rows = dict(db.execute("SELECT monitor_id, count(*) FROM results GROUP BY monitor_id"))
    statuses = dict(
        db.execute(
            "SELECT monitor_id, group_concat(DISTINCT status) FROM results GROUP BY monitor_id"
        )
    )
    assert rows["target"] >= 1 and rows["nothing-there"] >= 1
    assert statuses == {"target": "up", "nothing-there": "down"}
    rollups = dict(
        db.execute("SELECT monitor_id, sum(checks_total) FROM daily_rollups GROUP BY monitor_id")
    )
    assert rollups == rows  # every stored result was flushed and rolled up before exit


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[monitors]]\nid = "x"\nname = "X"\ntype = "http"\nurl = "nope"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "monitors[0].url" in proc.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def test_check_config_command(tmp_path: Path) -> None:
    good = Path(__file__).parents[2] / "config.example.toml"
    ok = subprocess.run(
        [sys.executable, "-m", "uplight", "check-config", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "OK" in ok.stdout and ok.stdout.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\nretention_days = 'x'\n[[pages]]\nslug = 'BAD'\ntitle = 't'\n")
    fail = subprocess.run(
        [sys.executable, "-m", "uplight", "check-config", str(bad)], capture_output=True, text=True
    )
    assert fail.returncode == 1
    assert "storage.retention_days" in fail.stderr and "pages[0].slug" in fail.stderr


def test_sighup_reloads_a_valid_config_and_refuses_a_bad_one(tmp_path: Path, target: str) -> None:
    port = free_port()
    config = write_config(tmp_path, port, target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: "The Target" in httpx.get(f"{base}/status").text)
        config.write_text(config.read_text().replace('title = "Serve test"', 'title = "Renamed"'))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "Renamed" in httpx.get(f"{base}/status").text)

        good = config.read_text()
        config.write_text(good.replace('interval = "1s"', 'interval = "soon"', 1))
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert "Renamed" in httpx.get(f"{base}/status").text  # still serving the last good config
        assert httpx.get(f"{base}/healthz").status_code == 200
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "config reloaded" in output
    assert "reload refused" in output and "monitors[0].interval" in output
    assert "Traceback" not in output


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, target: str) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = write_config(tmp_path, port, target)
        proc = subprocess.run(
            [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
    assert f"server.listen: cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unusable_database_path_is_a_clear_error(tmp_path: Path, target: str) -> None:
    config = write_config(tmp_path, free_port(), target)
    (tmp_path / "state").write_text("a file where the database folder should be")
    proc = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "storage.path: cannot open" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigterm_exits_even_when_a_check_ignores_cancellation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "uplight_stubborn-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: uplight-stubborn\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[uplight]\nstubborn = uplight_stubborn\n")
    plugins = Path(__file__).parents[1] / "plugins"
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\n[scheduler]\nmax_jitter = "0s"\n'
        '[[monitors]]\nid = "stuck"\nname = "Stuck"\ntype = "stubborn"\n'
        'interval = "1s"\ntimeout = "1s"\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(plugins)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
        time.sleep(2.5)  # the check has timed out and been abandoned at least once
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
