"""`uplight serve` end to end: a real process, a real target, SIGTERM."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import create_token, free_port, wait_until
from stored import stored_results


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
    stored = stored_results(tmp_path / "state" / "uplight.db")
    rows = Counter(r.monitor_id for r in stored)
    statuses = {
        r.monitor_id: {r2.result.status.value for r2 in stored if r2.monitor_id == r.monitor_id}
        for r in stored
    }
    assert rows["target"] >= 1 and rows["nothing-there"] >= 1
    assert statuses == {"target": {"up"}, "nothing-there": {"down"}}
    db = sqlite3.connect(tmp_path / "state" / "uplight.db")
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


def test_a_database_another_process_locks_is_a_clear_error_and_an_exit(
    tmp_path: Path, target: str
) -> None:
    """A start that fails (here: another process holds the database's write lock
    past the busy timeout) ends the process with status 1 and says why; it does
    not go on serving an app with nothing behind it until someone kills it."""
    config = write_config(tmp_path, free_port(), target)
    (tmp_path / "state").mkdir()
    holder = sqlite3.connect(tmp_path / "state" / "uplight.db", isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("BEGIN EXCLUSIVE")
        proc = subprocess.run(
            [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert proc.returncode == 1, proc.stderr
    assert "uplight could not start (database " in proc.stderr
    assert "database is locked" in proc.stderr


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


def test_sighup_never_moves_the_database_nor_the_port(tmp_path: Path, target: str) -> None:
    """Issue 10, points 5 and 6: a truncated, undecodable or restart-only reload changes
    nothing; one that removes every monitor says how many."""
    port = free_port()
    config = write_config(tmp_path, port, target)
    good = config.read_text()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"

    def reload_with(data: bytes, logged: str) -> None:
        before = log.read_text().count(logged)
        config.write_bytes(data)
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log.read_text().count(logged) > before)

    def still_serving_the_first_config() -> None:
        assert "Serve test" in httpx.get(f"{base}/status").text
        assert httpx.get(f"{base}/healthz").status_code == 200

    try:
        wait_until(lambda: "The Target" in httpx.get(f"{base}/status").text)
        reload_with(b"", "the file is empty")  # an editor caught mid-save
        still_serving_the_first_config()
        reload_with(b"# nothing yet\n\n", "the file is empty or only comments")
        reload_with(good.encode() + b"# caf\xe9\n", "not UTF-8 text: byte 0xe9")
        still_serving_the_first_config()
        moved = good.replace("state/uplight.db", "state/other.db").replace("Serve test", "Moved")
        reload_with(moved.encode(), "storage.path: changed from state/uplight.db")
        rebound = good.replace(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}", 1)
        reload_with(rebound.replace("Serve test", "Moved").encode(), "server.listen: changed")
        still_serving_the_first_config()
        assert not (tmp_path / "state" / "other.db").exists()

        # A byte-order mark is no error; a config without monitors is applied, loudly.
        empty = good[: good.index("[[monitors]]")] + '[[pages]]\nslug = "main"\ntitle = "Bare"\n'
        reload_with(b"\xef\xbb\xbf" + empty.encode(), "config reloaded")
        assert "Bare" in httpx.get(f"{base}/status").text
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "never retrieved" not in output, output
    assert "this reload removes all 2 monitors" in output
    refused = [line for line in output.splitlines() if "reload refused" in line]
    assert len(refused) == 5, output
    assert output.count("restart uplight") == 2, output


def test_an_undecodable_config_is_one_line_and_a_bom_is_accepted(tmp_path: Path) -> None:
    good = (Path(__file__).parents[2] / "config.example.toml").read_text()
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(good.encode() + b"\n# caf\xe9\n")
    for command in (["check-config", str(bad)], ["serve", "--config", str(bad)]):
        proc = subprocess.run(
            [sys.executable, "-m", "uplight", *command], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 1
        assert proc.stderr.startswith(f"{bad}: not UTF-8 text: byte 0xe9 at line ")
        assert proc.stderr.count("\n") == 1, proc.stderr
    with_bom = tmp_path / "bom.toml"
    with_bom.write_bytes(b"\xef\xbb\xbf" + good.replace("data/uplight.db", "u.db").encode())
    ok = subprocess.run(
        [sys.executable, "-m", "uplight", "check-config", str(with_bom)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stderr


def test_check_config_refuses_a_database_path_serve_would_refuse(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\npath = "/proc/u.db"\n')
    for command in (["check-config", str(config)], ["serve", "--config", str(config)]):
        proc = subprocess.run(
            [sys.executable, "-m", "uplight", *command], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 1, proc.stdout
        assert "storage.path: cannot open /proc/u.db" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_an_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config), "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "argument --log-level: invalid choice: 'loud'" in proc.stderr
    assert "Traceback" not in proc.stderr
    from_env = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "UPLIGHT_LOG_LEVEL": "loud"},
    )
    assert from_env.returncode == 2
    assert from_env.stderr.startswith("error: UPLIGHT_LOG_LEVEL='loud': use one of debug")
    assert from_env.stderr.count("\n") == 1


# -- issue 10, points 1 and 2: plugins that misbehave in a real `uplight serve` ----------------

MISBEHAVING = Path(__file__).parents[1] / "plugins"


def misbehaving_config(tmp_path: Path, port: int, monitors: str, scheduler: str = "") -> Path:
    """A config whose monitors use the check types of tests/plugins/uplight_misbehaving.py."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\n[storage]\npath = "uplight.db"\n'
        f'[scheduler]\nmax_jitter = "0s"\n{scheduler}\n'
        "[public.rate_limit]\nenabled = false\n" + monitors
    )
    return config


