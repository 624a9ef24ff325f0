"""Two real `uplight probe` processes on loopback against a real `uplight serve`.

The target tells the probes apart the way a network path would: by who is asking. It
finds the process that owns the connecting socket (``/proc/net/tcp`` and the probes'
``/proc/PID/fd``) and answers each probe according to its own path's health, so the
same monitor URL is up from one location and down from the other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import UPLIGHT, create_token, free_port, serving, wait_until

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="needs /proc to tell the probes apart"
)


def _socket_inode(client_port: int, server_port: int) -> str | None:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if (
            int(local.split(":")[1], 16) == client_port
            and int(remote.split(":")[1], 16) == server_port
        ):
            return inode
    return None


def _owner(pids: dict[int, str], inode: str) -> str | None:
    wanted = f"socket:[{inode}]"
    for pid, location in pids.items():
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                        return location
    return None


class PathTarget:
    """An HTTP target that answers 200 or 503 per probe location (``broken``)."""

    def __init__(self) -> None:
        self.probes: dict[int, str] = {}  # pid -> location
        self.broken: set[str] = set()
        self.seen: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                inode = _socket_inode(self.client_address[1], owner.port)
                location = _owner(owner.probes, inode) if inode else None
                owner.seen.append(location)
                status = 503 if location is None or location in owner.broken else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


CONFIG = """
[server]
listen = "127.0.0.1:{port}"
[storage]
path = "uplight.db"
[[monitors]]
id = "edge"
name = "Edge"
type = "http"
url = "http://127.0.0.1:{target}/"
interval = "1s"
timeout = "1s"
failure_threshold = 1
locations = ["home", "fra1"]
quorum_window = "3s"
"""


def token(config: Path, location: str) -> str:
    return create_token(config, location, "--probe")


@contextlib.contextmanager
def probe(
    port: int, probe_token: str, location: str, spool: Path
) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [
            *UPLIGHT,
            "probe",
            "--server",
            f"http://127.0.0.1:{port}",
            "--token",
            probe_token,
            "--location",
            location,
            "--spool",
            str(spool),
            "--send-interval",
            "0.2",
            "--retry-interval",
            "0.3",
            "--poll-interval",
            "1",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, errors = proc.communicate(timeout=15)
        assert "Traceback" not in errors, errors
        assert proc.returncode == 0, errors


def admin(port: int, admin_token: str, path: str) -> Any:
    response = httpx.get(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    response.raise_for_status()
    return response.json()


def edge(port: int, admin_token: str) -> dict[str, Any]:
    items = admin(port, admin_token, "/api/v1/monitors")["items"]
    return next(m for m in items if m["id"] == "edge")


def open_incidents(port: int, admin_token: str) -> list[Any]:
    return admin(port, admin_token, "/api/v1/incidents?active=true")["items"]


@pytest.fixture
def target() -> Iterator[PathTarget]:
    found = PathTarget()
    yield found
    found.close()


def setup(tmp_path: Path, target: PathTarget) -> tuple[Path, int]:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=port, target=target.port))
    return config, port


def admin_token(config: Path) -> str:
    return create_token(config, "admin")


def test_quorum_one_bad_path_opens_nothing_both_open_an_incident(
    tmp_path: Path, target: PathTarget
) -> None:
    config, port = setup(tmp_path, target)
    admin_key = admin_token(config)
    home_key, fra1_key = token(config, "home"), token(config, "fra1")
    with (
        serving(config, port),
        probe(port, home_key, "home", tmp_path / "home.spool") as home,
        probe(port, fra1_key, "fra1", tmp_path / "fra1.spool") as fra1,
    ):
        target.probes.update({home.pid: "home", fra1.pid: "fra1"})
        wait_until(
            lambda: (
                "fra1: up" in (edge(port, admin_key)["last_result"] or {}).get("message", "")
                and "home: up" in edge(port, admin_key)["last_result"]["message"]
            )
        )
        target.broken.add("fra1")
        wait_until(lambda: "fra1: down" in edge(port, admin_key)["last_result"]["message"])
        # Seen down from fra1 for a few joined results: the joined state stays up.
        for _ in range(3):
            wait_until(lambda: "fra1: down" in edge(port, admin_key)["last_result"]["message"])
        last = edge(port, admin_key)["last_result"]
        assert last["status"] == "up", last
        assert open_incidents(port, admin_key) == []
        # A probe token is not an admin token.
        refused = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/monitors",
            headers={"Authorization": f"Bearer {home_key}"},
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
        target.broken.add("home")
        wait_until(lambda: len(open_incidents(port, admin_key)) == 1)
        assert edge(port, admin_key)["last_result"]["status"] == "down"
    assert {"home", "fra1"} <= set(target.seen)


def spooled(spool: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(spool)) as db:
        return [row[0] for row in db.execute("SELECT id FROM pending ORDER BY seq")]


def stored(database: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [row[0] for row in db.execute("SELECT result_id FROM location_results")]


def test_the_spool_survives_the_server_down_and_a_probe_restart(
    tmp_path: Path, target: PathTarget
) -> None:
    config, port = setup(tmp_path, target)
    database = tmp_path / "uplight.db"
    home_key = token(config, "home")
    spool = tmp_path / "home.spool"
    with probe(port, home_key, "home", spool) as home:  # the probe outlives the server
        target.probes[home.pid] = "home"
        with serving(config, port):
            wait_until(lambda: len(stored(database)) >= 2)
        early = set(stored(database))
        wait_until(lambda: len(spooled(spool)) >= 3)  # the server is down: kept on disk
    waiting = spooled(spool)
    assert len(waiting) >= 3
    # Restarted with the server still down: it checks its saved assignment meanwhile.
    with probe(port, home_key, "home", spool) as home:
        target.probes[home.pid] = "home"
        wait_until(lambda: len(spooled(spool)) >= len(waiting) + 2)
        with serving(config, port):
            wait_until(lambda: set(waiting) <= set(stored(database)))
            wait_until(lambda: len(spooled(spool)) <= 2)  # the backlog is sent
    ids = stored(database)
    assert len(ids) == len(set(ids))  # nothing stored twice
    assert early | set(waiting) <= set(ids)  # nothing lost
    assert set(spooled(spool)).isdisjoint(ids)  # what is left was never stored


def test_the_probe_follows_a_reload(tmp_path: Path, target: PathTarget) -> None:
    config, port = setup(tmp_path, target)
    database = tmp_path / "uplight.db"
    home_key = token(config, "home")

    def monitors_stored() -> set[str]:
        with contextlib.closing(sqlite3.connect(database)) as db:
            return {
                row[0] for row in db.execute("SELECT DISTINCT monitor_id FROM location_results")
            }

    with serving(config, port) as server, probe(port, home_key, "home", tmp_path / "s") as home:
        target.probes[home.pid] = "home"
        wait_until(lambda: monitors_stored() == {"edge"})
        config.write_text(
            config.read_text() + f'[[monitors]]\nid = "api"\nname = "API"\ntype = "http"\n'
            f'url = "http://127.0.0.1:{target.port}/api"\ninterval = "1s"\ntimeout = "1s"\n'
            'locations = ["home"]\n'
        )
        server.send_signal(signal.SIGHUP)
        wait_until(lambda: monitors_stored() == {"edge", "api"})
