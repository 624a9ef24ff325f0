"""`[server] event_loop`: uvloop (the `fast` extra) or asyncio's own loop under `uplight serve`."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import free_port, wait_until

from uplight.config import Config, ConfigError
from uplight.eventloop import EventLoopUnavailable, resolve, uvloop_installed

needs_uvloop = pytest.mark.skipif(
    not uvloop_installed(), reason="uvloop is not installed (pip install 'uplight[fast]')"
)

# Runs the CLI with uvloop unimportable, as on an install without the `fast` extra:
# a None in sys.modules makes both find_spec and import treat it as absent.
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None; from uplight.cli import main; sys.exit(main())"
)


def write_config(tmp_path: Path, port: int, event_loop: str | None) -> Path:
    path = tmp_path / "config.toml"
    setting = f'event_loop = "{event_loop}"' if event_loop else ""
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:{port}"
{setting}
[storage]
path = "uplight.db"
[scheduler]
max_jitter = "0s"
[public]
cache_ttl = "500ms"
[public.rate_limit]
enabled = false
[[monitors]]
id = "self"
name = "Itself"
type = "http"
interval = "1s"
timeout = "1s"
url = "http://127.0.0.1:{port}/healthz"
[[pages]]
slug = "main"
title = "Loop test"
[[pages.components]]
monitor = "self"
"""
    )
    return path


def serve(
    config: Path, *args: str, env: dict[str, str] | None = None, uvloop: bool = True
) -> subprocess.Popen[str]:
    uplight = ["-m", "uplight"] if uvloop else ["-c", WITHOUT_UVLOOP]
    return subprocess.Popen(
        [sys.executable, *uplight, "serve", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def stopped(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    return output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(config: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        procs.append(proc := serve(config, *args, **kwargs))
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_uvloop
def test_serve_on_uvloop_serves_reloads_and_stops_cleanly(
    tmp_path: Path, served: Callable[..., subprocess.Popen[str]]
) -> None:
    port = free_port()
    config = write_config(tmp_path, port, "uvloop")
    proc = served(config)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: 'data-status="operational"' in httpx.get(f"{base}/status").text)
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    renamed = config.read_text().replace('title = "Loop test"', 'title = "Renamed"')
    config.write_text(renamed.replace('event_loop = "uvloop"', 'event_loop = "asyncio"'))
    proc.send_signal(signal.SIGHUP)  # the handler is the loop's, uvloop's here
    wait_until(lambda: "Renamed" in httpx.get(f"{base}/status").text)
    output = stopped(proc)
    assert "(event loop: uvloop " in output
    assert "config reloaded" in output
    assert "server.event_loop changed from uvloop to asyncio: it takes effect at the next" in output
    db = sqlite3.connect(tmp_path / "uplight.db")
    flushed = db.execute("SELECT sum(checks_total) FROM daily_rollups").fetchone()[0]
    assert flushed and flushed >= 1  # SIGTERM flushed the results


@needs_uvloop
def test_auto_picks_uvloop_when_it_is_installed(
    tmp_path: Path, served: Callable[..., subprocess.Popen[str]]
) -> None:
    assert resolve("auto") == "uvloop"
    port = free_port()
    proc = served(write_config(tmp_path, port, None))  # event_loop unset: auto
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
    assert "(event loop: uvloop " in stopped(proc)


def test_asyncio_turns_uvloop_off(
    tmp_path: Path, served: Callable[..., subprocess.Popen[str]]
) -> None:
    port = free_port()
    proc = served(write_config(tmp_path, port, "uvloop"), env={"UPLIGHT_EVENT_LOOP": "asyncio"})
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/status").status_code == 200)
    assert "(event loop: asyncio)" in stopped(proc)


def test_auto_without_uvloop_runs_on_asyncio(
    tmp_path: Path, served: Callable[..., subprocess.Popen[str]]
) -> None:
    port = free_port()
    proc = served(write_config(tmp_path, port, "auto"), uvloop=False)
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
    assert "(event loop: asyncio)" in stopped(proc)


def without_uvloop(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_UVLOOP, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_uvloop_when_it_is_not_installed_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(), "uvloop")
    for command in (["serve", "--config", str(config)], ["check-config", str(config)]):
        done = without_uvloop(*command)
        assert done.returncode == 1, done.stderr
        assert "server.event_loop" in done.stderr
        assert "uvloop is not installed: pip install 'uplight[fast]'" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "uplight.db").exists()  # refused before anything started

    # Asked for by the environment: the error names the variable, not the file's key.
    done = without_uvloop(
        "serve", "--config", str(write_config(tmp_path, free_port(), None)),
        env={"UPLIGHT_EVENT_LOOP": "uvloop"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "UPLIGHT_EVENT_LOOP" in done.stderr and "not installed" in done.stderr


def test_resolve_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert resolve("auto") == "asyncio"
    assert resolve("asyncio") == "asyncio"
    with pytest.raises(EventLoopUnavailable, match=r"uplight\[fast\]"):
        resolve("uvloop")


def test_an_unknown_event_loop_is_an_error_naming_it(
    tmp_path: Path, make_config: Callable[[str], Config]
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_config('[server]\nevent_loop = "trio"\n')
    assert "server.event_loop" in str(raised.value)

    config = write_config(tmp_path, free_port(), None)
    done = subprocess.run(
        [sys.executable, "-m", "uplight", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "UPLIGHT_EVENT_LOOP": "trio"},
    )
    assert done.returncode == 2
    assert "UPLIGHT_EVENT_LOOP='trio'" in done.stderr


def test_listen_override_keeps_the_event_loop(make_config: Callable[[str], Config]) -> None:
    config = make_config('[server]\nevent_loop = "asyncio"\nlocation = "attic"\n')
    moved = config.with_listen("0.0.0.0:9090").server
    assert (moved.event_loop, moved.location, moved.port) == ("asyncio", "attic", 9090)