@pytest.fixture
def misbehaving_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The misbehaving plugin installed for every `uplight` command the test runs: an
    entry point on PYTHONPATH."""
    site = tmp_path / "site"
    info = site / "uplight_misbehaving-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: uplight-misbehaving\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text("[uplight]\nmisbehaving = uplight_misbehaving\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(MISBEHAVING)]))


@contextlib.contextmanager
def serving_misbehaving(config: Path, port: int) -> Iterator[tuple[str, Path]]:
    """`uplight serve` (with ``misbehaving_installed``); yields the base URL and the log.
    On exit: SIGTERM, exit 0, and no traceback in the log."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = config.parent / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, timeout=30)
        yield base, log
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "never retrieved" not in output, output


def results(config: Path) -> dict[str, list[tuple[str, str | None, str]]]:
    """Each monitor's stored results: (status, error reason, message), oldest first."""
    found: dict[str, list[tuple[str, str | None, str]]] = {}
    for r in stored_results(config.parent / "uplight.db"):
        found.setdefault(r.monitor_id, []).append(
            (r.result.status.value, r.error_reason, r.result.message)
        )
    return found


def test_a_check_calling_sys_exit_costs_only_its_own_results(
    tmp_path: Path, target: str, misbehaving_installed: None
) -> None:
    """Point 1: the service keeps serving, results keep flowing, SIGTERM still flushes."""
    port = free_port()
    config = misbehaving_config(
        tmp_path,
        port,
        f'[[monitors]]\nid = "target"\nname = "Target"\ntype = "http"\nurl = "{target}"\n'
        'interval = "1s"\ntimeout = "1s"\n'
        '[[monitors]]\nid = "exits"\nname = "Exits"\ntype = "exiting"\n'
        'interval = "1s"\ntimeout = "1s"\n',
    )
    with serving_misbehaving(config, port) as (base, _):
        for _ in range(3):  # /healthz answers all along, between the exits
            assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
            time.sleep(1.0)
        wait_until(lambda: all(len(results(config).get(m, [])) >= 3 for m in ("target", "exits")))
        metrics = httpx.get(f"{base}/metrics").text
        assert 'uplight_check_errors_total{reason="exception",type="exiting"}' in metrics
    stored = results(config)
    assert {row[0] for row in stored["target"]} == {"up"}
    assert set(stored["exits"]) == {
        ("down", "exception", "check plugin 'exiting' failed: SystemExit: 3")
    }
    with contextlib.closing(sqlite3.connect(config.parent / "uplight.db")) as db:
        rollups = dict(
            db.execute("SELECT monitor_id, sum(checks_total) FROM daily_rollups GROUP BY 1")
        )
    assert rollups == {m: len(rows) for m, rows in stored.items()}  # flushed on SIGTERM


BLOCKED = (
    '[[monitors]]\nid = "api"\nname = "API"\ntype = "patient"\ninterval = "2s"\ntimeout = "1s"\n'
    '[[monitors]]\nid = "slow"\nname = "Slow"\ntype = "blocking"\ninterval = "4s"\n'
    'timeout = "1s"\nseconds = 2.0\n'
)


