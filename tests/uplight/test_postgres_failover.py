"""Two `uplight serve` processes on one PostgreSQL database (the harness's real
server): one leads, the other serves the page and refuses writes; the leader is
killed with SIGKILL, the other takes over within the bound (a killed process's
lock is freed at once, so one ``leader_poll`` and some slack), restores the open
incident from the database, and every notification reaches the webhook receiver
exactly once: the incident's opening (sent by the first leader) and its end (sent
by the second)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from helpers import UPLIGHT, free_port, wait_until
from servers import HttpServer, RecordedRequest, Route
from stored import raw

POLL = 0.5  # [server] leader_poll: the takeover bound after a kill is about this
# The deadline of each wait: the bound (one poll after the kill), plus a process's
# own slack (its next pass, a loaded test machine). A bounded wait, not a timing.
TAKEOVER_DEADLINE = 4 * POLL + 5.0


def _config(tmp_path: Path, target: str, receiver: str, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[server]
leader_poll = "{int(POLL * 1000)}ms"
[storage]
url = "{url}"
[scheduler]
max_jitter = "0s"
[public]
cache_ttl = "200ms"
[[monitors]]
id = "site"
name = "Site"
type = "http"
interval = "1s"
timeout = "1s"
failure_threshold = 1
recovery_threshold = 1
url = "{target}"
[[pages]]
slug = "main"
title = "Failover"
[[pages.components]]
monitor = "site"
[[notifiers]]
id = "hook"
type = "webhook"
url = "{receiver}"
timeout = "2s"
retry_backoff = "200ms"
[defaults]
notify = ["hook"]
"""
    )
    return path


@contextlib.contextmanager
def _server(config: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`uplight serve --listen` until /healthz answers; killed at the end if alive
    (a SIGKILL'd one is what the test is about, so no exit status is asserted). Its
    log goes to a file beside the config: no traceback may be in it."""
    log = config.with_name(f"serve-{port}.log")
    with log.open("wb") as errors:
        proc = subprocess.Popen(
            [
                *UPLIGHT,
                "serve",
                "--config",
                str(config),
                "--log-level",
                "info",
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_until(lambda: _health(port) is not None or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, log.read_text()
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert "Traceback" not in log.read_text(), log.read_text()


def _health(port: int) -> dict[str, object] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def _leads(port: int) -> bool:
    health = _health(port)
    return bool(health and health["leader"])


def _leader_metric(port: int) -> str:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    (line,) = [line for line in text.splitlines() if line.startswith("uplight_leader ")]
    return line.split()[1]


def _events(requests: list[RecordedRequest]) -> list[str]:
    return [r.headers["x-uplight-event"] for r in requests if r.path == "/hook"]


def test_the_follower_takes_over_a_killed_leader_and_each_notification_goes_once(
    tmp_path: Path, postgres_url: str
) -> None:
    target_routes = {"/": Route(200, "ok")}
    with HttpServer(target_routes) as target, HttpServer({"/hook": Route(204)}) as receiver:
        config = _config(tmp_path, target.url(), receiver.url("/hook"), postgres_url)
        port_a, port_b = free_port(), free_port()
        with _server(config, port_a) as first:
            wait_until(lambda: _leads(port_a), timeout=10)
            with _server(config, port_b):
                base_b = f"http://127.0.0.1:{port_b}"
                # B follows: it serves the page and reads, refuses writes and heartbeats.
                assert _health(port_b) == {**(_health(port_a) or {}), "leader": False}
                assert _leader_metric(port_a) == "1.0" and _leader_metric(port_b) == "0.0"
                wait_until(
                    lambda: 'data-status="operational"' in httpx.get(f"{base_b}/status").text
                )
                refused = httpx.post(f"{base_b}/ping/no-such-token")
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "NOT_LEADER"
                assert refused.headers["Retry-After"] == "1"
                # The console's forms get a page a person reads; its sign-in (sessions
                # live in the shared database) is the console's own business.
                form = httpx.post(f"{base_b}/admin/incidents", data={"title": "x"})
                assert form.status_code == 503, form.text
                assert form.headers["content-type"].startswith("text/html")
                assert "nothing was changed" in form.text
                assert form.headers["Retry-After"] == "1"
                sign_in = httpx.post(f"{base_b}/admin/sign-in", data={"token": "nope"})
                assert sign_in.status_code == 403, sign_in.text  # no sign-in form token
                assert (
                    httpx.post(f"http://127.0.0.1:{port_a}/ping/no-such-token").status_code == 404
                )

                # The target fails: A opens the incident and notifies; B's page (its
                # cache recomputed from the database) shows the outage too.
                target.routes["/"] = Route(500, "broken")
                wait_until(lambda: "incident_opened" in _events(receiver.requests), timeout=10)
                wait_until(
                    lambda: 'data-status="major_outage"' in httpx.get(f"{base_b}/status").text,
                    timeout=10,
                )
                # Delivered and marked: the kill below cannot fall between the two.
                wait_until(
                    lambda: (
                        raw(
                            postgres_url,
                            "SELECT count(*) FROM notification_outbox WHERE status = 'sent'",
                        )
                        == [(1,)]
                    ),
                    timeout=10,
                )

                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                killed_at = time.monotonic()
                wait_until(lambda: _leads(port_b), timeout=TAKEOVER_DEADLINE)
                took = time.monotonic() - killed_at
                assert _leader_metric(port_b) == "1.0"

                # B runs the checks now, with the open incident restored: the target
                # recovers, B ends that incident and sends its end, once.
                target.routes["/"] = Route(200, "ok")
                wait_until(lambda: "incident_ended" in _events(receiver.requests), timeout=15)
                wait_until(
                    lambda: (
                        raw(
                            postgres_url,
                            "SELECT count(*) FROM notification_outbox WHERE status != 'sent'",
                        )
                        == [(0,)]
                    ),
                    timeout=10,
                )
                wait_until(
                    lambda: 'data-status="operational"' in httpx.get(f"{base_b}/status").text,
                    timeout=10,
                )

    events = _events(receiver.requests)
    assert events == ["incident_opened", "incident_ended"], events
    keys = [r.headers["idempotency-key"] for r in receiver.requests if r.path == "/hook"]
    assert len(set(keys)) == len(keys) == 2
    incidents = raw(postgres_url, "SELECT count(*), count(ended_at) FROM incidents")
    assert incidents == [(1, 1)]  # one incident, opened by A and ended by B
    bodies = [json.loads(r.body) for r in receiver.requests if r.path == "/hook"]
    assert bodies[0]["incident_id"] == bodies[1]["incident_id"]
    assert took < TAKEOVER_DEADLINE


def test_a_leader_whose_lock_session_ends_stops_leading_and_one_server_leads_again(
    tmp_path: Path, postgres_url: str
) -> None:
    """Fencing: the leader's lock session is ended under it (as when PostgreSQL
    restarts or drops the connection) while the process lives on: it stops its
    leading work at its next poll and serves as a follower; one server leads again."""
    with HttpServer({"/": Route(200, "ok")}) as target, HttpServer({"/hook": Route(204)}) as hook:
        config = _config(tmp_path, target.url(), hook.url("/hook"), postgres_url)
        port_a, port_b = free_port(), free_port()
        with _server(config, port_a), _server(config, port_b):
            wait_until(lambda: _leads(port_a), timeout=10)
            assert not _leads(port_b)
            raw(
                postgres_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'uplight-leader' AND pid != pg_backend_pid()"
                " AND EXISTS (SELECT 1 FROM pg_locks WHERE pg_locks.pid = pg_stat_activity.pid"
                " AND locktype = 'advisory' AND granted)",
            )
            log_a = config.with_name(f"serve-{port_a}.log")
            wait_until(
                lambda: "this server no longer leads" in log_a.read_text(),
                timeout=TAKEOVER_DEADLINE,
            )
            wait_until(lambda: _leads(port_a) != _leads(port_b), timeout=TAKEOVER_DEADLINE)
            held = raw(
                postgres_url,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objid = ?",
                (0x75706C6967687402 & 0xFFFFFFFF,),
            )
            assert held == [(1,)]  # one lock, one leader