def test_a_blocking_check_is_named_and_costs_no_other_monitor(
    tmp_path: Path, misbehaving_installed: None
) -> None:
    """Point 2: the check that held the loop 2 s is down and named in the log, on
    /metrics and on the dashboard; the healthy monitor it held up is never down."""
    port = free_port()
    config = misbehaving_config(tmp_path, port, BLOCKED)
    token = create_token(config)
    with serving_misbehaving(config, port) as (base, log):
        wait_until(lambda: len(results(config).get("slow", [])) >= 2, timeout=30)
        metrics = httpx.get(f"{base}/metrics").text
        dashboard = httpx.get(
            f"{base}/api/v1/health/dashboard", headers={"Authorization": f"Bearer {token}"}
        ).json()
    stored = results(config)
    assert stored["api"] and {row[0] for row in stored["api"]} == {"up"}, stored["api"]
    assert set(stored["slow"]) == {
        (
            "down",
            "timeout",
            "blocking check did not finish within 1s: it held the event loop for 2.0s",
        )
    }
    output = log.read_text()
    assert "monitor slow (check type 'blocking') held the event loop for 2.0" in output
    stalls = [
        float(line.rpartition(" ")[2])
        for line in metrics.splitlines()
        if line.startswith('uplight_event_loop_stalls_total{type="blocking"}')
    ]
    assert stalls and stalls[0] >= 2
    assert 'uplight_event_loop_stalls_total{type="patient"} 0.0' in metrics
    recent = dashboard["scheduler"]["recent_stalls"]
    assert {(s["monitor"], s["type"]) for s in recent if s["type"]} == {("slow", "blocking")}
    assert all(s["seconds"] >= 2.0 for s in recent if s["type"])
    assert dashboard["scheduler"]["loop_stalls"] >= 2


def test_an_isolated_check_type_runs_out_of_the_event_loop(
    tmp_path: Path, misbehaving_installed: None
) -> None:
    """Point 2: `[scheduler] isolate` runs the blocking check type in a worker process:
    it times out alone, the event loop never stalls, and a sys.exit() there is a result."""
    port = free_port()
    monitors = BLOCKED + (
        '[[monitors]]\nid = "exits"\nname = "Exits"\ntype = "exiting"\n'
        'interval = "2s"\ntimeout = "1s"\n'
    )
    scheduler = 'isolate = ["blocking", "exiting"]\n'
    config = misbehaving_config(tmp_path, port, monitors, scheduler)
    with serving_misbehaving(config, port) as (base, log):
        wait_until(lambda: len(results(config).get("slow", [])) >= 2, timeout=30)
        metrics = httpx.get(f"{base}/metrics").text
    stored = results(config)
    assert {row[0] for row in stored["api"]} == {"up"}
    assert set(stored["slow"]) == {("down", "timeout", "blocking check did not finish within 1s")}
    assert set(stored["exits"]) == {
        ("down", "exception", "check plugin 'exiting' failed: SystemExit: 3")
    }
    assert 'uplight_event_loop_stalls_total{type="blocking"} 0.0' in metrics
    assert "held the event loop" not in log.read_text()


def test_json_logs_are_one_object_a_line(tmp_path: Path, target: str) -> None:
    """`--log-format json` (here through $UPLIGHT_LOG_FORMAT): every line uplight,
    Quart and hypercorn write is one JSON object with time, level, logger, message."""
    port = free_port()
    config = write_config(tmp_path, port, target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "UPLIGHT_LOG_FORMAT": "json"},
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
        proc.send_signal(signal.SIGTERM)
        _, errors = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, errors
    entries = [json.loads(line) for line in errors.splitlines() if line.strip()]
    assert entries, "serve logged nothing"
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["time"].endswith("Z") and entry["level"] in {"debug", "info", "warning"}
    messages = [e["message"] for e in entries]
    assert any(m.startswith("serving on http://127.0.0.1:") for m in messages), messages
    assert any(m.startswith("uplight stopped") for m in messages), messages


def test_a_bad_log_format_is_refused_naming_it(tmp_path: Path, target: str) -> None:
    config = write_config(tmp_path, free_port(), target)
    flag = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config), "--log-format", "xml"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert flag.returncode == 2
    assert "--log-format" in flag.stderr and "'xml'" in flag.stderr
    env = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "UPLIGHT_LOG_FORMAT": "yaml"},
    )
    assert env.returncode == 2
    assert "UPLIGHT_LOG_FORMAT='yaml': use one of text, json" in env.stderr
